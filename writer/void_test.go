package writer_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// voidSchema has a top-level void column and a void field in a struct, both declared
// NOT NULL to show that void is nullable whatever its field says.
func voidSchema() *table.StructType {
	return &table.StructType{Fields: []*table.StructField{
		field("id", table.Long, false),
		field("x", table.Void, false),
		field("s", &table.StructType{Fields: []*table.StructField{
			field("a", table.Integer, true),
			field("n", table.Void, false),
		}}, true),
		field("y", table.String, true),
	}}
}

// TestVoidWritesNoColumn: void columns take nulls (or nothing) at their schema
// positions and are in neither the Parquet file nor the statistics.
func TestVoidWritesNoColumn(t *testing.T) {
	schema := voidSchema()
	rows := [][]any{
		{int64(1), absent, structV{int64(10), nil}, "a"},
		{int64(2), nil, structV{int64(20), absent}, nil},
		{int64(3), nil, nil, "c"},
	}
	paths, infos := writeFiles(t, t.TempDir(), schema, writer.DefaultConfig(), rows)
	if len(paths) != 1 {
		t.Fatalf("%d files", len(paths))
	}
	root := parquetRoot(t, paths[0])
	var names []string
	for _, c := range root.Columns() {
		names = append(names, c.Name())
		for _, inner := range c.Columns() {
			names = append(names, c.Name()+"."+inner.Name())
		}
	}
	if got := strings.Join(names, ","); got != "id,s,s.a,y" {
		t.Errorf("file columns %s, want id,s,s.a,y", got)
	}

	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]parquet.Row, len(rows)+1)
	n, err := f.RowGroups()[0].Rows().ReadRows(got)
	if err != nil && !errors.Is(err, io.EOF) || n != len(rows) {
		t.Fatalf("read %d rows: %v", n, err)
	}
	for i, want := range []struct {
		id, a int64
		y     string
	}{{1, 10, "a"}, {2, 20, ""}, {3, -1, "c"}} {
		r := got[i]
		if len(r) != 3 || r[0].Int64() != want.id || (want.a < 0) != r[1].IsNull() || (want.a >= 0 && int64(r[1].Int32()) != want.a) || string(r[2].ByteArray()) != want.y {
			t.Errorf("row %d: %v", i, r)
		}
	}

	stats := decodeStats(t, infos[0].Stats)
	for _, section := range []string{"minValues", "maxValues", "nullCount"} {
		m, _ := stats[section].(map[string]any)
		s, _ := m["s"].(map[string]any)
		if _, ok := m["x"]; ok || s == nil || len(s) != 1 {
			t.Errorf("%s: %v, want no void entries", section, m)
		}
	}
}

func TestVoidRefusesValues(t *testing.T) {
	buf, err := writer.NewBuffer(writer.Spec{Schema: voidSchema()}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !buf.Columns()[1].Primitive() {
		t.Error("a void column is set with SetNull: Primitive() = false")
	}
	for name, row := range map[string]func(){
		"x":   func() { buf.SetInt(1, 1) },
		"s.n": func() { n := buf.Nested(2); n.BeginStruct(); n.Field(1); n.Bytes([]byte("v")); n.EndStruct() },
	} {
		buf.SetInt(0, 1)
		row()
		var ve *writer.ValueError
		if err := buf.EndRow(); !errors.As(err, &ve) || ve.Path != name {
			t.Errorf("%s: got %v, want a *ValueError for it", name, err)
		}
	}
	if buf.Rows() != 0 {
		t.Fatalf("%d rows kept", buf.Rows())
	}
}

func TestVoidSpecRefused(t *testing.T) {
	allVoid := &table.StructType{Fields: []*table.StructField{field("n", table.Void, true)}}
	for name, spec := range map[string]writer.Spec{
		"partition": {Schema: voidSchema(), PartitionColumns: []string{"x"}},
		"all void": {Schema: &table.StructType{Fields: []*table.StructField{
			field("id", table.Long, false), field("s", allVoid, true),
		}}},
		"in a list": {Schema: &table.StructType{Fields: []*table.StructField{
			field("l", &table.ArrayType{ElementType: table.Void, ContainsNull: true}, true),
		}}},
		"only void": {Schema: &table.StructType{Fields: []*table.StructField{field("x", table.Void, true)}}},
	} {
		if _, err := writer.NewBuffer(spec, writer.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "void") {
			t.Errorf("%s: got %v, want an error about void", name, err)
		}
	}
}
