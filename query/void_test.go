package query

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// A table Spark created with void columns (CREATE TABLE t AS SELECT 1L AS id, NULL AS
// x, named_struct('a', 1, 'n', NULL) AS s) reads with NULL for them, before and after
// appends through the writer, and never from the files: a file that does hold a column
// x (another writer's) still reads as NULL there.
func TestQueryVoidColumns(t *testing.T) {
	ctx := context.Background()
	const schema = `{"type":"struct","fields":[` +
		`{"name":"id","type":"long","nullable":false,"metadata":{}},` +
		`{"name":"x","type":"void","nullable":true,"metadata":{}},` +
		`{"name":"s","type":{"type":"struct","fields":[{"name":"a","type":"integer","nullable":false,"metadata":{}},{"name":"n","type":"void","nullable":true,"metadata":{}}]},"nullable":false,"metadata":{}}]}`
	dir := t.TempDir()
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	v0 := `{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}
{"metaData":{"id":"6b1c3a4e-2f3d-4c7e-9a61-0c2b8f1d5e77","format":{"provider":"parquet","options":{}},"schemaString":` + strconv.Quote(schema) + `,"partitionColumns":[],"configuration":{},"createdTime":1700000000000}}
`
	if err := store.PutIfAbsent(ctx, table.CommitKey(0), []byte(v0)); err != nil {
		t.Fatal(err)
	}
	tbl := table.New(store)
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const q = `SELECT concat_ws(',', id, x IS NULL, s.a, s.n IS NULL, typeof(x), typeof(s)) FROM t ORDER BY id`
	if got := queryStrings(t, openView(t, store, snap), q); len(got) != 0 {
		t.Fatalf("empty table: %v", got)
	}

	rows := func(from, to int) func(*writer.Buffer) {
		return func(buf *writer.Buffer) {
			for i := from; i < to; i++ {
				buf.SetInt(0, int64(i))
				if i%2 == 0 {
					buf.SetNull(1)
				}
				n := buf.Nested(2)
				n.BeginStruct()
				n.Field(0)
				n.Int(int64(10 * i))
				if i%2 == 0 {
					n.Field(1)
					n.Null()
				}
				n.EndStruct()
				if err := buf.EndRow(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	appendRows(t, tbl, store, rows(1, 3))
	snap = appendRows(t, tbl, store, rows(3, 5))

	// Another writer's file that stores x and s.n anyway.
	db := openView(t, store, snap)
	other := filepath.Join(dir, "other.parquet")
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`COPY (SELECT 9::BIGINT AS id, 42 AS x, {'a': 90, 'n': 7} AS s) TO %s (FORMAT parquet)`, quoteString(other))); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Commit(ctx, &table.Transaction{Adds: []table.Add{{Path: "other.parquet", PartitionValues: map[string]*string{}, Size: st.Size(), DataChange: true}}}); err != nil {
		t.Fatal(err)
	}
	if snap, err = tbl.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}

	got := queryStrings(t, openView(t, store, snap), q)
	var want []string
	for _, i := range []int{1, 2, 3, 4, 9} {
		want = append(want, fmt.Sprintf(`%d,true,%d,true,"NULL",STRUCT(a INTEGER, n "NULL")`, i, 10*i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
