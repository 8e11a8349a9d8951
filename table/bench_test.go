package table

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// buildLargeLog writes a table with n commits of one file each, as a long-running
// ingestion leaves it: a JSON commit per version, a checkpoint every 10 versions (only
// the newest holds real content: older ones are listed but never opened by a reader,
// and writing them all would take hours), and _last_checkpoint.
func buildLargeLog(b *testing.B, dir string, n int64) {
	ctx := context.Background()
	store, err := storage.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	tbl := New(store)
	if _, err := tbl.Create(ctx, CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"}}); err != nil {
		b.Fatal(err)
	}
	snap := tbl.snap
	logDir := filepath.Join(dir, "_delta_log")
	lastCP := (n / 10) * 10
	for v := int64(1); v <= n; v++ {
		a := add(fmt.Sprintf("day=2024-01-01/part-%06d.parquet", v))
		a.Stats = `{"numRecords":100,"minValues":{"id":1},"maxValues":{"id":100},"nullCount":{"id":0}}`
		actions := []Action{
			{CommitInfo: &CommitInfo{Timestamp: 1, Operation: "STREAMING UPDATE"}},
			{Txn: &Txn{AppID: fmt.Sprintf("c:t:%d", v%8), Version: v}},
			{Add: &a},
		}
		data, err := encodeActions(actions)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(logDir, fmt.Sprintf("%020d.json", v)), data, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := snap.apply(v, actions); err != nil {
			b.Fatal(err)
		}
		switch {
		case v == lastCP:
			if err := snap.writeCheckpoint(ctx, store, time.Now()); err != nil {
				b.Fatal(err)
			}
		case v%10 == 0:
			if err := os.WriteFile(filepath.Join(logDir, fmt.Sprintf("%020d.checkpoint.parquet", v)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSnapshotLoad100kCommits loads the latest snapshot of a 100,000-commit,
// 100,000-file table from its checkpoint and the commits after it.
func BenchmarkSnapshotLoad100kCommits(b *testing.B) {
	const n = 100_000
	dir := filepath.Join(b.TempDir(), "t")
	start := time.Now()
	buildLargeLog(b, dir, n+5)
	b.Logf("built a %d-commit table in %s", n+5, time.Since(start).Round(time.Millisecond))
	store, err := storage.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		snap, err := Load(context.Background(), store)
		if err != nil {
			b.Fatal(err)
		}
		if snap.Version() != n+5 || snap.NumFiles() != n+5 || snap.CheckpointVersion() != n {
			b.Fatalf("version %d files %d checkpoint %d", snap.Version(), snap.NumFiles(), snap.CheckpointVersion())
		}
	}
}

// BenchmarkCommitLocal measures commit latency on local disk: put-if-absent of the next
// version (synced) with one add and one txn. It reports the median.
func BenchmarkCommitLocal(b *testing.B) {
	store, err := storage.NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	benchCommits(b, store)
}

// benchCommits creates a table in store and commits one add and one txn per iteration,
// reporting the median and 99th percentile latency.
func benchCommits(b *testing.B, store storage.Storage) {
	tbl := New(store)
	if _, err := tbl.Create(context.Background(), CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"},
		Configuration: map[string]string{"delta.checkpointInterval": "1000000"}}); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		_, err := tbl.Commit(context.Background(), &Transaction{
			Adds:    []Add{add(fmt.Sprintf("day=2024-01-01/f%d.parquet", i))},
			AppTxns: []AppTxn{{AppID: "app", Prev: int64(i) - 1, Version: int64(i)}},
		})
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-p99")
}

// BenchmarkHandleMemory reports the heap a handle keeps (live-MB) once it has read a
// 20,000-file table, normal and ForAppending: an appending handle's memory does not
// grow with the number of files.
func BenchmarkHandleMemory(b *testing.B) {
	const n = 20_000
	dir := filepath.Join(b.TempDir(), "t")
	buildLargeLog(b, dir, n+5)
	store, err := storage.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts []Option
	}{{"normal", nil}, {"appending", []Option{ForAppending()}}} {
		b.Run(c.name, func(b *testing.B) {
			var live uint64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				tbl := New(store, c.opts...)
				if _, err := tbl.Snapshot(context.Background()); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.GC() // and what sync.Pools kept through the first
				runtime.ReadMemStats(&after)
				live = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
				runtime.KeepAlive(tbl)
			}
			b.ReportMetric(float64(live)/(1<<20), "live-MB")
		})
	}
}

// BenchmarkCheckpoint1MFiles writes the checkpoint of a V2-checkpoint table of 1,000,000
// live files on local disk after each 10 more commits of one file, as a ForAppending
// handle (the connector's) does every delta.checkpointInterval commits: in full (a load
// of every file, then all of them written again) and incrementally (the last
// checkpoint's sidecars named again, the new adds written). Run it with -benchtime 3x
// (30 s in all).
func BenchmarkCheckpoint1MFiles(b *testing.B) {
	const files, perCommit = 1_000_000, 10_000
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "t")
	store, err := storage.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	tbl := New(store)
	if _, err := tbl.Create(ctx, CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"},
		Configuration: map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "1000000"}}); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	snap := tbl.snap
	for v := int64(1); v <= files/perCommit; v++ {
		actions := make([]Action, perCommit)
		for i := range actions {
			a := add(fmt.Sprintf("day=2024-01-%02d/part-%07d-c000.snappy.parquet", v%28+1, int(v)*perCommit+i))
			a.Size = 8 << 20
			a.Stats = `{"numRecords":50000,"minValues":{"id":1,"name":"a"},"maxValues":{"id":50000,"name":"z"},"nullCount":{"id":0,"name":0}}`
			actions[i] = Action{Add: &a}
		}
		if err := snap.apply(v, actions); err != nil {
			b.Fatal(err)
		}
	}
	if err := snap.writeCheckpoint(ctx, store, time.Now()); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a %d-file table and its checkpoint in %s", files, time.Since(start).Round(time.Millisecond))
	tbl, snap = nil, nil
	runtime.GC()

	next := 0
	for _, mode := range []string{"full", "incremental"} {
		b.Run(mode, func(b *testing.B) {
			h := New(store, ForAppending(), DeferCheckpoints())
			for b.Loop() {
				b.StopTimer()
				for range 10 {
					if _, err := h.Commit(ctx, &Transaction{Adds: []Add{add(fmt.Sprintf("day=2024-01-01/new-%d.parquet", next))}}); err != nil {
						b.Fatal(err)
					}
					next++
				}
				runtime.GC()
				b.StartTimer()
				h.mu.Lock()
				if mode == "full" {
					err = h.fullCheckpoint(ctx, time.Now())
				} else {
					_, _, err = h.checkpoint(ctx)
				}
				h.mu.Unlock()
				if err != nil {
					b.Fatal(err)
				}
				if mode == "incremental" && h.lastCheckpoint != "incremental" {
					b.Fatalf("checkpoint written %s", h.lastCheckpoint)
				}
			}
		})
	}
}
