package optimize

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/query"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// optimizeRefused are conformance tables optimize refuses, and the feature it names.
var optimizeRefused = map[string]string{
	"delta-rs-data/checkpoint-v2-table":          "identityColumns",
	"delta-rs-data/table-with-domain-metadata":   "row tracking",
	"delta-rs-data/table_with_liquid_clustering": "row tracking",
}

// Every conformance table whose data files are present optimizes, every file
// rewritten, to the same rows (Spark's, delta-rs' and older writers' files: INT96
// and millisecond timestamps, decimals of every physical type, nested types, column
// mapping by name and by id, deletion vectors purged, void and widened columns).
func TestOptimizeEveryConformanceTable(t *testing.T) {
	root := filepath.FromSlash("../table/testdata/conformance")
	kernel, _ := filepath.Glob(filepath.Join(root, "kernel-rs-golden", "*", "delta"))
	deltaRS, _ := filepath.Glob(filepath.Join(root, "delta-rs-data", "*"))
	optimized := 0
	for _, dir := range append(kernel, deltaRS...) {
		rel, _ := filepath.Rel(root, dir)
		name := strings.TrimSuffix(filepath.ToSlash(rel), "/delta")
		t.Run(name, func(t *testing.T) {
			if optimizeConformanceTable(t, name, dir) {
				optimized++
			}
		})
	}
	if optimized < 60 {
		t.Fatalf("only %d tables optimized", optimized)
	}
}

func optimizeConformanceTable(t *testing.T, name, src string) bool {
	ctx := context.Background()
	store := copyTable(t, src)
	tbl := table.New(store)
	before, err := tbl.Snapshot(ctx)
	var invalid *table.InvalidTableError
	var unsupported *table.UnsupportedFeatureError
	switch {
	case errors.As(err, &invalid) || errors.As(err, &unsupported) || errors.Is(err, table.ErrNotATable):
		t.Logf("not readable (table's TestConformance checks why): %v", err)
		return false
	case err != nil:
		t.Fatal(err)
	}
	for _, f := range before.Files() {
		key, _ := table.DecodePath(f.Path)
		if _, err := store.Stat(ctx, key); err != nil {
			t.Logf("data file %s is not in the test data", key)
			return false
		}
	}
	res, err := Run(ctx, tbl, Options{MinFileSize: 1 << 40, MinFiles: 1}, nil)
	if want, refused := optimizeRefused[name]; refused {
		if !errors.As(err, &unsupported) || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want a refusal naming %s", err, want)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Unfit) > 0 {
		t.Fatalf("bins left as they are: %v", res.Unfit)
	}
	after, err := table.Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Files()) > 0 {
		if res.Version != before.Version()+1 || after.Version() != res.Version {
			t.Fatalf("committed version %d, table at %d, was %d", res.Version, after.Version(), before.Version())
		}
		if after.NumFiles() > before.NumFiles() {
			t.Errorf("%d files after, %d before", after.NumFiles(), before.NumFiles())
		}
		for _, f := range after.Files() {
			if f.DeletionVector != nil {
				t.Errorf("%s still has a deletion vector", f.Path)
			}
		}
	}
	if !maps.Equal(before.AppTransactions(), after.AppTransactions()) {
		t.Errorf("txns changed: %v, then %v", before.AppTransactions(), after.AppTransactions())
	}
	sameRows(t, store, before, after)
	return true
}

// sameRows checks that two snapshots of a table read as the same multiset of rows.
func sameRows(t *testing.T, store storage.Storage, before, after *table.Snapshot) {
	t.Helper()
	ctx := context.Background()
	db, err := query.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := query.Register(ctx, db, "t0", store, before); err != nil {
		t.Fatal(err)
	}
	if err := query.Register(ctx, db, "t1", store, after); err != nil {
		t.Fatal(err)
	}
	var n0, n1, lost, extra int64
	q := `SELECT (SELECT count(*) FROM t0), (SELECT count(*) FROM t1),
		(SELECT count(*) FROM (SELECT * FROM t0 EXCEPT ALL SELECT * FROM t1)),
		(SELECT count(*) FROM (SELECT * FROM t1 EXCEPT ALL SELECT * FROM t0))`
	if err := db.QueryRowContext(ctx, q).Scan(&n0, &n1, &lost, &extra); err != nil {
		t.Fatal(err)
	}
	if n0 != n1 || lost != 0 || extra != 0 {
		t.Fatalf("%d rows before, %d after: %d lost, %d not there before", n0, n1, lost, extra)
	}
}

func copyTable(t *testing.T, src string) storage.Storage {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return store
}
