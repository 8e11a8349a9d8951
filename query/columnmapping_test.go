package query

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// A table Sluice creates with column mapping takes appends from Sluice's writer: the
// view reads the rows back under their display names, partition values included,
// with the log keying those by physical names.
func TestAppendToCreatedColumnMappedTable(t *testing.T) {
	for _, mode := range []string{table.ColumnMappingName, table.ColumnMappingID} {
		t.Run(mode, func(t *testing.T) {
			_, store, tbl := createIDTable(t, map[string]string{"delta.columnMapping.mode": mode})
			snap := appendRows(t, tbl, store, idRows(t, 0, 4))
			day := snap.Schema().Field("day")
			if day.PhysicalName() == "day" {
				t.Fatal("the partition column has no physical name")
			}
			for _, f := range snap.Files() {
				if _, ok := f.PartitionValues[day.PhysicalName()]; !ok || len(f.PartitionValues) != 1 {
					t.Fatalf("partition values %v, want them keyed by %s", f.PartitionValues, day.PhysicalName())
				}
			}
			db := openView(t, store, snap)
			got := queryStrings(t, db, "SELECT concat_ws(',', id, s.a, day) FROM t ORDER BY id")
			if want := []string{"0,a0,d0", "1,a1,d1", "2,a2,d0", "3,a3,d1"}; !slices.Equal(got, want) {
				t.Fatalf("rows %q, want %q", got, want)
			}
		})
	}
}

// Appending to Spark's column-mapped tables (name and id modes, nested types): the
// view holds Spark's rows as Spark reads them and Sluice's new rows, and the new files
// name and number their columns, nested fields included, as Spark's files do.
func TestAppendToSparkColumnMappedTable(t *testing.T) {
	for _, mode := range []string{"name", "id"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			name := "table-with-columnmapping-mode-" + mode
			dir, store := copyGolden(t, name)
			golden := filepath.FromSlash("../table/testdata/conformance/kernel-rs-golden/" + name)
			tbl := table.New(store)
			before, err := tbl.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sparkFile := filepath.Join(dir, before.Files()[0].Path)
			after := appendRows(t, tbl, store, func(buf *writer.Buffer) {
				col := func(name string) int {
					for _, c := range buf.Columns() {
						if c.Name == name {
							return c.Index
						}
					}
					t.Fatalf("no column %s", name)
					return -1
				}
				for i := range 3 {
					buf.SetInt(col("IntegerType"), int64(1000+i))
					buf.SetBytes(col("StringType"), fmt.Appendf(nil, "new%d", i))
					n := buf.Nested(col("nested_struct"))
					n.BeginStruct()
					n.Field(0)
					n.Bytes(fmt.Appendf(nil, "aa%d", i))
					n.Field(1)
					n.BeginStruct()
					n.Field(0)
					n.Int(int64(i))
					n.EndStruct()
					n.EndStruct()
					n = buf.Nested(col("array_of_structs"))
					n.BeginList()
					n.BeginStruct()
					n.Field(0)
					n.Int(int64(10 * i))
					n.EndStruct()
					n.EndList()
					n = buf.Nested(col("map_of_rows"))
					n.BeginMap()
					n.Int(7)
					n.BeginStruct()
					n.Field(0)
					n.Int(int64(100 * i))
					n.EndStruct()
					n.EndMap()
					if err := buf.EndRow(); err != nil {
						t.Fatal(err)
					}
				}
			})
			if after.NumFiles() != before.NumFiles()+1 {
				t.Fatalf("%d files after the append, %d before", after.NumFiles(), before.NumFiles())
			}
			db := openView(t, store, after)

			// Spark's rows are as Spark reads them.
			var cols []string
			for _, f := range after.Schema().Fields {
				cols = append(cols, quoteIdent(f.Name))
			}
			list := strings.Join(cols, ", ")
			old := fmt.Sprintf("(SELECT %s FROM t WHERE IntegerType IS NULL OR IntegerType < 1000)", list)
			expected := fmt.Sprintf("(SELECT %s FROM read_parquet('%s', union_by_name=true))", list, filepath.Join(golden, "expected", "*.parquet"))
			var onlyOurs, onlySpark int64
			q := fmt.Sprintf("SELECT (SELECT count(*) FROM (%s EXCEPT ALL %s)), (SELECT count(*) FROM (%s EXCEPT ALL %s))", old, expected, expected, old)
			if err := db.QueryRowContext(ctx, q).Scan(&onlyOurs, &onlySpark); err != nil {
				t.Fatal(err)
			}
			if onlyOurs != 0 || onlySpark != 0 {
				t.Fatalf("Spark's rows: %d not in Spark's result, %d of Spark's missing", onlyOurs, onlySpark)
			}

			// Sluice's rows read back under the display names.
			got := queryStrings(t, db, `SELECT concat_ws(',', IntegerType, StringType, nested_struct.aa, nested_struct.ac.aca,
				array_of_structs[1].ab, map_of_rows[7].ab, coalesce(CAST(LongType AS VARCHAR), 'null'))
				FROM t WHERE IntegerType >= 1000 ORDER BY IntegerType`)
			if want := []string{"1000,new0,aa0,0,0,0,null", "1001,new1,aa1,1,10,100,null", "1002,new2,aa2,2,20,200,null"}; !slices.Equal(got, want) {
				t.Fatalf("new rows %q, want %q", got, want)
			}

			// The new file's schema elements (names and field ids) are those of Spark's.
			var ours string
			for _, f := range after.Files() {
				if !strings.HasPrefix(f.Path, "part-") { // Spark's are part-*
					ours = filepath.Join(dir, f.Path)
				}
			}
			elements := func(file string) []string {
				return queryStrings(t, db, fmt.Sprintf("SELECT concat(name, ':', coalesce(field_id, 0)) FROM parquet_schema('%s')", file))
			}
			if got, want := elements(ours), elements(sparkFile); !slices.Equal(got, want) {
				t.Fatalf("the new file's schema elements\n %q\nSpark's\n %q", got, want)
			}
		})
	}
}

// createIDTable creates a table with columns id, s (a struct of a) and day, partitioned
// by day, with the table properties given, in a new folder; it returns the folder, a
// store over it and a handle.
func createIDTable(t *testing.T, conf map[string]string) (string, storage.Storage, *table.Table) {
	t.Helper()
	dir := t.TempDir()
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	tbl := table.New(store)
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "s", Type: &table.StructType{Fields: []*table.StructField{{Name: "a", Type: table.String, Nullable: true}}}, Nullable: true},
		{Name: "day", Type: table.String, Nullable: true},
	}}
	if _, err := tbl.Create(context.Background(), table.CreateOptions{Name: "t", Schema: schema, PartitionColumns: []string{"day"},
		Configuration: conf}); err != nil {
		t.Fatal(err)
	}
	return dir, store, tbl
}

// idRows fills the rows of a createIDTable table for ids from to to (excluded): s.a is
// "a<id>" and day "d<id mod 2>", which the view shows as "id,a<id>,d<id mod 2>".
func idRows(t *testing.T, from, to int) func(*writer.Buffer) {
	return func(buf *writer.Buffer) {
		for i := from; i < to; i++ {
			buf.SetInt(0, int64(i))
			n := buf.Nested(1)
			n.BeginStruct()
			n.Field(0)
			n.Bytes(fmt.Appendf(nil, "a%d", i))
			n.EndStruct()
			buf.SetBytes(2, fmt.Appendf(nil, "d%d", i%2))
			if err := buf.EndRow(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// appendRows fills a writer buffer for tbl's latest snapshot, writes its files into
// store and commits them; it returns the snapshot after the commit.
func appendRows(t *testing.T, tbl *table.Table, store storage.Storage, fill func(*writer.Buffer)) *table.Snapshot {
	t.Helper()
	ctx := context.Background()
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := writer.NewBuffer(writer.Spec{Schema: snap.Schema(), PartitionColumns: snap.PartitionColumns(),
		ColumnMapping: snap.ColumnMappingMode() != table.ColumnMappingNone}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	fill(buf)
	if _, err := commitBuffer(ctx, tbl, store, buf, snap); err != nil {
		t.Fatal(err)
	}
	after, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return after
}

// commitBuffer writes the buffer's files into store and commits them to tbl, whose
// latest snapshot is snap.
func commitBuffer(ctx context.Context, tbl *table.Table, store storage.Storage, buf *writer.Buffer, snap *table.Snapshot) (table.CommitResult, error) {
	var adds []table.Add
	for _, p := range buf.Take() {
		for !p.Done() {
			key := path.Join(p.Dir, uuid.NewString()+".parquet")
			var data bytes.Buffer
			info, err := p.Encode(&data)
			if err != nil {
				return table.CommitResult{}, err
			}
			if err := store.Put(ctx, key, &data, int64(data.Len())); err != nil {
				return table.CommitResult{}, err
			}
			adds = append(adds, table.Add{Path: table.EncodePath(key), PartitionValues: p.PartitionValues, Size: info.Size,
				ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: info.Stats})
		}
	}
	return tbl.Commit(ctx, &table.Transaction{Adds: adds, SchemaString: snap.Metadata().SchemaString})
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
