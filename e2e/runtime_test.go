package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicelake/sluice/connector"
)

func parseConfig(t testing.TB, text string) *connector.Config {
	t.Helper()
	cfg, err := connector.ParseConfig("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func countRows(t *testing.T, location, where string) int {
	t.Helper()
	return countRowsNamed(t, location, "events", where)
}

func countRowsNamed(t *testing.T, location, name, where string) int {
	t.Helper()
	var n int
	q := "SELECT count(*) FROM " + name
	if where != "" {
		q += " WHERE " + where
	}
	store, snap := loadTable(t, location)
	if err := duckNamed(t, store, snap, name).QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMultiTopicAndRouteBy: two topics into one table, and one topic split into two
// tables by a field; a message no table selects goes to the first table's dead letters.
func TestMultiTopicAndRouteBy(t *testing.T) {
	cluster := newCluster(t, "orders", 2)
	admin := kgoClient(t, cluster)
	createTopic(t, admin, "clicks", 2)
	createTopic(t, admin, "mixed", 3)
	var recs []*kgo.Record
	for i := range 300 {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, `{"id":%d,"src":"orders"}`, i)})
		recs = append(recs, &kgo.Record{Topic: "clicks", Value: fmt.Appendf(nil, `{"id":%d,"src":"clicks"}`, i)})
		kind := []string{"a", "b", "b"}[i%3]
		if i%50 == 0 {
			kind = "zzz" // no table selects it
		}
		recs = append(recs, &kgo.Record{Topic: "mixed", Value: fmt.Appendf(nil, `{"id":%d,"type":%q}`, i, kind)})
	}
	produce(t, cluster, recs...)
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: multi
kafka: {bootstrap_servers: %s}
tables:
  - name: all
    topics: [orders, clicks]
    location: %s/all
    schema: [{name: id, type: long}, {name: src, type: string}]
    kafka_columns: true
  - name: a
    topics: [mixed]
    location: %s/a
    schema: [{name: id, type: long}, {name: type, type: string}]
    route_by: {field: type, values: [a]}
    on_error: dlq
    dlq: {location: %s/a_dlq}
  - name: b
    topics: [mixed]
    location: %s/b
    schema: [{name: id, type: long}, {name: type, type: string}]
    route_by: {field: type, values: [b]}
`, cluster.ListenAddrs()[0], dir, dir, dir, dir))
	runUntilCaughtUp(t, cfg)

	if n := countRows(t, dir+"/all", ""); n != 600 {
		t.Fatalf("table all: %d rows, want 600", n)
	}
	if n := countRows(t, dir+"/all", "src = _kafka_topic"); n != 600 {
		t.Fatalf("table all: %d rows with src = topic, want 600", n)
	}
	a, b := countRows(t, dir+"/a", "type = 'a'"), countRows(t, dir+"/b", "type = 'b'")
	unrouted := 6 // ids 0, 50, …, 250
	if a+b+unrouted != 300 || countRows(t, dir+"/a", "") != a || countRows(t, dir+"/b", "") != b {
		t.Fatalf("route_by: a=%d b=%d (+%d unrouted), want 300 in all", a, b, unrouted)
	}
	if n := countRows(t, dir+"/a_dlq", "stage = 'route'"); n != unrouted {
		t.Fatalf("dead letters: %d, want %d unrouted messages", n, unrouted)
	}
	// Every offset of "mixed" is accounted for in both routed tables' txns.
	for _, loc := range []string{"/a", "/b"} {
		_, snap := loadTable(t, dir+loc)
		total := int64(0)
		for p := range 3 {
			v, ok := snap.Txn(fmt.Sprintf("multi:mixed:%d", p))
			if !ok {
				t.Fatalf("%s: no txn for partition %d", loc, p)
			}
			total += v + 1
		}
		if total != 300 {
			t.Fatalf("%s: txns cover %d offsets, want 300", loc, total)
		}
	}
}

// TestOnErrorPolicies sends poison messages (malformed JSON, a wrong type, a missing
// required field, a tombstone) between good ones, under each policy (on_tombstone set
// to the same); every offset ends in the table, in the dead-letter target, or the
// connector stops before it.
func TestOnErrorPolicies(t *testing.T) {
	poison := map[int][]byte{7: []byte(`{"id":`), 19: []byte(`{"id":"x"}`), 33: []byte(`{"user":"nobody"}`), 48: nil}
	for _, policy := range []string{"skip", "dlq-topic", "dlq-table", "fail"} {
		t.Run(policy, func(t *testing.T) {
			cluster := newCluster(t, "events", 1)
			var recs []*kgo.Record
			for i := range 60 {
				v := fmt.Appendf(nil, `{"id":%d,"user":"u%d"}`, i, i)
				if p, ok := poison[i]; ok {
					v = p
				}
				recs = append(recs, &kgo.Record{Topic: "events", Key: fmt.Appendf(nil, "k%d", i), Value: v,
					Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}})
			}
			produce(t, cluster, recs...)
			dir := t.TempDir()
			onError := policy
			dlq := ""
			switch policy {
			case "dlq-topic":
				onError, dlq = "dlq", "dlq: {topic: events-dlq}"
				createTopic(t, kgoClient(t, cluster), "events-dlq", 1)
			case "dlq-table":
				onError, dlq = "dlq", "dlq: {location: "+dir+"/dlq}"
			}
			cfg := parseConfig(t, fmt.Sprintf(`
name: poison
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s/events
    schema: [{name: id, type: long, nullable: false}, {name: user, type: string}]
    kafka_columns: true
    on_error: %s
    on_tombstone: %s
    %s
`, cluster.ListenAddrs()[0], dir, onError, onError, dlq))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := connector.New(ctx, cfg, connector.Options{UntilCaughtUp: true, Logger: testLogger(t)})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Run(ctx)
			_, snap := loadTable(t, dir+"/events")
			txn, _ := snap.Txn("poison:events:0")
			rows := countRows(t, dir+"/events", "")
			if policy == "fail" {
				var me *connector.MessageError
				if !errors.As(err, &me) || me.Offset != 7 {
					t.Fatalf("Run = %v, want a MessageError at offset 7", err)
				}
				if rows != 7 || txn != 6 {
					t.Fatalf("fail: %d rows, txn %d; want the 7 rows before the bad message and txn 6", rows, txn)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rows != 60-len(poison) || txn != 59 {
				t.Fatalf("%s: %d rows, txn %d; want %d rows and txn 59", policy, rows, txn, 60-len(poison))
			}
			var dead map[int64]string // offset → stage
			switch policy {
			case "dlq-topic":
				dead = readDLQTopic(t, cluster, "events-dlq", len(poison))
			case "dlq-table":
				dead = readDLQTable(t, dir+"/dlq")
			}
			if policy != "skip" {
				if len(dead) != len(poison) {
					t.Fatalf("%d dead letters, want %d: %v", len(dead), len(poison), dead)
				}
				for off := range poison {
					if _, ok := dead[int64(off)]; !ok {
						t.Fatalf("offset %d is neither in the table nor a dead letter (%v)", off, dead)
					}
				}
			}
		})
	}
}

func readDLQTopic(t *testing.T, cluster interface{ ListenAddrs() []string }, topic string, want int) map[int64]string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int64]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(out) < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			if h["trace"] != "t1" || h["sluice.topic"] != "events" || h["sluice.error"] == "" || !strings.HasPrefix(string(r.Key), "k") {
				t.Errorf("dead letter lacks the original key/headers or the sluice headers: key %q headers %v", r.Key, h)
			}
			var off int64
			fmt.Sscan(h["sluice.offset"], &off)
			out[off] = h["sluice.stage"]
		})
	}
	return out
}

func readDLQTable(t *testing.T, location string) map[int64]string {
	t.Helper()
	return readDLQTableChecked(t, location, true)
}

// readDLQTableChecked returns offset → stage; with origin it also checks the original
// key and headers the poison tests send.
func readDLQTableChecked(t *testing.T, location string, origin bool) map[int64]string {
	t.Helper()
	store, snap := loadTable(t, location)
	db := duckNamed(t, store, snap, "dlq")
	rows, err := db.Query(`SELECT "offset", stage, "error", key, headers['trace'] FROM dlq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var off int64
		var stage, msg string
		var key, trace []byte
		if err := rows.Scan(&off, &stage, &msg, &key, &trace); err != nil {
			t.Fatal(err)
		}
		if msg == "" || origin && (!strings.HasPrefix(string(key), "k") || string(trace) != "t1") {
			t.Errorf("dead letter at %d lacks error, key or headers: %q %q %q", off, msg, key, trace)
		}
		out[off] = stage
	}
	return out
}

// TestTwoInstancesShareGroup runs two connectors in one consumer group on 6 partitions
// while a producer keeps writing; one is stopped and started again. Afterwards the
// table holds every message exactly once.
func TestTwoInstancesShareGroup(t *testing.T) {
	cluster := newCluster(t, "events", 6)
	location := filepath.Join(t.TempDir(), "events")
	cfg := issueConfig(t, cluster.ListenAddrs()[0], location, 400)
	cfg.Tables[0].Flush.MaxLatency = connector.Duration(200 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var instances group
	start := func(name string) (context.CancelFunc, *sync.WaitGroup) { return instances.start(t, ctx, cfg, name) }

	produced := make(chan struct{})
	total := 0
	go func() {
		defer close(produced)
		for batch := range 20 {
			produce(t, cluster, events("events", batch*300, 300)...)
			total += 300
			time.Sleep(50 * time.Millisecond)
		}
	}()
	stopA, wgA := start("a")
	stopB, wgB := start("b")
	time.Sleep(700 * time.Millisecond)
	stopB() // graceful: flushes, commits, leaves the group
	wgB.Wait()
	time.Sleep(300 * time.Millisecond)
	stopB, wgB = start("b-again")
	<-produced
	// Wait until the table has everything, then stop both.
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, snap := loadTableIfExists(location); snap != nil {
			var sum int64
			for _, v := range snap.AppTransactions() {
				sum += v + 1
			}
			if sum == int64(total) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	stopA()
	stopB()
	wgA.Wait()
	wgB.Wait()
	instances.check(t)
	db := duck(t, location)
	var rows, pairs int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM events`).Scan(&rows, &pairs); err != nil {
		t.Fatal(err)
	}
	if rows != total || pairs != total {
		t.Fatalf("rows %d, distinct (partition, offset) %d; want %d each", rows, pairs, total)
	}
}

// TestStartupUnreachable: a broker or registry that cannot be reached makes start-up
// fail after startup_timeout with a message naming it.
func TestStartupUnreachable(t *testing.T) {
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: x
kafka: {bootstrap_servers: "127.0.0.1:1"}
startup_timeout: 2s
tables:
  - {name: t, topics: [events], location: %s/t, schema: [{name: id, type: long}]}
`, dir))
	ctx := context.Background()
	c, err := connector.New(ctx, cfg, connector.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Run(ctx)
	var se *connector.StartupError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "kafka (127.0.0.1:1)") {
		t.Fatalf("Run = %v, want a StartupError naming kafka", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("start-up gave up after %s", d)
	}
	cfg = parseConfig(t, fmt.Sprintf(`
name: x
kafka: {bootstrap_servers: "127.0.0.1:1"}
schema_registry: {url: "http://127.0.0.1:1"}
startup_timeout: 1s
tables:
  - {name: t, topics: [events], location: %s/t2, format: avro}
`, dir))
	_, err = connector.New(ctx, cfg, connector.Options{Logger: quietLogger()})
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "schema registry") {
		t.Fatalf("New = %v, want a StartupError naming the schema registry", err)
	}
	cfg = parseConfig(t, `
name: x
kafka: {bootstrap_servers: "127.0.0.1:1"}
storage: {s3: {endpoint: "http://127.0.0.1:1", region: us-east-1, path_style: true, access_key_id: k, secret_access_key: very-secret}}
startup_timeout: 1s
tables:
  - {name: t, topics: [events], location: "s3://bucket/t", schema: [{name: id, type: long}]}
`)
	_, err = connector.New(ctx, cfg, connector.Options{Logger: quietLogger()})
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "table t (s3://bucket/t)") || strings.Contains(err.Error(), "very-secret") {
		t.Fatalf("New = %v, want a StartupError naming the table's storage, without the secret", err)
	}
}

// TestMaxLatencyTrickle: with a trickle of single messages, each is committed within
// max_latency (plus a commit), not held until a size limit: the age of the oldest row
// restarts correctly around every flush.
func TestMaxLatencyTrickle(t *testing.T) {
	cluster := newCluster(t, "events", 2)
	location := filepath.Join(t.TempDir(), "events")
	cfg := issueConfig(t, cluster.ListenAddrs()[0], location, 100_000)
	cfg.Tables[0].Flush.MaxLatency = connector.Duration(100 * time.Millisecond)
	startConnector(t, cfg, testLogger(t))
	for i := range 15 {
		last := produce(t, cluster, events("events", i, 1)...)
		var p int32
		var off int64
		for p, off = range last {
		}
		waitFor(t, 10*time.Second, fmt.Sprintf("message %d committed", i), func() bool {
			_, snap := loadTableIfExists(location)
			if snap == nil {
				return false
			}
			v, ok := snap.Txn(fmt.Sprintf("events-ingest:events:%d", p))
			return ok && v >= off
		})
	}
}

// A static member (kafka.instance_id) ingests, stops, and started again under the same
// id goes on from the table's positions: every message once. Every JoinGroup it sends
// carries the instance id. (kfake does not implement KIP-345's broker side, keeping a
// static member's assignment over a restart without a rebalance; that part is Kafka's.)
func TestStaticMembership(t *testing.T) {
	cluster := newCluster(t, "events", 3)
	var mu sync.Mutex
	var joins []string
	cluster.ControlKey(int16(kmsg.JoinGroup), func(r kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		id := "<none>"
		if req := r.(*kmsg.JoinGroupRequest); req.InstanceID != nil {
			id = *req.InstanceID
		}
		mu.Lock()
		joins = append(joins, id)
		mu.Unlock()
		return nil, nil, false
	})
	location := filepath.Join(t.TempDir(), "events")
	produce(t, cluster, events("events", 0, 600)...)
	cfg := issueConfig(t, cluster.ListenAddrs()[0], location, 200)
	cfg.Kafka.InstanceID = "sluice-0"
	runUntilCaughtUp(t, cfg)
	produce(t, cluster, events("events", 600, 400)...)
	runUntilCaughtUp(t, cfg)
	if n := countRows(t, location, ""); n != 1000 {
		t.Fatalf("%d rows, want 1000", n)
	}
	db := duck(t, location)
	var pairs int
	if err := db.QueryRow(`SELECT count(DISTINCT (_kafka_partition, _kafka_offset)) FROM events`).Scan(&pairs); err != nil || pairs != 1000 {
		t.Fatalf("%d distinct (partition, offset), %v", pairs, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(joins) < 2 || slices.ContainsFunc(joins, func(id string) bool { return id != "sluice-0" }) {
		t.Fatalf("JoinGroup instance ids %v, want sluice-0 in each of at least two joins", joins)
	}
}

// dlq.headers: connect gives dead letters Kafka Connect's __connect.errors.* headers
// (and, with both, Sluice's too), so tooling built for Connect's dead-letter queues
// reads them.
func TestDLQConnectHeaders(t *testing.T) {
	for _, mode := range []string{"connect", "both"} {
		t.Run(mode, func(t *testing.T) {
			cluster := newCluster(t, "events", 1)
			createTopic(t, kgoClient(t, cluster), "events-dlq", 1)
			produce(t, cluster, events("events", 0, 5)...)
			produce(t, cluster, &kgo.Record{Topic: "events", Key: []byte("k5"), Value: []byte(`{"id":"x"}`)})
			cfg := parseConfig(t, fmt.Sprintf(`
name: connect-dlq
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}]
    on_error: dlq
    dlq: {topic: events-dlq, headers: %s}
`, cluster.ListenAddrs()[0], filepath.Join(t.TempDir(), "events"), mode))
			runUntilCaughtUp(t, cfg)
			cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("events-dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var h map[string]string
			for h == nil && ctx.Err() == nil {
				cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
					h = map[string]string{}
					for _, x := range r.Headers {
						h[x.Key] = string(x.Value)
					}
				})
			}
			want := map[string]string{"__connect.errors.topic": "events", "__connect.errors.partition": "0", "__connect.errors.offset": "5",
				"__connect.errors.connector.name": "connect-dlq", "__connect.errors.stage": "VALUE_CONVERTER",
				"__connect.errors.exception.class.name": "schema.FieldError"}
			for k, v := range want {
				if h[k] != v {
					t.Errorf("%s = %q, want %q (headers %v)", k, h[k], v, h)
				}
			}
			if !strings.Contains(h["__connect.errors.exception.message"], "id") {
				t.Errorf("exception message %q", h["__connect.errors.exception.message"])
			}
			if _, sluice := h["sluice.error"]; sluice != (mode == "both") {
				t.Errorf("sluice.* headers present: %v, with headers: %s", sluice, mode)
			}
		})
	}
}

// kafka_columns: [headers] stores each message's headers as a map (headers_as: string
// or binary), a repeated key keeping its last value.
func TestHeadersColumn(t *testing.T) {
	for _, as := range []string{"string", "binary"} {
		t.Run(as, func(t *testing.T) {
			cluster := newCluster(t, "events", 1)
			produce(t, cluster,
				&kgo.Record{Topic: "events", Value: []byte(`{"id":1}`), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}, {Key: "tenant", Value: []byte("a")}}},
				&kgo.Record{Topic: "events", Value: []byte(`{"id":2}`), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("old")}, {Key: "trace", Value: []byte("t2")}}},
				&kgo.Record{Topic: "events", Value: []byte(`{"id":3}`)})
			location := filepath.Join(t.TempDir(), "events")
			cfg := parseConfig(t, fmt.Sprintf(`
name: headers
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}]
    kafka_columns: [offset, headers]
    headers_as: %s
`, cluster.ListenAddrs()[0], location, as))
			runUntilCaughtUp(t, cfg)
			rows, err := duck(t, location).Query(`SELECT id, coalesce(_kafka_headers['trace']::VARCHAR, '-'), coalesce(_kafka_headers['tenant']::VARCHAR, '-'), cardinality(_kafka_headers) FROM events ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var id, n int
				var trace, tenant string
				if err := rows.Scan(&id, &trace, &tenant, &n); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d %s %s %d", id, trace, tenant, n))
			}
			if want := "1 t1 a 2|2 t2 - 1|3 - - 0"; strings.Join(got, "|") != want {
				t.Fatalf("rows %q, want %q", strings.Join(got, "|"), want)
			}
		})
	}
}

// table_properties go into a table Sluice creates, with the features they turn on in
// its first protocol.
func TestTableProperties(t *testing.T) {
	cluster := newCluster(t, "events", 1)
	produce(t, cluster, events("events", 0, 50)...)
	location := filepath.Join(t.TempDir(), "events")
	cfg := parseConfig(t, fmt.Sprintf(`
name: props
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}, {name: user, type: string}]
    table_properties: {delta.enableDeletionVectors: "true", delta.checkpointInterval: "5", delta.columnMapping.mode: name}
`, cluster.ListenAddrs()[0], location))
	runUntilCaughtUp(t, cfg)
	_, snap := loadTable(t, location)
	conf := snap.Metadata().Configuration
	if conf["delta.enableDeletionVectors"] != "true" || conf["delta.checkpointInterval"] != "5" || snap.ColumnMappingMode() != "name" {
		t.Fatalf("configuration %v, column mapping %q", conf, snap.ColumnMappingMode())
	}
	if p := snap.Protocol(); !slices.Contains(p.ReaderFeatures, "deletionVectors") || !slices.Contains(p.ReaderFeatures, "columnMapping") {
		t.Fatalf("protocol %+v", p)
	}
	if n := countRows(t, location, ""); n != 50 {
		t.Fatalf("%d rows", n)
	}
}

// A tombstone (a compacted topic's delete) is skipped by default, even with
// on_error: fail, and counted; the partition's txn moves past it.
func TestTombstonesSkippedByDefault(t *testing.T) {
	cluster := newCluster(t, "events", 1)
	produce(t, cluster, events("events", 0, 10)...)
	produce(t, cluster, &kgo.Record{Topic: "events", Key: []byte("k10")})
	produce(t, cluster, events("events", 11, 9)...)
	location := filepath.Join(t.TempDir(), "events")
	cfg := parseConfig(t, fmt.Sprintf(`
name: tombstones
kafka: {bootstrap_servers: %s}
tables:
  - {name: events, topics: [events], location: %s, schema: [{name: id, type: long, nullable: false}]}
`, cluster.ListenAddrs()[0], location))
	runUntilCaughtUp(t, cfg)
	_, snap := loadTable(t, location)
	if txn, _ := snap.Txn("tombstones:events:0"); txn != 19 || countRows(t, location, "") != 19 {
		t.Fatalf("txn %d, %d rows; want 19 and 19", txn, countRows(t, location, ""))
	}
}

// key_format: string and json store the message key as a string, or as a variant
// holding its JSON value (queried as JSON).
func TestKeyFormats(t *testing.T) {
	for _, format := range []string{"string", "json"} {
		t.Run(format, func(t *testing.T) {
			cluster := newCluster(t, "events", 1)
			produce(t, cluster,
				&kgo.Record{Topic: "events", Key: []byte(`{"customer":7,"region":"eu"}`), Value: []byte(`{"id":1}`)},
				&kgo.Record{Topic: "events", Key: []byte(`"plain"`), Value: []byte(`{"id":2}`)},
				&kgo.Record{Topic: "events", Value: []byte(`{"id":3}`)})
			location := filepath.Join(t.TempDir(), "events")
			cfg := parseConfig(t, fmt.Sprintf(`
name: keys
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}]
    kafka_columns: [key]
    key_format: %s
`, cluster.ListenAddrs()[0], location, format))
			runUntilCaughtUp(t, cfg)
			q := `SELECT id, coalesce(_kafka_key::VARCHAR, '-') FROM events ORDER BY id`
			want := `1 {"customer":7,"region":"eu"}|2 "plain"|3 -`
			if format == "json" {
				q = `SELECT id, coalesce((_kafka_key->>'region') || '/' || (_kafka_key->>'customer'), _kafka_key::VARCHAR, '-') FROM events ORDER BY id`
				want = `1 eu/7|2 "plain"|3 -`
			}
			rows, err := duck(t, location).Query(q)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var got []string
			for rows.Next() {
				var id int
				var k string
				if err := rows.Scan(&id, &k); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d %s", id, k))
			}
			if strings.Join(got, "|") != want {
				t.Fatalf("rows %q, want %q", strings.Join(got, "|"), want)
			}
		})
	}
}
