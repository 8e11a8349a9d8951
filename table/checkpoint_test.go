package table

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table/storage"
)

// commitN makes n single-file commits, each advancing txn "app" by 10 offsets.
func commitN(t *testing.T, tbl *Table, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		_, err := tbl.Commit(context.Background(), &Transaction{
			Adds:    []Add{add(fmt.Sprintf("day=2024-01-01/f%03d.parquet", i))},
			AppTxns: []AppTxn{{AppID: "app", Prev: int64(i*10) - 1, Version: int64(i*10 + 9)}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func openParquet(t *testing.T, data []byte) *parquet.File {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCheckpointSchemaMatchesSpark compares the schema of our checkpoints with one Spark
// wrote: same column names, nesting, repetition, physical and logical types.
func TestCheckpointSchemaMatchesSpark(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := newTestTable(t, store)
	commitN(t, tbl, 0, 10) // version 10 is checkpointed
	ours, err := store.Get(ctx, CheckpointKey(10))
	if err != nil {
		t.Fatalf("no checkpoint at version 10: %v", err)
	}
	spark, err := storage.NewLocal("testdata/conformance/kernel-rs-golden/multi-part-checkpoint/delta")
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := spark.Get(ctx, LogDir+"00000000000000000001.checkpoint.0000000001.0000000002.parquet")
	if err != nil {
		t.Fatal(err)
	}
	got := openParquet(t, ours).Schema().String()
	want := openParquet(t, theirs).Schema().String()
	if got != want {
		t.Fatalf("checkpoint schema differs from Spark's\n--- ours\n%s\n--- Spark\n%s", got, want)
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := newTestTable(t, store)
	commitN(t, tbl, 0, 25)
	hint, err := store.Get(ctx, LastCheckpointKey)
	if err != nil || !strings.Contains(string(hint), `"version":20`) {
		t.Fatalf("_last_checkpoint = %s, %v", hint, err)
	}
	snap, err := Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if snap.CheckpointVersion() != 20 || snap.Version() != 25 || snap.NumFiles() != 25 {
		t.Fatalf("checkpoint %d version %d files %d", snap.CheckpointVersion(), snap.Version(), snap.NumFiles())
	}
	// The same state replayed from the JSON commits alone.
	files, err := listLog(ctx, store, "")
	if err != nil {
		t.Fatal(err)
	}
	replayed := newSnapshot(store.URI(), loadConfig{})
	if err := replayed.replay(ctx, store, files); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(snap.Files(), replayed.Files(), func(a, b *Add) bool {
		return a.Path == b.Path && a.Size == b.Size && a.Stats == b.Stats && *a.PartitionValues["day"] == *b.PartitionValues["day"]
	}) {
		t.Fatal("files from checkpoint differ from replay")
	}
	if !maps.Equal(snap.AppTransactions(), replayed.AppTransactions()) || snap.Metadata().SchemaString != replayed.Metadata().SchemaString {
		t.Fatal("txns or metadata from checkpoint differ from replay")
	}
	// A stale hint (pointing at 10) still finds the newest checkpoint.
	if err := store.Put(ctx, LastCheckpointKey, strings.NewReader(`{"version":10,"size":13}`), -1); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(ctx, store); err != nil || s.CheckpointVersion() != 20 || s.Version() != 25 {
		t.Fatalf("stale hint: %v, %v", s, err)
	}
	// A corrupt hint and a corrupt newest checkpoint fall back to the older one.
	if err := store.Put(ctx, LastCheckpointKey, strings.NewReader(`{not json`), -1); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, CheckpointKey(20), strings.NewReader("garbage"), -1); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(ctx, store); err != nil || s.CheckpointVersion() != 10 || s.Version() != 25 || s.NumFiles() != 25 {
		t.Fatalf("corrupt checkpoint: %+v, %v", s, err)
	}
}

// createTable creates a table of testSchema partitioned by day, with the table
// properties given.
func createTable(t *testing.T, store storage.Storage, conf map[string]string, opts ...Option) *Table {
	t.Helper()
	tbl := New(store, opts...)
	if _, err := tbl.Create(context.Background(), CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"},
		Configuration: conf}); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// createClockedTable creates a table as createTable does in a memory store whose
// objects, like the handle, take their times from a test clock; it returns the clock's
// time, which the test moves.
func createClockedTable(t *testing.T, conf map[string]string) (*Table, *clockStore, *time.Time) {
	t.Helper()
	now := time.Now()
	clock := func() time.Time { return now }
	store := &clockStore{Storage: storage.NewMemory(t.Name()), now: clock, times: map[string]time.Time{}}
	return createTable(t, store, conf, Clock(clock)), store, &now
}

func TestLogCleanup(t *testing.T) {
	ctx := context.Background()
	tbl, store, now := createClockedTable(t, map[string]string{"delta.logRetentionDuration": "interval 1 day"})
	commitN(t, tbl, 0, 25) // checkpoints at 10 and 20, nothing expired yet
	if n := countLog(t, store); n != 26+2 {
		t.Fatalf("log files = %d before expiry", n)
	}
	*now = now.Add(48 * time.Hour) // everything written so far is now older than the retention
	commitN(t, tbl, 25, 5)         // version 30 checkpoints and cleans up
	files, _ := listLog(ctx, store, "")
	var versions []string
	for _, f := range files {
		versions = append(versions, strings.TrimPrefix(f.key, LogDir))
	}
	// Kept: checkpoint 20 (the newest expired one) and everything from 20 on.
	if files[0].key != CheckpointKey(20) {
		t.Fatalf("oldest log file %s, want the checkpoint at 20; log: %v", files[0].key, versions)
	}
	snap, err := Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version() != 30 || snap.NumFiles() != 30 {
		t.Fatalf("after cleanup: version %d files %d", snap.Version(), snap.NumFiles())
	}
}

func countLog(t *testing.T, store storage.Storage) int {
	files, err := listLog(context.Background(), store, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if f.kind == logCommit || f.kind == logCheckpoint {
			n++
		}
	}
	return n
}

// TestInterruptedCommit: data uploaded but no log entry (a crash between the two) leaves
// the table readable and unchanged.
func TestInterruptedCommit(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := newTestTable(t, store)
	commitN(t, tbl, 0, 3)
	before, _ := Load(ctx, store)
	if err := store.Put(ctx, "day=2024-01-01/orphan.parquet", strings.NewReader("PAR1…"), -1); err != nil {
		t.Fatal(err)
	}
	after, err := Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version() != before.Version() || after.NumFiles() != before.NumFiles() {
		t.Fatalf("orphan upload changed the table: %d/%d → %d/%d", before.Version(), before.NumFiles(), after.Version(), after.NumFiles())
	}
}

func TestParseInterval(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"interval 30 days": 30 * 24 * time.Hour, "interval 1 week": 7 * 24 * time.Hour,
		"interval 168 hours": 168 * time.Hour, "2 days": 48 * time.Hour, "INTERVAL 1 DAY 2 HOURS": 26 * time.Hour,
	} {
		if got, err := ParseInterval(in); err != nil || got != want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "interval", "interval x days", "interval 3 fortnights"} {
		if _, err := ParseInterval(bad); err == nil {
			t.Errorf("ParseInterval(%q): want error", bad)
		}
	}
}

// clockStore stamps objects with a test clock instead of the wall clock.
type clockStore struct {
	storage.Storage
	now   func() time.Time
	times map[string]time.Time
}

func (c *clockStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	c.times[key] = c.now()
	return c.Storage.Put(ctx, key, r, size)
}

func (c *clockStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	err := c.Storage.PutIfAbsent(ctx, key, data)
	if err == nil {
		c.times[key] = c.now()
	}
	return err
}

func (c *clockStore) List(ctx context.Context, prefix, startAfter string) iter.Seq2[storage.ObjectInfo, error] {
	return func(yield func(storage.ObjectInfo, error) bool) {
		for o, err := range c.Storage.List(ctx, prefix, startAfter) {
			if t, ok := c.times[o.Key]; ok {
				o.ModTime = t
			}
			if !yield(o, err) {
				return
			}
		}
	}
}

// putSizes records the size argument of every Put.
type putSizes struct {
	storage.Storage
	sizes map[string]int64
}

func (p *putSizes) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p.sizes[key] = size
	return p.Storage.Put(ctx, key, r, size)
}

// TestCheckpointStreamed: a checkpoint is encoded into the store as it is written
// (unknown size up front), in bounded row groups, so neither its rows nor its bytes are
// ever held whole; it still reads back complete.
func TestCheckpointStreamed(t *testing.T) {
	ctx := context.Background()
	store := &putSizes{Storage: storage.NewMemory(t.Name()), sizes: map[string]int64{}}
	tbl := newTestTable(t, store)
	commitN(t, tbl, 0, 10)
	if size, ok := store.sizes[CheckpointKey(10)]; !ok || size != -1 {
		t.Fatalf("checkpoint put with size %d (present %v), want -1: it was buffered whole", size, ok)
	}

	const files = 2*checkpointRowGroupRows + 10
	s := tbl.snap.clone()
	actions := make([]Action, files)
	for i := range actions {
		a := add(fmt.Sprintf("day=2024-01-01/big-%06d.parquet", i))
		actions[i] = Action{Add: &a}
	}
	if err := s.apply(11, actions); err != nil {
		t.Fatal(err)
	}
	if err := s.writeCheckpoint(ctx, store, time.Now()); err != nil {
		t.Fatal(err)
	}
	data, err := store.Get(ctx, CheckpointKey(11))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(openParquet(t, data).RowGroups()); n < 3 {
		t.Fatalf("%d row groups, want at least 3 of at most %d rows", n, checkpointRowGroupRows)
	}
	back := newSnapshot(store.URI(), loadConfig{})
	parts := checkpointParts([]logFile{{key: CheckpointKey(11), kind: logCheckpoint, version: 11}})
	if err := back.loadCheckpoint(ctx, store, 11, parts[11]); err != nil {
		t.Fatal(err)
	}
	if back.NumFiles() != files+10 {
		t.Fatalf("checkpoint holds %d files, want %d", back.NumFiles(), files+10)
	}
}
