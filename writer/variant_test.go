package writer_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	pqvariant "github.com/parquet-go/parquet-go/variant"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/variant"
	"github.com/sluicelake/sluice/writer"
)

func variantSchema() *table.StructType {
	return &table.StructType{Fields: []*table.StructField{
		field("id", table.Long, false),
		field("v", table.Variant, true),
	}}
}

// Variant columns take JSON text and land as Parquet VARIANT groups that DuckDB reads
// back as the same values (and parquet-go's own variant decoder too); the statistics
// hold only their null count.
func TestVariantRoundTrip(t *testing.T) {
	docs := []string{
		`{"a": 1, "b": [true, null, "x"], "c": {"d": 2.5}}`,
		`"plain string"`,
		`12345678901`,
		`[1, 2, 3]`,
		`{"z": 1, "a": 2}`,
	}
	rows := [][]any{}
	for i, d := range docs {
		rows = append(rows, []any{int64(i), d})
	}
	rows = append(rows, []any{int64(len(docs)), nil})
	paths, infos := writeFiles(t, t.TempDir(), variantSchema(), writer.DefaultConfig(), rows)

	db := openDuck(t)
	got, err := db.Query("SELECT id, typeof(v), CASE WHEN v IS NULL THEN NULL ELSE v::JSON::VARCHAR END FROM read_parquet(" + fileList(paths) + ") ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	n := 0
	for got.Next() {
		var id int
		var typ string
		var text *string
		if err := got.Scan(&id, &typ, &text); err != nil {
			t.Fatal(err)
		}
		if typ != "VARIANT" {
			t.Errorf("row %d: DuckDB reads a %s, want VARIANT", id, typ)
		}
		if id == len(docs) {
			if text != nil {
				t.Errorf("null row reads %s", *text)
			}
			n++
			continue
		}
		if text == nil || !sameJSON(t, *text, docs[id]) {
			t.Errorf("row %d: DuckDB reads %v, want %s", id, text, docs[id])
		}
		n++
	}
	if n != len(rows) {
		t.Fatalf("%d rows read, want %d", n, len(rows))
	}

	// The raw group holds valid encodings (parquet-go's decoder takes them) of the
	// same values (ours reads them back).
	metaCol, valCol := leafBytes(t, paths[0], 1), leafBytes(t, paths[0], 2)
	for i, d := range docs {
		if _, err := pqvariant.Unmarshal(metaCol[i], valCol[i]); err != nil {
			t.Fatalf("row %d: parquet-go: %v", i, err)
		}
		text, err := variant.AppendJSON(nil, metaCol[i], valCol[i])
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if !sameJSON(t, string(text), d) {
			t.Errorf("row %d: decodes to %s, want %s", i, text, d)
		}
	}

	stats := infos[0].Stats
	if !strings.Contains(stats, `"nullCount":{"id":0,"v":1}`) || strings.Contains(stats, `"v":{`) || strings.Count(stats, `"v"`) != 1 {
		t.Errorf("stats %s: want only a null count for v", stats)
	}
}

// A variant column refuses text that is not JSON, naming the column, and the row is
// discarded whole.
func TestVariantRefusesBadJSON(t *testing.T) {
	buf, err := writer.NewBuffer(writer.Spec{Schema: variantSchema()}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	buf.SetInt(0, 1)
	buf.SetBytes(1, []byte(`{"a": `))
	var ve *writer.ValueError
	if err := buf.EndRow(); !errors.As(err, &ve) || ve.Path != "v" {
		t.Fatalf("got %v, want a ValueError on v", err)
	}
	if buf.Rows() != 0 {
		t.Fatal("the bad row was kept")
	}
}

// Variant columns inside structs, lists or maps, and variant partition columns, are
// refused when the buffer is made, by column.
func TestVariantRefusedWhereUnsupported(t *testing.T) {
	nested := &table.StructType{Fields: []*table.StructField{
		field("id", table.Long, false),
		field("s", &table.StructType{Fields: []*table.StructField{field("v", table.Variant, true)}}, true),
	}}
	if _, err := writer.NewBuffer(writer.Spec{Schema: nested}, writer.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "s.v") {
		t.Errorf("nested variant: %v", err)
	}
	if _, err := writer.NewBuffer(writer.Spec{Schema: variantSchema(), PartitionColumns: []string{"v"}}, writer.DefaultConfig()); err == nil || !strings.Contains(err.Error(), `"v"`) {
		t.Errorf("variant partition column: %v", err)
	}
}

// leafBytes reads the non-null values of the byte-array leaf column at index col.
func leafBytes(t *testing.T, path string, col int) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, rg := range f.RowGroups() {
		pages := rg.ColumnChunks()[col].Pages()
		for {
			p, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			vals := make([]parquet.Value, p.NumValues())
			n, _ := p.Values().ReadValues(vals)
			for _, v := range vals[:n] {
				if !v.IsNull() {
					out = append(out, bytes.Clone(v.ByteArray()))
				}
			}
		}
		pages.Close()
	}
	return out
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestVariantAfterNestedBytes: a variant column between two nested columns with
// string leaves. Encoding the variant once reused the scratch value that still aliased
// the row's nested bytes, and overwrote the later column's strings with the variant's
// (a key_format json/avro/protobuf table that evolved a struct or map column after
// _kafka_key).
func TestVariantAfterNestedBytes(t *testing.T) {
	inner := &table.StructType{Fields: []*table.StructField{field("s", table.String, true)}}
	ts := &table.StructType{Fields: []*table.StructField{
		field("a", inner, true), field("v", table.Variant, true), field("b", inner, true),
		field("m", &table.MapType{KeyType: table.String, ValueType: table.String}, true),
	}}
	buf, err := writer.NewBuffer(writer.Spec{Schema: ts}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		n := buf.Nested(0)
		n.BeginStruct()
		n.Field(0)
		n.Bytes([]byte("aaaa"))
		n.EndStruct()
		buf.SetBytes(1, []byte(`{"region":"eu","id":12345}`))
		n = buf.Nested(2)
		n.BeginStruct()
		n.Field(0)
		n.Bytes([]byte("visa"))
		n.EndStruct()
		n = buf.Nested(3)
		n.BeginMap()
		n.Bytes([]byte("k"))
		n.Bytes([]byte("value"))
		n.EndMap()
		if err := buf.EndRow(); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	dir := t.TempDir()
	var paths []string
	for _, p := range buf.Take() {
		path := dir + "/f.parquet"
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		for !p.Done() {
			if _, err := p.Encode(f); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		paths = append(paths, path)
	}
	var got string
	if err := openDuck(t).QueryRow("SELECT string_agg(to_json(a)::VARCHAR || ' ' || to_json(b)::VARCHAR || ' ' || to_json(m)::VARCHAR, ',') FROM read_parquet(" + fileList(paths) + ")").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat(`{"s":"aaaa"} {"s":"visa"} {"k":"value"},`, 3); got+"," != want {
		t.Fatalf("rows %q, want %q", got, want)
	}
}
