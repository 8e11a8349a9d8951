package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/optimize"
	"github.com/sluicelake/sluice/query"
	"github.com/sluicelake/sluice/table"
)

// customer is the oracle's row of the source table.
type customer struct {
	name  string
	email string // "" for null
}

// debeziumStream produces Debezium change events of a customers table to topic, keyed
// by {"id": n} as Debezium keys them: a snapshot, then inserts, updates (some of
// them changing the key: a delete of the old key and an insert of the new), deletes
// with their tombstones, and, from the second half on, a new column (email) as when
// the source table gains one. Events use the three JSON shapes: the plain envelope,
// the JsonConverter's schema/payload wrapper, and ExtractNewRecordState's flattened
// row. It returns the source table after the stream.
func debeziumStream(t *testing.T, src *cdcSource, topic string, n int, produceFn func(...*kgo.Record)) {
	rng, rows := src.rng, src.rows
	var recs []*kgo.Record
	emit := func(id int, value string) {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, `{"id":%d}`, id), Value: []byte(value)})
	}
	row := func(id int, c customer) string {
		if c.email == "" {
			return fmt.Sprintf(`{"id":%d,"name":%q}`, id, c.name)
		}
		return fmt.Sprintf(`{"id":%d,"name":%q,"email":%q}`, id, c.name, c.email)
	}
	event := func(op string, id int, before, after *customer) {
		src.lsn++
		lsn := src.lsn
		b, a := "null", "null"
		if before != nil {
			b = row(id, *before)
		}
		if after != nil {
			a = row(id, *after)
		}
		env := fmt.Sprintf(`{"before":%s,"after":%s,"source":{"connector":"postgresql","ts_ms":%d,"lsn":%d},"op":%q,"ts_ms":%d}`,
			b, a, 1700000000000+lsn, lsn, op, 1700000000000+lsn)
		switch rng.IntN(3) {
		case 0:
			emit(id, env)
		case 1:
			emit(id, `{"schema":{"type":"struct","name":"dbserver1.inventory.customers.Envelope"},"payload":`+env+`}`)
		default: // flattened
			if op == "d" {
				emit(id, fmt.Sprintf(`{"id":%d,"__deleted":"true","__op":"d","__lsn":%d}`, id, lsn))
			} else {
				r := row(id, *after)
				emit(id, r[:len(r)-1]+fmt.Sprintf(`,"__deleted":"false","__op":%q,"__lsn":%d}`, op, lsn))
			}
		}
		if op == "d" {
			recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, `{"id":%d}`, id)}) // the tombstone
		}
	}
	if src.next == 0 {
		for id := 1; id <= 50; id++ {
			c := customer{name: fmt.Sprintf("c%d", id)}
			rows[id] = c
			event("r", id, nil, &c)
		}
		src.next = 51
	}
	next := src.next
	defer func() { src.next = next }()
	for i := src.i; i < src.i+n; i++ {
		ids := make([]int, 0, len(rows))
		for id := range rows {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		email := ""
		if i > 500 {
			email = fmt.Sprintf("e%d@example.com", i)
		}
		switch r := rng.IntN(10); {
		case r < 2 || len(ids) == 0:
			c := customer{name: fmt.Sprintf("n%d", i), email: email}
			rows[next] = c
			event("c", next, nil, &c)
			next++
		case r < 8:
			id := ids[rng.IntN(len(ids))]
			old, c := rows[id], customer{name: fmt.Sprintf("u%d", i), email: email}
			rows[id] = c
			event("u", id, &old, &c)
		case r < 9:
			id := ids[rng.IntN(len(ids))]
			old := rows[id]
			delete(rows, id)
			event("d", id, &old, nil)
		default: // the key changes: Debezium sends a delete of the old key and an insert of the new
			id := ids[rng.IntN(len(ids))]
			old := rows[id]
			delete(rows, id)
			event("d", id, &old, nil)
			c := customer{name: old.name, email: email}
			rows[next] = c
			event("c", next, nil, &c)
			next++
		}
		if len(recs) >= 200 {
			produceFn(recs...)
			recs = nil
		}
	}
	produceFn(recs...)
	src.i += n
}

// cdcSource is the source table a debeziumStream changes, across calls.
type cdcSource struct {
	rng  *rand.Rand
	rows map[int]customer
	next int // the next new id
	lsn  int
	i    int // changes so far
}

// readCustomers reads the table's current rows (deletion vectors applied) through
// DuckDB.
func readCustomers(t *testing.T, location string) map[int]customer {
	t.Helper()
	got, err := readCustomersErr(location)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func compareCustomers(t *testing.T, got, want map[int]customer) {
	t.Helper()
	var diffs []string
	for id, w := range want {
		if g, ok := got[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("id %d missing (want %+v)", id, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("id %d is %+v, want %+v", id, g, w))
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			diffs = append(diffs, fmt.Sprintf("id %d (%+v) should be deleted", id, g))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		t.Fatalf("%d rows differ from the source table:\n%s", len(diffs), strings.Join(diffs[:min(20, len(diffs))], "\n"))
	}
}

// A Debezium topic of a customers table (JSON, all three shapes, a column added
// mid-stream) lands in an upsert table that holds the source table's rows: updates
// replace rows, deletes and tombstones remove them, key changes move them. The
// stream is ingested in three runs (a restart between each), and auto-optimize runs
// on the table meanwhile; DuckDB reads the result with the deletion vectors applied.
// The same topic also lands in a changelog table with every change as a row.
func TestDebeziumUpsert(t *testing.T) {
	const topic = "dbserver1.inventory.customers"
	cluster := newCluster(t, topic, 3)
	cl := kgoClient(t, cluster)
	src := &cdcSource{rng: rand.New(rand.NewPCG(7, 7)), rows: map[int]customer{}, lsn: 1000}
	dir := t.TempDir()
	upsertLoc, changelogLoc := filepath.Join(dir, "customers"), filepath.Join(dir, "history")
	cfg := parseConfig(t, fmt.Sprintf(`
name: cdc
kafka: {bootstrap_servers: %s}
tables:
  - name: customers
    topics: [%s]
    location: %s
    mode: upsert
    key: [id]
    envelope: debezium
    schema: [{name: id, type: long, nullable: false}, {name: name, type: string}]
    json: {unknown_fields: evolve}
    flush: {max_rows: 70}
    maintenance: {optimize: {min_files: 4, interval: 1s}}
  - name: history
    topics: [%s]
    location: %s
    mode: changelog
    envelope: debezium
    schema: [{name: id, type: long, nullable: false}, {name: name, type: string}]
    json: {unknown_fields: evolve}
    flush: {max_rows: 500}
`, cluster.ListenAddrs()[0], topic, upsertLoc, topic, changelogLoc))
	produceFn := func(recs ...*kgo.Record) {
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	want := src.rows
	for run := range 3 {
		debeziumStream(t, src, topic, 400, produceFn)
		sum := runUntilCaughtUp(t, cfg)
		t.Logf("run %d: %d rows committed", run, sum.Rows)
		compareCustomers(t, readCustomers(t, upsertLoc), want)
	}
	store, snap := loadTable(t, upsertLoc)
	if snap.Protocol().MinReaderVersion != 3 || !strings.Contains(fmt.Sprint(snap.Protocol().ReaderFeatures), "deletionVectors") {
		t.Fatalf("protocol %+v: want deletion vectors", snap.Protocol())
	}
	if snap.Schema().Field("email") == nil {
		t.Fatal("the email column the source gained mid-stream is not in the table")
	}
	dvs := 0
	for _, f := range snap.Files() {
		if f.DeletionVector != nil {
			dvs++
		}
	}
	h, err := table.History(context.Background(), store, 0)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, e := range h {
		if e.CommitInfo != nil {
			ops[e.CommitInfo.Operation]++
		}
	}
	t.Logf("upsert table: version %d, %d files (%d with deletion vectors), commits %v", snap.Version(), snap.NumFiles(), dvs, ops)
	if ops["MERGE"] == 0 {
		t.Fatalf("commits %v: want MERGE commits", ops)
	}
	// Optimize purges the deleted rows and keeps the current ones.
	if _, err := optimize.Run(context.Background(), table.New(store), optimize.Options{MinFiles: 1}, nil); err != nil {
		t.Fatal(err)
	}
	compareCustomers(t, readCustomers(t, upsertLoc), want)

	// The changelog table holds one row per change: update events with a before image
	// give two rows, tombstones none.
	db := duck(t, changelogLoc)
	var total, pre, post, deletes, snaps int
	err = db.QueryRow(`SELECT count(*), count(*) FILTER (_change_type = 'update_preimage'), count(*) FILTER (_change_type = 'update_postimage'),
		count(*) FILTER (_change_type = 'delete'), count(*) FILTER (_change_type = 'snapshot') FROM events`).Scan(&total, &pre, &post, &deletes, &snaps)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("changelog: %d rows: %d update pre, %d post, %d deletes, %d snapshot reads", total, pre, post, deletes, snaps)
	if snaps != 50 || post == 0 || deletes == 0 || pre == 0 || pre > post {
		t.Fatalf("changelog counts: %d rows, %d pre, %d post, %d deletes, %d snapshot reads", total, pre, post, deletes, snaps)
	}
	var withPos int
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE _change_position IS NOT NULL AND _change_ts > TIMESTAMP '2023-11-01'`).Scan(&withPos); err != nil {
		t.Fatal(err)
	}
	if withPos == 0 {
		t.Fatal("no changelog row has the source's position and commit time")
	}
}

// upsert_strategy: copy_on_write gives the same rows as merge-on-read, with no
// deletion vector in the table and its protocol left as readers without them need.
func TestDebeziumUpsertCopyOnWrite(t *testing.T) {
	const topic = "dbserver1.inventory.customers"
	cluster := newCluster(t, topic, 2)
	cl := kgoClient(t, cluster)
	src := &cdcSource{rng: rand.New(rand.NewPCG(9, 9)), rows: map[int]customer{}, lsn: 1000}
	location := filepath.Join(t.TempDir(), "customers")
	cfg := parseConfig(t, fmt.Sprintf(`
name: cdc-cow
kafka: {bootstrap_servers: %s}
tables:
  - name: customers
    topics: [%s]
    location: %s
    mode: upsert
    upsert_strategy: copy_on_write
    envelope: debezium
    schema: [{name: id, type: long, nullable: false}, {name: name, type: string}]
    json: {unknown_fields: evolve}
    flush: {max_rows: 80}
`, cluster.ListenAddrs()[0], topic, location))
	for run := range 2 {
		debeziumStream(t, src, topic, 300, func(recs ...*kgo.Record) {
			if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		})
		runUntilCaughtUp(t, cfg)
		compareCustomers(t, readCustomers(t, location), src.rows)
		_, snap := loadTable(t, location)
		for _, f := range snap.Files() {
			if f.DeletionVector != nil {
				t.Fatalf("run %d: file %s has a deletion vector under copy_on_write", run, f.Path)
			}
		}
		if p := snap.Protocol(); p.MinReaderVersion != 1 {
			t.Fatalf("run %d: protocol %+v: want reader version 1 (no deletion vectors)", run, p)
		}
	}
}

// connectEnvelope is a JsonConverter message (schemas.enable=true) of a Debezium event
// whose row has the given Connect fields.
func connectEnvelope(rowFields, payload string) string {
	row := `{"type":"struct","optional":true,"name":"dbserver1.inventory.customers.Value","field":"%s","fields":[` + rowFields + `]}`
	return `{"schema":{"type":"struct","name":"dbserver1.inventory.customers.Envelope","optional":false,"fields":[` +
		fmt.Sprintf(row, "before") + `,` + fmt.Sprintf(row, "after") + `,
		{"type":"struct","field":"source","optional":false,"fields":[{"type":"int64","field":"ts_ms","optional":false},{"type":"int64","field":"lsn","optional":true}]},
		{"type":"string","field":"op","optional":false},{"type":"int64","field":"ts_ms","optional":true}]},"payload":` + payload + `}`
}

// A Debezium topic in the JsonConverter's format with schemas, and no declared
// columns: the table is created from the schema of the first event's row (Connect
// types and Debezium's time types mapped), and evolves when the source table gains a
// column (a new schema block).
func TestDebeziumJSONConnectSchema(t *testing.T) {
	const topic = "dbserver1.inventory.customers"
	cluster := newCluster(t, topic, 1)
	v1 := `{"type":"int32","field":"id","optional":false},{"type":"string","field":"name","optional":true},
		{"type":"int64","name":"io.debezium.time.Timestamp","field":"created","optional":true},
		{"type":"int32","name":"io.debezium.time.Date","field":"birthday","optional":true}`
	v2 := v1 + `,{"type":"string","field":"email","optional":true}`
	key := func(id int) []byte {
		return fmt.Appendf(nil, `{"schema":{"type":"struct","fields":[{"type":"int32","field":"id","optional":false}]},"payload":{"id":%d}}`, id)
	}
	msgs := []struct {
		id  int
		val string
	}{
		{1, connectEnvelope(v1, `{"before":null,"after":{"id":1,"name":"a","created":1700000000000,"birthday":19000},"source":{"ts_ms":1700000000000,"lsn":10},"op":"r","ts_ms":1}`)},
		{2, connectEnvelope(v1, `{"before":null,"after":{"id":2,"name":"b","created":null,"birthday":null},"source":{"ts_ms":1700000000001,"lsn":11},"op":"c","ts_ms":2}`)},
		{1, connectEnvelope(v2, `{"before":{"id":1,"name":"a","created":1700000000000,"birthday":19000,"email":null},"after":{"id":1,"name":"a2","created":1700000000000,"birthday":19000,"email":"a@example.com"},"source":{"ts_ms":1700000000002,"lsn":12},"op":"u","ts_ms":3}`)},
		{2, connectEnvelope(v2, `{"before":{"id":2,"name":"b","created":null,"birthday":null,"email":null},"after":null,"source":{"ts_ms":1700000000003,"lsn":13},"op":"d","ts_ms":4}`)},
		{3, connectEnvelope(v2, `{"before":null,"after":{"id":3,"name":"c","created":1700000003000,"birthday":null,"email":"c@example.com"},"source":{"ts_ms":1700000000004,"lsn":14},"op":"c","ts_ms":5}`)},
	}
	var recs []*kgo.Record
	for _, m := range msgs {
		recs = append(recs, &kgo.Record{Topic: topic, Key: key(m.id), Value: []byte(m.val)})
	}
	recs = append(recs, &kgo.Record{Topic: topic, Key: key(2)}) // the delete's tombstone
	produce(t, cluster, recs...)
	location := filepath.Join(t.TempDir(), "customers")
	cfg := parseConfig(t, fmt.Sprintf(`
name: cdc-connect
kafka: {bootstrap_servers: %s}
tables:
  - name: customers
    topics: [%s]
    location: %s
    mode: upsert
    envelope: debezium
`, cluster.ListenAddrs()[0], topic, location))
	runUntilCaughtUp(t, cfg)
	_, snap := loadTable(t, location)
	var cols []string
	for _, f := range snap.Schema().Fields {
		cols = append(cols, f.Name+" "+f.Type.String())
	}
	if got := strings.Join(cols, ", "); got != "id integer, name string, created timestamp, birthday date, email string" {
		t.Fatalf("columns: %s", got)
	}
	var out string
	err := duck(t, location).QueryRow(`SELECT string_agg(id || ':' || name || ':' || coalesce(email, '-') || ':' || coalesce(strftime(created AT TIME ZONE 'UTC', '%Y-%m-%d'), '-') || ':' || coalesce(birthday::VARCHAR, '-'), ' ' ORDER BY id) FROM events`).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "1:a2:a@example.com:2023-11-14:2022-01-08 3:c:c@example.com:2023-11-14:-"; out != want {
		t.Fatalf("rows %q, want %q", out, want)
	}
}

// The real binary upserts a Debezium topic and is killed with SIGKILL twice while the
// stream goes on (no flush, no shutdown: whatever was in flight is lost to the
// process); after each restart it continues from the table's txns. The table then
// equals the source table: no change lost, none applied twice.
func TestUpsertKill9(t *testing.T) {
	const topic = "dbserver1.inventory.customers"
	cluster := newCluster(t, topic, 3)
	cl := kgoClient(t, cluster)
	src := &cdcSource{rng: rand.New(rand.NewPCG(11, 11)), rows: map[int]customer{}, lsn: 1000}
	location := filepath.Join(t.TempDir(), "customers")
	config := fmt.Sprintf(`
name: cdc-kill
kafka:
  bootstrap_servers: %s
  properties: {session.timeout.ms: "6000", max.poll.interval.ms: "6000"}
tables:
  - name: customers
    topics: [%s]
    location: %s
    mode: upsert
    key: [id]
    envelope: debezium
    schema: [{name: id, type: long, nullable: false}, {name: name, type: string}]
    json: {unknown_fields: evolve}
    flush: {max_rows: 40, max_latency: 50ms}
`, cluster.ListenAddrs()[0], topic, location)
	produceFn := func(recs ...*kgo.Record) {
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	version := func() int64 {
		if _, snap := loadTableIfExists(location); snap != nil {
			return snap.Version()
		}
		return -1
	}
	for kill := range 2 {
		before := version()
		p := startSluice(t, config)
		debeziumStream(t, src, topic, 300, produceFn)
		// Kill it once this run committed (a restart waits out the killed member's
		// session first), while it has more in flight.
		waitFor(t, time.Minute, "a commit by this run", func() bool { return version() > before+1 })
		debeziumStream(t, src, topic, 200, produceFn)
		time.Sleep(30 * time.Millisecond)
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-p.done
		t.Logf("kill %d at table version %d", kill, version())
	}
	addr := freeAddr(t)
	p := startSluice(t, strings.Replace(config, "kafka:\n", fmt.Sprintf("metrics: {listen: %q}\nkafka:\n", addr), 1))
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last check: %s", last)
		}
	})
	waitFor(t, time.Minute, "the table equals the source table", func() bool {
		got, err := readCustomersErr(location)
		if err != nil {
			last = err.Error()
			return false
		}
		if len(got) != len(src.rows) {
			last = fmt.Sprintf("%d rows, want %d", len(got), len(src.rows))
			return false
		}
		for id, c := range src.rows {
			if got[id] != c {
				last = fmt.Sprintf("id %d is %+v, want %+v", id, got[id], c)
				return false
			}
		}
		return true
	})
	// The change metrics of the last run: changes by type, rows replaced, files
	// touched per flush, key-lookup time.
	for _, sample := range []string{`sluice_changes_total{table="customers",type="update"}`, `sluice_changes_total{table="customers",type="delete"}`,
		`sluice_upsert_rows_deleted_total{table="customers"}`, `sluice_upsert_files_touched_count{table="customers"}`,
		`sluice_key_lookup_duration_seconds_count{table="customers"}`} {
		if v, ok := metric(addr, sample); !ok || v <= 0 {
			t.Errorf("metric %s = %v (found %v), want > 0", sample, v, ok)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.done
	compareCustomers(t, readCustomers(t, location), src.rows)
}

// readCustomersErr is readCustomers for polling: errors are returned.
func readCustomersErr(location string) (map[int]customer, error) {
	store, snap := loadTableIfExists(location)
	if snap == nil {
		return nil, fmt.Errorf("no table")
	}
	db, err := query.OpenDB()
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := query.Register(context.Background(), db, "events", store, snap); err != nil {
		return nil, err
	}
	email := "''"
	if snap.Schema().Field("email") != nil {
		email = "coalesce(email, '')"
	}
	rs, err := db.Query(`SELECT id, name, ` + email + ` FROM events`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	got := map[int]customer{}
	for rs.Next() {
		var id int
		var c customer
		if err := rs.Scan(&id, &c.name, &c.email); err != nil {
			return nil, err
		}
		if _, dup := got[id]; dup {
			return nil, fmt.Errorf("id %d twice", id)
		}
		got[id] = c
	}
	return got, rs.Err()
}

// event_time makes a timestamp column, not the Kafka timestamp, the event time of the
// freshness metrics: the newest committed value of the column.
func TestEventTimeFreshness(t *testing.T) {
	cluster := newCluster(t, "events", 2)
	produce(t, cluster, events("events", 0, 500)...) // ts from 2024-06-01, 37 s apart
	location := filepath.Join(t.TempDir(), "events")
	addr := freeAddr(t)
	cfg := parseConfig(t, fmt.Sprintf(`
name: fresh
kafka: {bootstrap_servers: %s}
metrics: {listen: %q}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}, {name: ts, type: timestamp}]
    event_time: ts
    flush: {max_latency: 200ms}
`, cluster.ListenAddrs()[0], addr, location))
	r := startConnector(t, cfg, testLogger(t))
	want := float64(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).Add(499 * 37 * time.Second).Unix())
	var newest, fresh float64
	waitFor(t, time.Minute, "the newest event time is the newest ts", func() bool {
		newest, _ = metric(addr, `sluice_newest_event_timestamp_seconds{table="events"}`)
		fresh, _ = metric(addr, `sluice_freshness_seconds{table="events"}`)
		return newest == want
	})
	if age := time.Since(time.Unix(int64(want), 0)).Seconds(); fresh < age-60 || fresh > age+60 {
		t.Fatalf("freshness %v s, want about %v s (now minus the newest ts)", fresh, age)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
}
