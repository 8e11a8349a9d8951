package schema

import (
	"errors"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// voidTable has a void column and a void struct field, as Spark creates them from NULL.
func voidTable() *table.StructType {
	return &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "x", Type: table.Void, Nullable: true},
		{Name: "s", Type: &table.StructType{Fields: []*table.StructField{
			{Name: "a", Type: table.Integer, Nullable: true},
			{Name: "n", Type: table.Void, Nullable: true},
		}}, Nullable: true},
	}}
}

// A JSON value for a void column is fine when null or absent; any other value is a
// *FieldError naming the column, never dropped.
func TestJSONVoid(t *testing.T) {
	buf, err := writer.NewBuffer(writer.Spec{Schema: voidTable()}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewJSONDecoder(buf, buf.Columns(), JSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ msg, field string }{
		{`{"id":1}`, ""},
		{`{"id":2,"x":null,"s":{"a":1,"n":null}}`, ""},
		{`{"id":3,"s":{"a":1}}`, ""},
		{`{"id":4,"x":5}`, "x"},
		{`{"id":5,"x":"null"}`, "x"},
		{`{"id":6,"x":{}}`, "x"},
		{`{"id":7,"s":{"n":[null]}}`, "s.n"},
	} {
		err := dec.Decode([]byte(tc.msg))
		if err == nil {
			err = buf.EndRow()
		} else {
			buf.AbortRow()
		}
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.msg, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Msg, "void")):
			t.Errorf("%s: got %v, want a *FieldError for %s", tc.msg, err, tc.field)
		}
	}
	checkRows(t, readBackJSON(t, buf), []string{`{"id":1,"s":null}`, `{"id":2,"s":{"a":1}}`, `{"id":3,"s":{"a":1}}`})
}

// An Avro null (alone or a union of null alone) maps to a void column and decodes into
// one; an Avro type with values is refused for a void column.
func TestAvroVoid(t *testing.T) {
	s := mustParse(t, recordSchema(`{"name":"id","type":"long"},{"name":"x","type":"null"},`+
		`{"name":"s","type":["null",{"type":"record","name":"S","fields":[{"name":"a","type":["null","int"]},{"name":"n","type":["null"]}]}]}`))
	ts, err := AvroTableSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ts.SchemaString(), voidTable().SchemaString(); got != want {
		t.Fatalf("mapped to\n %s\nwant %s", got, want)
	}
	buf := newAvroBuffer(t, ts)
	dec, err := NewAvroDecoder(s, 1, buf, buf.Columns(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	decodeRows(t, avro.DefaultConfig, s, dec, buf, []any{
		map[string]any{"id": int64(1), "x": nil, "s": nil},
		map[string]any{"id": int64(2), "x": nil, "s": map[string]any{"test.S": map[string]any{"a": int32(7), "n": nil}}},
	})
	checkRows(t, readBackJSON(t, buf), []string{`{"id":1,"s":null}`, `{"id":2,"s":{"a":7}}`})

	w := mustParse(t, recordSchema(`{"name":"id","type":"long"},{"name":"x","type":["null","int"]}`))
	var se *AvroSchemaError
	b := newAvroBuffer(t, voidTable())
	if _, err := NewAvroDecoder(w, 2, b, b.Columns(), AvroOptions{}); !errors.As(err, &se) || se.Field != "x" {
		t.Fatalf("an int for a void column: got %v, want *AvroSchemaError for x", err)
	}
}
