package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicelake/sluice/optimize"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
)

// Optimize runs again and again while the connector ingests into the same table (on
// local disk, and on S3 through versitygw): every snapshot taken meanwhile holds
// exactly the rows its txns cover, the connector never stops on a conflict, and at the
// end every message is in the table once, the txns are the connector's, and the file
// count is down.
func TestOptimizeWhileIngesting(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		location := filepath.Join(t.TempDir(), "events")
		store, err := storage.NewLocal(location)
		if err != nil {
			t.Fatal(err)
		}
		optimizeWhileIngesting(t, location, "", store)
	})
	t.Run("s3", func(t *testing.T) {
		srv := s3test.Start(t)
		location := "s3://" + srv.Bucket + "/lake/events"
		store, err := storage.OpenWith(context.Background(), location, storage.Options{S3: storage.S3Options{Endpoint: srv.Endpoint,
			Region: srv.Region, PathStyle: true, AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey}})
		if err != nil {
			t.Fatal(err)
		}
		s3 := fmt.Sprintf("storage:\n  s3: {endpoint: %s, region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}\n",
			srv.Endpoint, srv.Region, srv.AccessKeyID, srv.SecretAccessKey)
		optimizeWhileIngesting(t, location, s3, store)
	})
}

func optimizeWhileIngesting(t *testing.T, location, storageConfig string, store storage.Storage) {
	const total = 6000
	ctx := context.Background()
	cluster := newCluster(t, "events", 3)
	cfg := parseConfig(t, fmt.Sprintf(`
name: optimize-ingest
kafka: {bootstrap_servers: %s}
%stables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}, {name: user, type: string}, {name: ts, type: timestamp}]
    partition_by: [day]
    columns: {day: "date(ts)"}
    kafka_columns: true
    flush: {max_rows: 150, max_latency: 50ms}
`, cluster.ListenAddrs()[0], storageConfig, location))
	r := startConnector(t, cfg, testLogger(t))
	tbl := table.New(store)
	var last map[int32]int64
	optimized, checked := 0, 0
	for wave := range 6 {
		last = produce(t, cluster, events("events", wave*total/6, total/6)...)
		time.Sleep(150 * time.Millisecond)
		res, err := optimize.Run(ctx, tbl, optimize.Options{}, nil)
		if err != nil {
			t.Fatalf("optimize during wave %d: %v", wave, err)
		}
		if res.Version >= 0 {
			optimized++
		}
		snap, err := table.Load(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		checkCovered(t, store, snap)
		checked++
	}
	waitFor(t, time.Minute, "all messages committed", func() bool {
		snap, err := table.Load(ctx, store)
		return err == nil && covered(snap) == total
	})
	if err := r.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	before, err := table.Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	res, err := optimize.Run(ctx, tbl, optimize.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := table.Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	// The events span 3 days: one file per day partition is what optimize leaves (the
	// last run has nothing to do when the one before already compacted everything).
	if optimized < 2 || after.NumFiles() > 3 || (res.Version >= 0 && after.NumFiles() >= before.NumFiles()) {
		t.Fatalf("%d optimize commits during the run; the last one at %d: %d files, %d before", optimized, res.Version, after.NumFiles(), before.NumFiles())
	}
	rows, pairs := checkCovered(t, store, after)
	if rows != total || pairs != total {
		t.Fatalf("%d rows, %d distinct (partition, offset); want %d", rows, pairs, total)
	}
	assertTxns(t, after.AppTransactions(), "optimize-ingest", "events", last)
	t.Logf("%d snapshots checked during the run, %d optimize commits, files %d -> %d", checked, optimized, before.NumFiles(), after.NumFiles())
}

// covered is the number of messages the snapshot's txns say it holds (offsets start
// at 0 and have no gaps in this test).
func covered(snap *table.Snapshot) int64 {
	var n int64
	for _, v := range snap.AppTransactions() {
		n += v + 1
	}
	return n
}

// checkCovered reads the snapshot with DuckDB: it must hold exactly the messages its
// txns cover, each once. It returns the row count and distinct (partition, offset)
// count.
func checkCovered(t *testing.T, store storage.Storage, snap *table.Snapshot) (int64, int64) {
	t.Helper()
	local := store
	if _, ok := store.(*storage.Local); !ok {
		local = copyOut(t, store)
	}
	var rows, pairs int64
	if err := duckNamed(t, local, snap, "events").QueryRow(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM events`).Scan(&rows, &pairs); err != nil {
		t.Fatal(err)
	}
	if want := covered(snap); rows != want || pairs != want {
		t.Fatalf("version %d: %d rows, %d distinct (partition, offset), txns cover %d", snap.Version(), rows, pairs, want)
	}
	return rows, pairs
}
