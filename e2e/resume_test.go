package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// TestBenchResume measures resume (issue 15, item 5): the time from the start of the
// real binary to its first new commit, on a table with a long log and many live
// files — as a restarted instance of a long-running pipeline finds it. The log is
// written directly (each commit adds 10 files; the data files themselves are not
// needed: resuming reads the log, not the data), with a checkpoint at the end, as
// delta.checkpointInterval leaves one. make test runs a short form (1,000 commits,
// 10,000 files); make bench-e2e the full one (100,000 commits, 1,000,000 files), in
// append mode and in upsert mode (whose handle tracks every file).
// SLUICE_BENCH_E2E_RESUME_POLICY=v2 creates the table with delta.checkpointPolicy v2:
// its checkpoint keeps the files in sidecars, which an append handle never reads.
// SLUICE_BENCH_E2E_RESUME_CHECKPOINT=1 then goes on committing, in append mode, until
// the next checkpoint is written, and reports its time and the memory it took.
func TestBenchResume(t *testing.T) {
	commits := 1_000
	if os.Getenv("SLUICE_BENCH_E2E") == "full" {
		commits = 100_000
	}
	ctx := context.Background()
	location := filepath.Join(t.TempDir(), "events")
	store, err := storage.NewLocal(location)
	if err != nil {
		t.Fatal(err)
	}
	schema := &table.StructType{Fields: []*table.StructField{{Name: "id", Type: table.Long}}}
	conf := map[string]string{"delta.enableDeletionVectors": "true"}
	if policy := os.Getenv("SLUICE_BENCH_E2E_RESUME_POLICY"); policy != "" {
		conf["delta.checkpointPolicy"] = policy
	}
	if _, err := table.New(store).Create(ctx, table.CreateOptions{Name: "events", Schema: schema, Configuration: conf}); err != nil {
		t.Fatal(err)
	}
	build := time.Now()
	now := time.Now().UnixMilli()
	var buf bytes.Buffer
	for v := int64(1); v <= int64(commits); v++ {
		buf.Reset()
		line := func(a table.Action) {
			b, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		line(table.Action{CommitInfo: &table.CommitInfo{Timestamp: now, Operation: "STREAMING UPDATE"}})
		for i := range 10 {
			line(table.Action{Add: &table.Add{Path: fmt.Sprintf("part-%07d-%d.parquet", v, i), Size: 4096, ModificationTime: now, DataChange: true,
				Stats: fmt.Sprintf(`{"numRecords":100,"minValues":{"id":%d},"maxValues":{"id":%d},"nullCount":{"id":0}}`, v*1000, v*1000+999)}})
		}
		if err := store.PutIfAbsent(ctx, table.CommitKey(v), buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := table.New(store).Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("built a log of %d commits and %d live files in %s", commits, commits*10, time.Since(build).Round(time.Millisecond))

	cluster := newCluster(t, "events", 1)
	sluiceBinary(t) // built before the clock starts
	for _, mode := range []string{"append", "upsert"} {
		produce(t, cluster, &kgo.Record{Topic: "events", Key: []byte(`{"id":1}`), Value: []byte(`{"id":1}`)})
		before := snapVersion(t, store)
		extra := ""
		if mode == "upsert" {
			extra = "    mode: upsert\n    key: [id]\n"
		}
		start := time.Now()
		p := startSluice(t, fmt.Sprintf(`name: resume-%s
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long}]
    flush: {max_latency: 100ms}
    maintenance: {optimize: {enabled: false}}
%s`, mode, cluster.ListenAddrs()[0], location, extra))
		waitFor(t, 10*time.Minute, "the first new commit", func() bool { return snapVersion(t, store) > before })
		took := time.Since(start)
		peak := int64(procStatus(p.cmd.Process.Pid, "VmHWM:")) >> 20
		if os.Getenv("SLUICE_BENCH_E2E_RESUME_CHECKPOINT") != "" && mode == "append" {
			checkpointAfterResume(t, cluster, store, p, before)
		}
		p.cmd.Process.Signal(os.Interrupt)
		<-p.done
		t.Logf("resume (%s mode): %s from start to the first new commit on %d commits and %d live files; peak RSS %d MiB",
			mode, took.Round(time.Millisecond), commits, commits*10, peak)
		if out := os.Getenv("SLUICE_BENCH_E2E_OUT"); out != "" {
			if f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				fmt.Fprintf(f, "\nResume (%s mode): %s from start to the first new commit, %d commits, %d live files, peak RSS %d MiB\n",
					mode, took.Round(time.Millisecond), commits, commits*10, peak)
				f.Close()
			}
		}
	}
}

// snapVersion is the table's latest version, by the names in its log (cheap: no replay).
func snapVersion(t *testing.T, store storage.Storage) int64 {
	t.Helper()
	latest := int64(-1)
	for obj, err := range store.List(context.Background(), "_delta_log/", "") {
		if err != nil {
			return latest
		}
		name := strings.TrimPrefix(obj.Key, "_delta_log/")
		var v int64
		if len(name) == 25 && strings.HasSuffix(name, ".json") {
			if _, err := fmt.Sscanf(name[:20], "%d", &v); err == nil && v > latest {
				latest = v
			}
		}
	}
	return latest
}

// checkpointAfterResume produces one message at a time until the running sluice p has
// committed to the next checkpoint interval and written its checkpoint, then reports how
// long that took and the process's memory: peak, and resident after.
func checkpointAfterResume(t *testing.T, cluster *kfake.Cluster, store storage.Storage, p *process, before int64) {
	t.Helper()
	ctx := context.Background()
	target := (before/10 + 1) * 10 // the next version a checkpoint is due at (interval 10)
	start := time.Now()
	for i := 0; snapVersion(t, store) < target; i++ {
		produce(t, cluster, &kgo.Record{Topic: "events", Key: []byte(`{"id":1}`), Value: []byte(fmt.Sprintf(`{"id":%d}`, i))})
		time.Sleep(150 * time.Millisecond)
	}
	waitFor(t, 10*time.Minute, "the checkpoint", func() bool {
		data, err := store.Get(ctx, table.LastCheckpointKey)
		var lc struct{ Version int64 }
		return err == nil && json.Unmarshal(data, &lc) == nil && lc.Version >= target
	})
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	peak, rss := int64(procStatus(p.cmd.Process.Pid, "VmHWM:"))>>20, int64(procStatus(p.cmd.Process.Pid, "VmRSS:"))>>20
	line := fmt.Sprintf("checkpoint after resume: version %d written %s after the resume's first commit (%d commits); peak RSS %d MiB, RSS 2 s after %d MiB",
		target, took.Round(time.Millisecond), target-before, peak, rss)
	t.Log(line)
	if out := os.Getenv("SLUICE_BENCH_E2E_OUT"); out != "" {
		if f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
}
