package optimize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// smallTable creates a table (id long, s string, p string partition) with batches
// small commits of rows ids [k*10, k*10+10) spread over partitions p0 and p1, each
// commit with its own txn version.
func smallTable(t *testing.T, batches int) (storage.Storage, *table.Table) {
	t.Helper()
	ctx := context.Background()
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tbl := table.New(store)
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "s", Type: table.String, Nullable: true},
		{Name: "p", Type: table.String, Nullable: true},
	}}
	if _, err := tbl.Create(ctx, table.CreateOptions{Name: "t", Schema: schema, PartitionColumns: []string{"p"}}); err != nil {
		t.Fatal(err)
	}
	for k := range batches {
		appendIDs(t, tbl, int64(k*10), int64(k*10+10), &table.AppTxn{AppID: "sluice:t:0", Prev: int64(k) - 1, Version: int64(k)})
	}
	return store, tbl
}

// appendIDs commits rows for ids [from, to) as one file per partition.
func appendIDs(t *testing.T, tbl *table.Table, from, to int64, txn *table.AppTxn) table.CommitResult {
	t.Helper()
	ctx := context.Background()
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := writer.NewBuffer(writer.Spec{Schema: snap.Schema(), PartitionColumns: snap.PartitionColumns()}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for id := from; id < to; id++ {
		buf.SetInt(0, id)
		buf.SetBytes(1, fmt.Appendf(nil, "row %d", id))
		buf.SetBytes(2, fmt.Appendf(nil, "p%d", id%2))
		if err := buf.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	var adds []table.Add
	for _, p := range buf.Take() {
		for !p.Done() {
			var data bytes.Buffer
			info, err := p.Encode(&data)
			if err != nil {
				t.Fatal(err)
			}
			key := path.Join(p.Dir, uuid.NewString()+".parquet")
			if err := tbl.Store().Put(ctx, key, &data, int64(data.Len())); err != nil {
				t.Fatal(err)
			}
			adds = append(adds, table.Add{Path: table.EncodePath(key), PartitionValues: p.PartitionValues, Size: info.Size,
				ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: info.Stats})
		}
	}
	tx := &table.Transaction{Adds: adds, SchemaString: snap.Metadata().SchemaString}
	if txn != nil {
		tx.AppTxns = []table.AppTxn{*txn}
	}
	res, err := tbl.Commit(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Appends that land while optimize rewrites (the connector's) do not conflict: the
// OPTIMIZE commit lands after them, their rows and txns stay.
func TestOptimizeRebasesOverAppends(t *testing.T) {
	ctx := context.Background()
	store, tbl := smallTable(t, 6)
	before, _ := table.Load(ctx, store)
	other := table.New(store, table.ForAppending())
	opts := Options{beforeCommit: func() {
		appendIDs(t, other, 1000, 1010, &table.AppTxn{AppID: "sluice:t:0", Prev: 5, Version: 6})
	}}
	res, err := Run(ctx, tbl, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := table.Load(ctx, store)
	if res.Version != before.Version()+2 || res.BinsDropped != 0 {
		t.Fatalf("committed at %d (table was at %d), %d bins dropped", res.Version, before.Version(), res.BinsDropped)
	}
	if v, _ := after.Txn("sluice:t:0"); v != 6 {
		t.Errorf("txn at %d, want the append's 6", v)
	}
	// Two partitions: the 12 old files became 2, the append's 2 files stay.
	if res.FilesRemoved != 12 || res.FilesAdded != 2 || after.NumFiles() != 4 {
		t.Errorf("removed %d, added %d, %d files live", res.FilesRemoved, res.FilesAdded, after.NumFiles())
	}
	withAppend, err := table.LoadVersion(ctx, store, before.Version()+1)
	if err != nil {
		t.Fatal(err)
	}
	sameRows(t, store, withAppend, after)
}

// A file removed or changed (rows deleted) by another writer while optimize rewrites
// it: the bin holding it is given up and its new files deleted, the other bins
// committed; the deleted rows stay deleted.
func TestOptimizeGivesUpBinOfChangedFile(t *testing.T) {
	ctx := context.Background()
	store, tbl := smallTable(t, 6)
	before, _ := table.Load(ctx, store)
	deleter := table.New(store)
	var victim string
	opts := Options{beforeCommit: func() {
		snap, err := deleter.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range snap.Files() {
			if *f.PartitionValues["p"] == "p0" {
				victim = f.Path
				break
			}
		}
		if _, err := deleter.DeleteRows(ctx, victim, []uint64{0}); err != nil {
			t.Fatal(err)
		}
	}}
	res, err := Run(ctx, tbl, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.BinsDropped != 1 || res.FilesRemoved != 6 || res.FilesAdded != 1 {
		t.Fatalf("%d bins dropped, %d files removed, %d added; want 1, 6, 1", res.BinsDropped, res.FilesRemoved, res.FilesAdded)
	}
	after, _ := table.Load(ctx, store)
	var p0 []string
	for _, f := range after.Files() {
		if *f.PartitionValues["p"] == "p0" {
			p0 = append(p0, f.Path)
		}
	}
	if len(p0) != 6 || !slices.Contains(p0, victim) {
		t.Errorf("partition p0 has %d files (want its 6 old ones, the changed one included)", len(p0))
	}
	deleted, _ := table.LoadVersion(ctx, store, before.Version()+1)
	sameRows(t, store, deleted, after)
	assertNoOrphans(t, store, after)
}

// Two optimizers racing on the same files: the second to commit finds every file it
// rewrote removed, gives up all its bins and commits nothing; no row is lost or
// doubled, and its new files are gone.
func TestTwoOptimizersRacing(t *testing.T) {
	ctx := context.Background()
	store, tbl := smallTable(t, 6)
	before, _ := table.Load(ctx, store)
	var first *Result
	opts := Options{beforeCommit: func() {
		var err error
		if first, err = Run(ctx, table.New(store), Options{}, nil); err != nil {
			t.Fatal(err)
		}
	}}
	second, err := Run(ctx, tbl, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Version != before.Version()+1 || second.Version != -1 || second.BinsDropped != 2 {
		t.Fatalf("first committed %d, second %d with %d bins dropped", first.Version, second.Version, second.BinsDropped)
	}
	after, _ := table.Load(ctx, store)
	if after.Version() != first.Version || after.NumFiles() != 2 {
		t.Fatalf("table at %d with %d files", after.Version(), after.NumFiles())
	}
	sameRows(t, store, before, after)
	assertNoOrphans(t, store, after)
}

// Nothing to compact commits nothing.
func TestOptimizeNothingToDo(t *testing.T) {
	ctx := context.Background()
	store, tbl := smallTable(t, 1) // one file per partition
	res, err := Run(ctx, tbl, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != -1 || len(res.Plan.Bins) != 0 || res.Plan.Skipped != 2 {
		t.Fatalf("version %d, %d bins, %d skipped", res.Version, len(res.Plan.Bins), res.Plan.Skipped)
	}
	snap, _ := table.Load(ctx, store)
	if snap.Version() != 1 {
		t.Fatalf("table at version %d", snap.Version())
	}
}

// assertNoOrphans checks that every data file in the store is one snap or an earlier
// version references (the deleted files of given-up bins are gone).
func assertNoOrphans(t *testing.T, store storage.Storage, snap *table.Snapshot) {
	t.Helper()
	ctx := context.Background()
	known := map[string]bool{}
	for v := int64(0); v <= snap.Version(); v++ {
		s, err := table.LoadVersion(ctx, store, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range s.Files() {
			key, _ := table.DecodePath(f.Path)
			known[key] = true
		}
	}
	for obj, err := range store.List(ctx, "", "") {
		if err != nil {
			t.Fatal(err)
		}
		if path.Ext(obj.Key) == ".parquet" && !known[obj.Key] && !strings.HasPrefix(obj.Key, "_delta_log/") {
			t.Errorf("orphan data file %s", obj.Key)
		}
	}
}

// Where restricts optimize to the partitions it matches; a predicate on a data
// column, or not a condition, is refused before anything is done.
func TestOptimizeWhere(t *testing.T) {
	ctx := context.Background()
	store, tbl := smallTable(t, 4)
	res, err := Run(ctx, tbl, Options{Where: "p = 'p1'"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Bins) != 1 || *res.Plan.Bins[0].Partition["p"] != "p1" || res.FilesRemoved != 4 || res.Plan.Considered != 4 {
		t.Fatalf("plan %+v, removed %d", res.Plan, res.FilesRemoved)
	}
	snap, _ := table.Load(ctx, store)
	per := map[string]int{}
	for _, f := range snap.Files() {
		per[*f.PartitionValues["p"]]++
	}
	if per["p0"] != 4 || per["p1"] != 1 {
		t.Fatalf("files per partition after: %v", per)
	}
	for _, bad := range []struct{ where, want string }{
		{"id > 3", "id"},
		{"p", "not a condition"},
		{"p = ", "syntax"},
	} {
		if _, err := Run(ctx, tbl, Options{Where: bad.where}, nil); err == nil || !strings.Contains(strings.ToLower(err.Error()), bad.want) {
			t.Errorf("--where %q: got %v, want an error naming %q", bad.where, err, bad.want)
		}
	}
}

// Where on partition values of every type (a Spark table partitioned by byte, short,
// int, long, float, double, boolean, string, binary, date, timestamp and decimal).
func TestOptimizeWhereTypedPartitions(t *testing.T) {
	ctx := context.Background()
	store := copyTable(t, "../table/testdata/conformance/kernel-rs-golden/data-reader-partition-values/delta")
	snap, err := table.Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		where string
		want  int
	}{
		{"as_int = 0", 1},
		{"as_int IS NULL", 1},
		{"as_long >= 1 AND NOT as_boolean", 1},
		{"as_long >= 1 AND as_boolean", 0},
		{"as_byte + as_short < 1 OR as_double > 0.5", 2},
		{"as_float = 1.0", 1},
		{"as_date = DATE '2021-09-08'", 2},
		{"as_timestamp = TIMESTAMP '2021-09-08 11:11:11'", 2},
		{"as_timestamp > TIMESTAMP '2021-09-08 11:11:12'", 0},
		{"as_big_decimal = 1", 1},
		{"as_string LIKE '%1%'", 1},
		{"as_string_lit_null = 'null'", 2},
	} {
		plan, err := PlanBins(snap, Options{Where: c.where, MinFiles: 1})
		if err != nil {
			t.Errorf("%s: %v", c.where, err)
			continue
		}
		if plan.Considered != c.want {
			t.Errorf("%s: %d files considered, want %d", c.where, plan.Considered, c.want)
		}
	}
}

// With a small buffer and target size, a bin's rows stream through several row
// groups into several files (none held whole in memory); the rows stay the same.
func TestOptimizeStreamsSmallRowGroups(t *testing.T) {
	ctx := context.Background()
	store, tbl := smallTable(t, 40)
	before, _ := table.Load(ctx, store)
	var binBytes int64
	for _, f := range before.Files() {
		binBytes += f.Size
	}
	res, err := Run(ctx, tbl, Options{TargetSize: binBytes, MinFileSize: binBytes, BufferBytes: 2 << 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := table.Load(ctx, store)
	if len(res.Plan.Bins) != 2 || res.FilesRemoved != 80 {
		t.Fatalf("%d bins, %d files removed", len(res.Plan.Bins), res.FilesRemoved)
	}
	groups := 0
	for _, f := range after.Files() {
		key, _ := table.DecodePath(f.Path)
		data, err := store.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		groups += len(pf.RowGroups())
	}
	if groups < 2*after.NumFiles() {
		t.Errorf("%d row groups in %d files: the rows were not streamed in small row groups", groups, after.NumFiles())
	}
	sameRows(t, store, before, after)
}

// Files an optimize wrote are tagged; with SkipCompacted (auto-optimize) they are left
// out of later runs, so each row is rewritten once, not once per run.
func TestOptimizeSkipCompacted(t *testing.T) {
	ctx := context.Background()
	store, tbl := smallTable(t, 3)
	if _, err := Run(ctx, tbl, Options{}, nil); err != nil {
		t.Fatal(err)
	}
	snap, _ := table.Load(ctx, store)
	for _, f := range snap.Files() {
		if f.Tags[TagOptimized] != "true" {
			t.Fatalf("%s has tags %v", f.Path, f.Tags)
		}
	}
	for k := 3; k < 6; k++ {
		appendIDs(t, tbl, int64(k*10), int64(k*10+10), nil)
	}
	res, err := Run(ctx, tbl, Options{SkipCompacted: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.FilesRemoved != 6 || res.Plan.Skipped != 2 {
		t.Fatalf("removed %d (want the 6 new files), skipped %d (want the 2 compacted)", res.FilesRemoved, res.Plan.Skipped)
	}
	res, err = Run(ctx, tbl, Options{}, nil)
	if err != nil || res.FilesRemoved != 4 {
		t.Fatalf("without SkipCompacted: %d removed, %v", res.FilesRemoved, err)
	}
}

// A bin whose rows are all deleted is removed without writing an empty file.
func TestOptimizeAllRowsDeleted(t *testing.T) {
	ctx := context.Background()
	store, tbl := smallTable(t, 2)
	snap, _ := tbl.Snapshot(ctx)
	for _, f := range snap.Files() {
		if *f.PartitionValues["p"] == "p0" {
			if _, err := tbl.DeleteRows(ctx, f.Path, []uint64{0, 1, 2, 3, 4}); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := Run(ctx, tbl, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := table.Load(ctx, store)
	for _, f := range after.Files() {
		if st, ok := f.ParseStats(); !ok || st.NumRecords == 0 {
			t.Errorf("file %s has %d rows", f.Path, st.NumRecords)
		}
		if *f.PartitionValues["p"] == "p0" {
			t.Errorf("partition p0, every row deleted, still has %s", f.Path)
		}
	}
	if res.FilesRemoved != 4 || res.FilesAdded != 1 || res.RowsPurged != 10 {
		t.Fatalf("removed %d, added %d, purged %d", res.FilesRemoved, res.FilesAdded, res.RowsPurged)
	}
}

// lostCommit is a store whose next commit is written but reported failed (a lost
// response).
type lostCommit struct {
	storage.Storage
	lose bool
}

func (s *lostCommit) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	err := s.Storage.PutIfAbsent(ctx, key, data)
	if err == nil && s.lose && strings.HasSuffix(key, ".json") && strings.HasPrefix(key, "_delta_log/0") {
		s.lose = false
		return errors.New("connection reset (the put landed)")
	}
	return err
}

// A commit whose response is lost may have landed: optimize keeps its new files, so
// the table never names a file that is gone.
func TestOptimizeKeepsFilesOfAnUnknownCommit(t *testing.T) {
	ctx := context.Background()
	store, _ := smallTable(t, 4)
	lossy := &lostCommit{Storage: store, lose: true}
	if _, err := Run(ctx, table.New(lossy), Options{}, nil); err == nil || !strings.Contains(err.Error(), "outcome is unknown") {
		t.Fatalf("got %v, want an error saying the outcome is unknown", err)
	}
	after, err := table.Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range after.Files() {
		key, _ := table.DecodePath(f.Path)
		if _, err := store.Stat(ctx, key); err != nil {
			t.Fatalf("the table names %s, which is gone: %v", key, err)
		}
	}
}
