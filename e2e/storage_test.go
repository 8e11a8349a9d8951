package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
)

// TestS3OutageAndRecovery ingests into a table on S3 (versitygw) and takes the S3
// server away mid-run: the connector keeps retrying its uploads and commits with
// backoff, and when the server comes back everything lands exactly once.
func TestS3OutageAndRecovery(t *testing.T) {
	srv := s3test.Start(t)
	cluster := newCluster(t, "events", 3)
	produce(t, cluster, events("events", 0, 3000)...)
	addr := freeAddr(t)
	location := "s3://" + srv.Bucket + "/lake/events"
	cfg := parseConfig(t, fmt.Sprintf(`
name: s3-ingest
kafka: {bootstrap_servers: %s}
storage:
  s3: {endpoint: %s, region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}
metrics: {listen: %q}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}, {name: user, type: string}, {name: ts, type: timestamp}]
    kafka_columns: true
    flush: {max_rows: 500, max_latency: 200ms}
`, cluster.ListenAddrs()[0], srv.Endpoint, srv.Region, srv.AccessKeyID, srv.SecretAccessKey, addr, location))
	ctx := context.Background()
	r := startConnector(t, cfg, testLogger(t))
	t.Cleanup(func() {
		if t.Failed() { // what the connector saw, for a failure that does not reproduce
			for _, line := range strings.Split(httpBody(addr, "/metrics"), "\n") {
				if strings.HasPrefix(line, "sluice_") {
					t.Log(line)
				}
			}
		}
	})
	store, err := storage.OpenWith(ctx, location, storage.Options{S3: storage.S3Options{Endpoint: srv.Endpoint, Region: srv.Region,
		PathStyle: true, AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey, MaxRetries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "a first commit", func() bool {
		snap, err := table.Load(ctx, store)
		return err == nil && snap.Version() >= 1
	})
	srv.Stop(t)
	last := produce(t, cluster, events("events", 3000, 3000)...)
	waitFor(t, time.Minute, "retries while S3 is down", func() bool {
		n, _ := metric(addr, `sluice_io_retries_total{table="events"}`)
		return n >= 2
	})
	srv.Restart(t)
	waitFor(t, time.Minute, "all 6000 messages committed", func() bool {
		snap, err := table.Load(ctx, store)
		if err != nil {
			return false
		}
		var covered int64
		for _, v := range snap.AppTransactions() {
			covered += v + 1
		}
		return covered == 6000
	})
	runErr := r.stop()
	if runErr != nil {
		t.Fatalf("run: %v", runErr)
	}
	// Copy the table out of S3 and read it with DuckDB.
	local := filepath.Join(t.TempDir(), "events")
	copyInto(t, store, local)
	var rows, pairs int
	if err := duck(t, local).QueryRow(`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM events`).Scan(&rows, &pairs); err != nil {
		t.Fatal(err)
	}
	if rows != 6000 || pairs != 6000 {
		t.Fatalf("rows %d, distinct (partition, offset) %d; want 6000 each", rows, pairs)
	}
	_, snap := loadTable(t, local)
	assertTxns(t, snap.AppTransactions(), "s3-ingest", "events", last)
	if strings.Contains(fmt.Sprint(runErr), srv.SecretAccessKey) {
		t.Fatal("an error printed the S3 secret")
	}
}

// copyInto copies every object of store into the directory dir.
func copyInto(t *testing.T, store storage.Storage, dir string) {
	t.Helper()
	for o, err := range store.List(context.Background(), "", "") {
		if err != nil {
			t.Fatal(err)
		}
		data, err := store.Get(context.Background(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(o.Key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// copyOut copies store into a new temporary directory and returns a store over it.
func copyOut(t *testing.T, store storage.Storage) storage.Storage {
	t.Helper()
	dir := t.TempDir()
	copyInto(t, store, dir)
	local, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return local
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
