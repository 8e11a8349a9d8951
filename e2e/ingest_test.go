package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/connector"
)

// TestIngestUntilCaughtUp is the vertical slice: 10,000 JSON events on 3 partitions,
// the connector runs until caught up, and DuckDB reads every event exactly once.
func TestIngestUntilCaughtUp(t *testing.T) {
	cluster := newCluster(t, "events", 3)
	last := produce(t, cluster, events("events", 0, 10_000)...)
	location := filepath.Join(t.TempDir(), "events")

	sum := runUntilCaughtUp(t, issueConfig(t, cluster.ListenAddrs()[0], location, 3000))
	if sum.Rows != 10_000 {
		t.Fatalf("summary rows = %d, want 10000", sum.Rows)
	}

	db := duck(t, location)
	var rows, pairs, ids, days int
	err := db.QueryRow(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)), count(DISTINCT id), count(DISTINCT day) FROM events`).
		Scan(&rows, &pairs, &ids, &days)
	if err != nil {
		t.Fatal(err)
	}
	if rows != 10_000 || pairs != 10_000 || ids != 10_000 {
		t.Fatalf("DuckDB: rows=%d distinct (partition, offset)=%d distinct ids=%d; want 10000 each", rows, pairs, ids)
	}
	// 10,000 events 37 s apart span 5 days; the derived partition column must agree with ts.
	var mismatched int
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE day <> CAST(ts AT TIME ZONE 'UTC' AS DATE)`).Scan(&mismatched); err != nil {
		t.Fatal(err)
	}
	if days != 5 || mismatched != 0 {
		t.Fatalf("days=%d mismatched day/ts=%d", days, mismatched)
	}

	_, snap := loadTable(t, location)
	assertTxns(t, snap.AppTransactions(), "events-ingest", "events", last)
}

// assertTxns checks that the table's txn version for every partition is the last
// offset produced to it.
func assertTxns(t *testing.T, got map[string]int64, name, topic string, last map[int32]int64) {
	t.Helper()
	want := map[string]int64{}
	for p, off := range last {
		want[fmt.Sprintf("%s:%s:%d", name, topic, p)] = off
	}
	if !maps.Equal(got, want) {
		t.Fatalf("appTransactions = %v, want %v", got, want)
	}
}

// TestRestartExactlyOnce stops a running connector after a few commits, produces more,
// and starts it again: nothing is duplicated, nothing is missing, and the txn versions
// are the last offsets.
func TestRestartExactlyOnce(t *testing.T) {
	cluster := newCluster(t, "events", 3)
	produce(t, cluster, events("events", 0, 6_000)...)
	location := filepath.Join(t.TempDir(), "events")
	cfg := issueConfig(t, cluster.ListenAddrs()[0], location, 500)

	// First run: a long-running connector, stopped once it has made a few commits.
	r := startConnector(t, cfg, testLogger(t))
	waitFor(t, time.Minute, "two commits", func() bool {
		store, snap := loadTableIfExists(location)
		return store != nil && snap.Version() >= 2 // created, then at least two commits
	})
	if runErr := r.stop(); runErr != nil {
		t.Fatalf("first run: %v", runErr)
	}
	_, snap := loadTable(t, location)
	firstVersion := snap.Version()
	var firstRows int
	if err := duck(t, location).QueryRow(`SELECT count(*) FROM events`).Scan(&firstRows); err != nil {
		t.Fatal(err)
	}
	t.Logf("first run stopped at version %d with %d rows", firstVersion, firstRows)

	// Produce more, then run again until caught up.
	last := produce(t, cluster, events("events", 6_000, 4_000)...)
	runUntilCaughtUp(t, cfg)

	db := duck(t, location)
	var rows, pairs, ids int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)), count(DISTINCT id) FROM events`).Scan(&rows, &pairs, &ids); err != nil {
		t.Fatal(err)
	}
	if rows != 10_000 || pairs != 10_000 || ids != 10_000 {
		t.Fatalf("after restart: rows=%d distinct pairs=%d distinct ids=%d; want 10000 each", rows, pairs, ids)
	}
	_, snap = loadTable(t, location)
	if snap.Version() <= firstVersion {
		t.Fatalf("second run made no commit (version %d)", snap.Version())
	}
	assertTxns(t, snap.AppTransactions(), "events-ingest", "events", last)
}

// TestBadMessageStops checks on_error: fail (the default): the connector stops with an
// error naming topic, partition and offset; every good message before it is committed
// and nothing at or after it.
func TestBadMessageStops(t *testing.T) {
	cluster := newCluster(t, "events", 1)
	produce(t, cluster, events("events", 0, 100)...)
	produce(t, cluster, &kgo.Record{Topic: "events", Value: []byte(`{"id":"not a number"}`)})
	produce(t, cluster, events("events", 100, 50)...)
	location := filepath.Join(t.TempDir(), "events")
	cfg := issueConfig(t, cluster.ListenAddrs()[0], location, 1000)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := connector.New(ctx, cfg, connector.Options{UntilCaughtUp: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(ctx)
	var me *connector.MessageError
	if !errors.As(err, &me) {
		t.Fatalf("Run = %v, want *connector.MessageError", err)
	}
	if me.Topic != "events" || me.Partition != 0 || me.Offset != 100 {
		t.Fatalf("error names %s/%d/%d, want events/0/100: %v", me.Topic, me.Partition, me.Offset, err)
	}
	t.Logf("error: %v", err)
	_, snap := loadTable(t, location)
	if v, _ := snap.Txn("events-ingest:events:0"); v != 99 {
		t.Fatalf("txn = %d, want 99 (the last good offset)", v)
	}
	var rows int
	if err := duck(t, location).QueryRow(`SELECT count(*) FROM events`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 100 {
		t.Fatalf("rows = %d, want 100", rows)
	}
}
