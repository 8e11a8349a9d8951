package query

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// appendRefused are the conformance tables an appending writer refuses, with the
// feature the refusal names (table/testdata/conformance/README.md says why).
var appendRefused = map[string]string{
	"delta-rs-data/checkpoint-v2-table": "identityColumns",
}

// Appending to every readable conformance table, then reading it back, gives the old
// rows unchanged plus the new ones: whatever features the table uses (deletion
// vectors, column mapping, v2 checkpoints, row tracking, clustering, type widening,
// void columns, partition values of every type), Sluice's files and commit leave it
// readable. Tables Sluice does not read are left to table's TestConformance, which
// checks that each is refused by name.
func TestAppendToEveryConformanceTable(t *testing.T) {
	root := filepath.FromSlash("../table/testdata/conformance")
	kernel, _ := filepath.Glob(filepath.Join(root, "kernel-rs-golden", "*", "delta"))
	deltaRS, _ := filepath.Glob(filepath.Join(root, "delta-rs-data", "*"))
	appended := 0
	for _, dir := range append(kernel, deltaRS...) {
		rel, _ := filepath.Rel(root, dir)
		name := strings.TrimSuffix(filepath.ToSlash(rel), "/delta")
		t.Run(name, func(t *testing.T) {
			if appendToConformanceTable(t, name, dir) {
				appended++
			}
		})
	}
	if appended < 80 {
		t.Fatalf("only %d tables appended to", appended)
	}
}

const appendedRows = 5

// appendToConformanceTable appends rows to a copy of the table at src and checks the
// result; it reports whether the table took the append.
func appendToConformanceTable(t *testing.T, name, src string) bool {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	tbl := table.New(store)
	before, err := tbl.Snapshot(ctx)
	var invalid *table.InvalidTableError
	var unsupported *table.UnsupportedFeatureError
	switch {
	case errors.As(err, &invalid) || errors.As(err, &unsupported) || errors.Is(err, table.ErrNotATable):
		t.Logf("refused before anything is written (table's TestConformance checks why): %v", err)
		return false
	case err != nil:
		t.Fatal(err)
	}
	buf, err := writer.NewBuffer(writer.Spec{Schema: before.Schema(), PartitionColumns: before.PartitionColumns(),
		ColumnMapping: before.ColumnMappingMode() != table.ColumnMappingNone}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range appendedRows {
		for j, f := range before.Schema().Fields {
			setValue(t, buf, j, f.Type, int64(i))
		}
		if err := buf.EndRow(); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	_, err = commitBuffer(ctx, tbl, store, buf, before)
	if want, refused := appendRefused[name]; refused {
		var ue *table.UnsupportedFeatureError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want a refusal naming %s", err, want)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	after, err := table.Load(ctx, store)
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	if after.Version() != before.Version()+1 {
		t.Fatalf("version %d after appending to version %d", after.Version(), before.Version())
	}
	if missing := missingFiles(ctx, t, store, before); missing != "" {
		checkAppendedLog(ctx, t, store, before, after, missing)
		return true
	}
	db, err := OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := Register(ctx, db, "t0", store, before); err != nil {
		t.Fatal(err)
	}
	if err := Register(ctx, db, "t1", store, after); err != nil {
		t.Fatal(err)
	}
	var n0, n1, lost, added int64
	q := `SELECT (SELECT count(*) FROM t0), (SELECT count(*) FROM t1),
		(SELECT count(*) FROM (SELECT * FROM t0 EXCEPT ALL SELECT * FROM t1)),
		(SELECT count(*) FROM (SELECT * FROM t1 EXCEPT ALL SELECT * FROM t0))`
	if err := db.QueryRowContext(ctx, q).Scan(&n0, &n1, &lost, &added); err != nil {
		t.Fatal(err)
	}
	if n1 != n0+appendedRows || lost != 0 || added != appendedRows {
		t.Fatalf("%d rows before, %d after; %d old rows lost, %d rows new (want %d)", n0, n1, lost, added, appendedRows)
	}
	return true
}

// missingFiles names a data file of snap that is not in store: some conformance
// tables are logs only, their data files left out of the test data.
func missingFiles(ctx context.Context, t *testing.T, store storage.Storage, snap *table.Snapshot) string {
	for _, f := range snap.Files() {
		key, err := table.DecodePath(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Stat(ctx, key); errors.Is(err, storage.ErrNotFound) {
			return key
		}
	}
	return ""
}

// checkAppendedLog checks an append to a table whose old data files are absent: the
// new snapshot keeps every old file and adds files that hold exactly the new rows.
func checkAppendedLog(ctx context.Context, t *testing.T, store storage.Storage, before, after *table.Snapshot, missing string) {
	t.Logf("data file %s is not in the test data: checking the log and the new files", missing)
	old := map[string]bool{}
	for _, f := range before.Files() {
		old[f.Path] = true
	}
	var added []string
	for _, f := range after.Files() {
		if old[f.Path] {
			delete(old, f.Path)
			continue
		}
		key, err := table.DecodePath(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, "'"+filepath.Join(store.URI()[len("file://"):], filepath.FromSlash(key))+"'")
	}
	if len(old) != 0 {
		t.Fatalf("%d old files gone after the append", len(old))
	}
	db, err := OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM read_parquet(["+strings.Join(added, ", ")+"])").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != appendedRows {
		t.Fatalf("the new files hold %d rows, want %d", n, appendedRows)
	}
}

// setValue sets column j of the row being built to the i-th test value of its type:
// distinct per row and inside every type's range.
func setValue(t *testing.T, buf *writer.Buffer, j int, typ table.DataType, i int64) {
	switch typ := typ.(type) {
	case table.PrimitiveType:
		switch typ {
		case table.Void:
		case table.Float, table.Double:
			buf.SetFloat(j, float64(i)+0.5)
		case table.Boolean:
			buf.SetBool(j, i%2 == 0)
		case table.String, table.Binary:
			buf.SetBytes(j, fmt.Appendf(nil, "sluice-%d", i))
		case table.Timestamp, table.TimestampNTZ:
			buf.SetInt(j, 1_700_000_000_000_000+i*3_600_000_000)
		case table.Byte:
			buf.SetInt(j, i)
		default: // integral types and date
			buf.SetInt(j, 20_000+i)
		}
	case *table.DecimalType:
		if typ.Precision <= writer.MaxInt64DecimalPrecision {
			buf.SetInt(j, i)
		} else {
			buf.SetBytes(j, writer.TwosComplement(big.NewInt(i)))
		}
	default:
		n := buf.Nested(j)
		emitValue(t, n, typ, i)
	}
}

// emitValue writes the i-th test value of typ into a nested value.
func emitValue(t *testing.T, n *writer.Nest, typ table.DataType, i int64) {
	switch typ := typ.(type) {
	case table.PrimitiveType:
		switch typ {
		case table.Void:
			n.Null()
		case table.Float, table.Double:
			n.Float(float64(i) + 0.5)
		case table.Boolean:
			n.Bool(i%2 == 0)
		case table.String, table.Binary:
			n.Bytes(fmt.Appendf(nil, "sluice-%d", i))
		case table.Timestamp, table.TimestampNTZ:
			n.Int(1_700_000_000_000_000 + i*3_600_000_000)
		case table.Byte:
			n.Int(i)
		default:
			n.Int(20_000 + i)
		}
	case *table.DecimalType:
		if typ.Precision <= writer.MaxInt64DecimalPrecision {
			n.Int(i)
		} else {
			n.Bytes(writer.TwosComplement(big.NewInt(i)))
		}
	case *table.StructType:
		n.BeginStruct()
		for k, f := range typ.Fields {
			n.Field(k)
			emitValue(t, n, f.Type, i)
		}
		n.EndStruct()
	case *table.ArrayType:
		n.BeginList()
		emitValue(t, n, typ.ElementType, i)
		n.EndList()
	case *table.MapType:
		n.BeginMap()
		emitValue(t, n, typ.KeyType, i)
		emitValue(t, n, typ.ValueType, i)
		n.EndMap()
	default:
		t.Fatalf("unexpected type %s", typ)
	}
}
