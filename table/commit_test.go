package table

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/sluicelake/sluice/table/storage"
)

func testSchema() *StructType {
	return &StructType{Fields: []*StructField{
		{Name: "id", Type: Long},
		{Name: "day", Type: Date, Nullable: true},
	}}
}

func newTestTable(t *testing.T, store storage.Storage) *Table {
	t.Helper()
	tbl := New(store)
	if _, err := tbl.Create(context.Background(), CreateOptions{Name: "t", Schema: testSchema(), PartitionColumns: []string{"day"}}); err != nil {
		t.Fatal(err)
	}
	return tbl
}

func add(path string) Add {
	day := "2024-01-01"
	return Add{Path: path, PartitionValues: map[string]*string{"day": &day}, Size: 10, DataChange: true, Stats: `{"numRecords":1}`}
}

func TestCreateTwice(t *testing.T) {
	store := storage.NewMemory(t.Name())
	newTestTable(t, store)
	_, err := New(store).Create(context.Background(), CreateOptions{Schema: testSchema()})
	if !errors.Is(err, ErrTableExists) {
		t.Fatalf("second Create: %v, want ErrTableExists", err)
	}
}

func TestCommitAndReload(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := newTestTable(t, store)
	for i := range 3 {
		res, err := tbl.Commit(ctx, &Transaction{
			Adds:    []Add{add(fmt.Sprintf("day=2024-01-01/f%d.parquet", i))},
			AppTxns: []AppTxn{{AppID: "c:t:0", Prev: int64(i*10) - 1, Version: int64(i*10 + 9)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Version != int64(i+1) || res.Attempts != 1 {
			t.Fatalf("commit %d: %+v", i, res)
		}
	}
	snap, err := Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version() != 3 || snap.NumFiles() != 3 {
		t.Fatalf("version %d files %d", snap.Version(), snap.NumFiles())
	}
	if v, ok := snap.Txn("c:t:0"); !ok || v != 29 {
		t.Fatalf("txn = %d,%v", v, ok)
	}
	if got := snap.PartitionColumns(); len(got) != 1 || got[0] != "day" {
		t.Fatalf("partition columns %v", got)
	}
}

// TestCommitLosesRace has two handles on one table: the second commits with a stale
// snapshot, loses the put-if-absent for the version, re-reads and lands at the next one.
func TestCommitLosesRace(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	a := newTestTable(t, store)
	b := New(store)
	if _, err := b.Snapshot(ctx); err != nil { // b caches version 0
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx, &Transaction{Adds: []Add{add("a.parquet")}, AppTxns: []AppTxn{{AppID: "a", Prev: -1, Version: 5}}}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Commit(ctx, &Transaction{Adds: []Add{add("b.parquet")}, AppTxns: []AppTxn{{AppID: "b", Prev: -1, Version: 7}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 || res.Attempts != 2 {
		t.Fatalf("b committed %+v, want version 2 on attempt 2", res)
	}
	snap, _ := Load(ctx, store)
	if snap.NumFiles() != 2 {
		t.Fatalf("files = %d, want 2 (no lost add)", snap.NumFiles())
	}
}

// TestCommitTxnConflict: a batch that does not continue from the table's txn version is
// refused with a typed error and nothing is written.
func TestCommitTxnConflict(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	a := newTestTable(t, store)
	b := New(store)
	if _, err := b.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx, &Transaction{Adds: []Add{add("a.parquet")}, AppTxns: []AppTxn{{AppID: "c:t:0", Prev: -1, Version: 99}}}); err != nil {
		t.Fatal(err)
	}
	// b still believes the partition starts fresh.
	_, err := b.Commit(ctx, &Transaction{Adds: []Add{add("b.parquet")}, AppTxns: []AppTxn{{AppID: "c:t:0", Prev: -1, Version: 50}}})
	var ce *TxnConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrTxnConflict) || ce.Actual != 99 || ce.Expected != -1 {
		t.Fatalf("got %v, want TxnConflictError actual 99", err)
	}
	snap, _ := Load(ctx, store)
	if snap.Version() != 1 || snap.NumFiles() != 1 {
		t.Fatalf("conflicting commit wrote something: version %d files %d", snap.Version(), snap.NumFiles())
	}
}

// TestConcurrentCommitters: several writers, each with its own app id, commit at once
// to one table. Every commit lands, versions are contiguous, no add is lost.
func TestConcurrentCommitters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	newTestTable(t, store)
	const writers, commits = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := storage.NewLocal(dir)
			tbl := New(st)
			for i := range commits {
				_, err := tbl.Commit(ctx, &Transaction{
					Adds:    []Add{add(fmt.Sprintf("w%d-%d.parquet", w, i))},
					AppTxns: []AppTxn{{AppID: fmt.Sprint("w", w), Prev: int64(i) - 1, Version: int64(i)}},
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	snap, err := Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version() != writers*commits || snap.NumFiles() != writers*commits {
		t.Fatalf("version %d files %d, want %d each", snap.Version(), snap.NumFiles(), writers*commits)
	}
	for w := range writers {
		if v, _ := snap.Txn(fmt.Sprint("w", w)); v != commits-1 {
			t.Fatalf("writer %d txn = %d", w, v)
		}
	}
}

func TestLoadNotATable(t *testing.T) {
	_, err := Load(context.Background(), storage.NewMemory(t.Name()))
	if !errors.Is(err, ErrNotATable) {
		t.Fatalf("got %v", err)
	}
}

func TestUnsupportedReaderVersion(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	data := `{"protocol":{"minReaderVersion":99,"minWriterVersion":7}}
{"metaData":{"id":"x","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[]}","partitionColumns":[],"configuration":{}}}
`
	if err := store.PutIfAbsent(ctx, CommitKey(0), []byte(data)); err != nil {
		t.Fatal(err)
	}
	_, err := Load(ctx, store)
	var ue *UnsupportedFeatureError
	if !errors.As(err, &ue) || ue.Feature != "reader version 99" {
		t.Fatalf("got %v", err)
	}
}

func TestPartitionPaths(t *testing.T) {
	v := func(s string) *string { return &s }
	cases := []struct {
		vals         []*string
		dir, addPath string
	}{
		{[]*string{v("2024-01-01"), v("NL")}, "day=2024-01-01/c=NL", "day=2024-01-01/c=NL"},
		{[]*string{nil, v("a b")}, "day=__HIVE_DEFAULT_PARTITION__/c=a b", "day=__HIVE_DEFAULT_PARTITION__/c=a%20b"},
		{[]*string{v("a:b/c"), v("100%")}, "day=a%3Ab%2Fc/c=100%25", "day=a%253Ab%252Fc/c=100%2525"},
		{[]*string{v("x=y?#"), v("é")}, "day=x%3Dy%3F%23/c=é", "day=x%253Dy%253F%2523/c=%C3%A9"},
	}
	for _, c := range cases {
		dir := PartitionDir([]string{"day", "c"}, c.vals)
		if dir != c.dir {
			t.Errorf("PartitionDir = %q, want %q", dir, c.dir)
		}
		if p := EncodePath(dir); p != c.addPath {
			t.Errorf("EncodePath(%q) = %q, want %q", dir, p, c.addPath)
		}
		if back, err := DecodePath(EncodePath(dir)); err != nil || back != dir {
			t.Errorf("DecodePath round trip: %q, %v", back, err)
		}
	}
}

func TestDecodePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"part-0.parquet", "part-0.parquet"},
		{"day=2024-01-01/a%20b.parquet", "day=2024-01-01/a b.parquet"},
		{"time=1971-07-22T03:06:40.000000Z/part-0.parquet", "time=1971-07-22T03:06:40.000000Z/part-0.parquet"}, // delta-rs, unescaped
		{"time=1971-07-22T03%3A06%3A40.000000Z/part-0.parquet", "time=1971-07-22T03:06:40.000000Z/part-0.parquet"},
		{"a:b.parquet", "a:b.parquet"}, // opaque: no file outside the table
		{"/data/t/part-0.parquet", "file:///data/t/part-0.parquet"},
		{"file:/data/t/a%20b.parquet", "file:///data/t/a b.parquet"},
		{"file:///data/t/a%20b.parquet", "file:///data/t/a b.parquet"},
		{"s3://bucket/t/part-0.parquet", "s3://bucket/t/part-0.parquet"},
		{"s3a://bucket/t/x%3Dy/part-0.parquet", "s3a://bucket/t/x=y/part-0.parquet"},
	} {
		got, err := DecodePath(c.in)
		if err != nil || got != c.want {
			t.Errorf("DecodePath(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// A handle that defers checkpoints reports the commit that reaches the interval as
// CheckpointDue and writes none; any handle's Checkpoint then writes it.
func TestDeferCheckpoints(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := New(store, ForAppending(), DeferCheckpoints())
	if _, err := tbl.Create(ctx, CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"},
		Configuration: map[string]string{"delta.checkpointInterval": "2"}}); err != nil {
		t.Fatal(err)
	}
	for v := int64(1); v <= 2; v++ {
		res, err := tbl.Commit(ctx, &Transaction{Adds: []Add{add(fmt.Sprintf("day=2024-01-01/%d.parquet", v))}})
		if err != nil {
			t.Fatal(err)
		}
		if res.CheckpointDue != (v == 2) || res.Checkpointed {
			t.Fatalf("version %d: due %v, checkpointed %v", v, res.CheckpointDue, res.Checkpointed)
		}
	}
	if snap, _ := Load(ctx, store); snap.CheckpointVersion() != -1 {
		t.Fatalf("a checkpoint at %d was written", snap.CheckpointVersion())
	}
	if v, _, err := New(store).Checkpoint(ctx); err != nil || v != 2 {
		t.Fatalf("checkpoint: %d, %v", v, err)
	}
	if snap, _ := Load(ctx, store); snap.CheckpointVersion() != 2 {
		t.Fatalf("checkpoint at %d, want 2", snap.CheckpointVersion())
	}
}
