package query

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// A table whose columns type widening changed after some files were written: the
// view gives every column the table's (wider) type, for the older files' rows as for
// the newer ones', both before any file has the wider type and after.
func TestQueryWidenedColumns(t *testing.T) {
	ctx := context.Background()
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tbl := table.New(store)
	dec := func(p, s int) *table.DecimalType { return &table.DecimalType{Precision: p, Scale: s} }
	narrow := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Integer, Nullable: true},
		{Name: "f", Type: table.Float, Nullable: true},
		{Name: "d", Type: table.Date, Nullable: true},
		{Name: "amount", Type: dec(10, 2), Nullable: true},
		{Name: "s", Type: &table.StructType{Fields: []*table.StructField{{Name: "n", Type: table.Short, Nullable: true}}}, Nullable: true},
		{Name: "l", Type: &table.ArrayType{ElementType: table.Integer, ContainsNull: true}, Nullable: true},
		{Name: "m", Type: &table.MapType{KeyType: table.String, ValueType: dec(5, 1), ValueContainsNull: true}, Nullable: true},
	}}
	if _, err := tbl.Create(ctx, table.CreateOptions{Name: "t", Schema: narrow, Configuration: map[string]string{table.EnableTypeWideningKey: "true"}}); err != nil {
		t.Fatal(err)
	}
	// row writes one row: the columns in order, the struct's field, the list's one
	// element, the map's value under "k" (decimals and dates as the writer takes them).
	row := func(id int64, f float64, d, amount, n, elem, value int64) func(*writer.Buffer) {
		return func(buf *writer.Buffer) {
			buf.SetInt(0, id)
			buf.SetFloat(1, f)
			buf.SetInt(2, d)
			buf.SetInt(3, amount)
			nest := buf.Nested(4)
			nest.BeginStruct()
			nest.Field(0)
			nest.Int(n)
			nest.EndStruct()
			nest = buf.Nested(5)
			nest.BeginList()
			nest.Int(elem)
			nest.EndList()
			nest = buf.Nested(6)
			nest.BeginMap()
			nest.Bytes([]byte("k"))
			nest.Int(value)
			nest.EndMap()
			if err := buf.EndRow(); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendRows(t, tbl, store, row(7, 1.5, 19723, 150, 3, 1, 25)) // 2024-01-01, 1.50, 2.5

	// Widen every column, as schema evolution would.
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wide := snap.Schema().Clone()
	change := func(f *table.StructField, to table.DataType, fieldPath string, set func()) {
		t.Helper()
		from := f.Type
		switch x := f.Type.(type) {
		case *table.ArrayType:
			from = x.ElementType
		case *table.MapType:
			from = x.ValueType
		}
		if err := f.AddTypeChanges(table.TypeChange{FromType: from.String(), ToType: to.String(), FieldPath: fieldPath}); err != nil {
			t.Fatal(err)
		}
		set()
	}
	fs := wide.Fields
	change(fs[0], table.Long, "", func() { fs[0].Type = table.Long })
	change(fs[1], table.Double, "", func() { fs[1].Type = table.Double })
	change(fs[2], table.TimestampNTZ, "", func() { fs[2].Type = table.TimestampNTZ })
	change(fs[3], dec(12, 4), "", func() { fs[3].Type = dec(12, 4) })
	inner := fs[4].Type.(*table.StructType).Fields[0]
	change(inner, table.Long, "", func() { inner.Type = table.Long })
	change(fs[5], table.Long, "element", func() { fs[5].Type.(*table.ArrayType).ElementType = table.Long })
	change(fs[6], dec(7, 2), "value", func() { fs[6].Type.(*table.MapType).ValueType = dec(7, 2) })
	meta := snap.Metadata()
	meta.SchemaString = wide.SchemaString()
	if _, err := tbl.Commit(ctx, &table.Transaction{Metadata: &meta, BaseSchemaString: snap.Metadata().SchemaString}); err != nil {
		t.Fatal(err)
	}

	wantTypes := []string{"id BIGINT", "f DOUBLE", "d TIMESTAMP", "amount DECIMAL(12,4)", "s STRUCT(n BIGINT)", "l BIGINT[]", "m MAP(VARCHAR, DECIMAL(7,2))"}
	const oldRow = "7|1.5|2024-01-01 00:00:00|1.5000|{'n': 3}|[1]|{k=2.50}"
	check := func(snap *table.Snapshot, want []string) {
		t.Helper()
		db := openView(t, store, snap)
		if got := queryStrings(t, db, "SELECT concat(column_name, ' ', column_type) FROM (DESCRIBE t)"); !slices.Equal(got, wantTypes) {
			t.Fatalf("view columns\n %q\nwant\n %q", got, wantTypes)
		}
		got := queryStrings(t, db, "SELECT concat_ws('|', id, f, d, amount, s, l, m) FROM t ORDER BY id")
		if !slices.Equal(got, want) {
			t.Fatalf("rows\n %q\nwant\n %q", got, want)
		}
	}
	snap, err = tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	check(snap, []string{oldRow}) // only narrow files

	// 2024-01-01 12:00:00, 12345678.9012, 12345.67
	snap = appendRows(t, tbl, store, row(1<<40, 1e300, 1704110400000000, 123456789012, 1<<40, 1<<40, 1234567))
	check(snap, []string{oldRow, "1099511627776|1e+300|2024-01-01 12:00:00|12345678.9012|{'n': 1099511627776}|[1099511627776]|{k=12345.67}"})

	if p := snap.Protocol(); !slices.Contains(p.ReaderFeatures, "typeWidening") || !slices.Contains(p.WriterFeatures, "typeWidening") {
		t.Fatalf("protocol %+v: want typeWidening for readers and writers", p)
	}
	if !strings.Contains(snap.Metadata().SchemaString, `"delta.typeChanges":[{"fromType":"integer","toType":"long","fieldPath":"element"}]`) {
		t.Fatalf("schema %s: the array element's change is not recorded", snap.Metadata().SchemaString)
	}
}
