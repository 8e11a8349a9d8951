package schema

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

var widening = EvolveOptions{TypeWidening: true}

func decType(p, s int) *table.DecimalType { return &table.DecimalType{Precision: p, Scale: s} }

// With type widening, Evolve widens a column, struct field, array element or map key
// or value to incoming's type when Delta's schema evolution would, and records each
// change in the metadata of the nearest struct field (fieldPath below it).
func TestEvolveTypeWidening(t *testing.T) {
	arr := func(e table.DataType) *table.ArrayType { return &table.ArrayType{ElementType: e, ContainsNull: true} }
	mp := func(k, v table.DataType) *table.MapType {
		return &table.MapType{KeyType: k, ValueType: v, ValueContainsNull: true}
	}
	cases := []struct {
		name    string
		cur, in *table.StructType
		want    string // compactType of merged
		meta    map[string]string
		widened string
	}{
		{"integer to long", evStruct(evField("n", table.Integer, true)), evStruct(evField("n", table.Long, true)),
			"struct<n:long?>", map[string]string{"n": `[{"fromType":"integer","toType":"long"}]`}, "n"},
		{"byte to short", evStruct(evField("n", table.Byte, false)), evStruct(evField("n", table.Short, false)),
			"struct<n:short>", map[string]string{"n": `[{"fromType":"byte","toType":"short"}]`}, "n"},
		{"float to double in a struct", evStruct(evField("s", evStruct(evField("x", table.Float, true)), true)), evStruct(evField("s", evStruct(evField("x", table.Double, true)), true)),
			"struct<s:struct<x:double?>?>", map[string]string{"s.x": `[{"fromType":"float","toType":"double"}]`}, "s.x"},
		{"date to timestamp_ntz", evStruct(evField("d", table.Date, true)), evStruct(evField("d", table.TimestampNTZ, true)),
			"struct<d:timestamp_ntz?>", map[string]string{"d": `[{"fromType":"date","toType":"timestamp_ntz"}]`}, "d"},
		{"decimal precision", evStruct(evField("a", decType(10, 2), true)), evStruct(evField("a", decType(12, 2), true)),
			"struct<a:decimal(12,2)?>", map[string]string{"a": `[{"fromType":"decimal(10,2)","toType":"decimal(12,2)"}]`}, "a"},
		{"decimal scale in array elements", evStruct(evField("l", arr(decType(10, 2)), true)), evStruct(evField("l", arr(decType(12, 4)), true)),
			"struct<l:array<decimal(12,4)?>?>", map[string]string{"l": `[{"fromType":"decimal(10,2)","toType":"decimal(12,4)","fieldPath":"element"}]`}, "l.element"},
		{"map key and value", evStruct(evField("m", mp(table.Short, table.Integer), true)), evStruct(evField("m", mp(table.Integer, table.Long), true)),
			"struct<m:map<integer,long?>?>", map[string]string{"m": `[{"fromType":"short","toType":"integer","fieldPath":"key"},{"fromType":"integer","toType":"long","fieldPath":"value"}]`}, "m.key m.value"},
		{"map value in array elements", evStruct(evField("e", arr(mp(table.String, decType(6, 2))), true)), evStruct(evField("e", arr(mp(table.String, decType(10, 4))), true)),
			"struct<e:array<map<string,decimal(10,4)?>?>?>", map[string]string{"e": `[{"fromType":"decimal(6,2)","toType":"decimal(10,4)","fieldPath":"element.value"}]`}, "e.element.value"},
		{"struct field in array elements", evStruct(evField("l", arr(evStruct(evField("q", table.Integer, true))), true)), evStruct(evField("l", arr(evStruct(evField("q", table.Long, true))), true)),
			"struct<l:array<struct<q:long?>?>?>", map[string]string{"l": ``, "l.element.q": `[{"fromType":"integer","toType":"long"}]`}, "l.element.q"},
		{"earlier changes and other keys stay",
			evStruct(&table.StructField{Name: "n", Type: table.Integer, Nullable: true, Metadata: json.RawMessage(`{"comment":"c","delta.typeChanges":[{"fromType":"short","toType":"integer"}]}`)}),
			evStruct(evField("n", table.Long, true)),
			"struct<n:long?>", map[string]string{"n": `[{"fromType":"short","toType":"integer"},{"fromType":"integer","toType":"long"}]`}, "n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			curJSON := tc.cur.SchemaString()
			merged, changes, err := Evolve(tc.cur, tc.in, widening)
			if err != nil {
				t.Fatal(err)
			}
			if got := compactType(merged); got != tc.want {
				t.Fatalf("merged %s, want %s", got, tc.want)
			}
			if got := strings.Join(changes.Widened, " "); got != tc.widened || !changes.Any() {
				t.Fatalf("widened %q, want %q", got, tc.widened)
			}
			for path, want := range tc.meta {
				f := fieldAt(merged, path)
				var m map[string]json.RawMessage
				if len(f.Metadata) > 0 {
					if err := json.Unmarshal(f.Metadata, &m); err != nil {
						t.Fatal(err)
					}
				}
				if got := string(m["delta.typeChanges"]); got != want {
					t.Fatalf("%s: delta.typeChanges %s, want %s", path, got, want)
				}
			}
			if tc.cur.SchemaString() != curJSON {
				t.Fatal("Evolve modified its input")
			}
			if _, again, err := Evolve(merged, tc.in, widening); err != nil || again.Any() {
				t.Fatalf("second Evolve: changed %v, %v", again, err)
			}
			if _, _, err := Evolve(tc.cur, tc.in, EvolveOptions{}); err == nil {
				t.Fatal("widened without the option")
			}
		})
	}
}

// fieldAt returns the struct field at a dotted path, through array elements.
func fieldAt(s *table.StructType, path string) *table.StructField {
	var f *table.StructField
	parts := strings.Split(path, ".")
	for i := 0; i < len(parts); i++ {
		f = s.Field(parts[i])
		t := f.Type
		for i+1 < len(parts) && parts[i+1] == "element" {
			t = t.(*table.ArrayType).ElementType
			i++
		}
		if st, ok := t.(*table.StructType); ok {
			s = st
		}
	}
	return f
}

// Type changes that are no widening, or that Delta's schema evolution leaves to an
// explicit ALTER COLUMN (integer to decimal or double), stay refused with the option.
func TestEvolveTypeWideningRefused(t *testing.T) {
	cases := []struct {
		cur, in table.DataType
	}{
		{table.Long, table.Integer}, {table.Integer, table.Double}, {table.Integer, decType(10, 0)}, {table.Long, decType(20, 0)},
		{table.Long, table.Double}, {table.Integer, table.Float}, {decType(10, 2), decType(10, 4)}, {decType(12, 2), decType(10, 2)},
		{table.Date, table.Timestamp}, {table.Integer, table.String},
	}
	for _, tc := range cases {
		_, _, err := Evolve(evStruct(evField("c", tc.cur, true)), evStruct(evField("c", tc.in, true)), widening)
		var ee *EvolutionError
		if !errors.As(err, &ee) || ee.Path != "c" || !strings.Contains(ee.Msg, "which is no widening schema evolution applies") {
			t.Errorf("%s to %s: got %v", tc.cur, tc.in, err)
		}
	}
}

// Widen with type widening takes a writer's wider types (Evolve then records them);
// a narrower writer type, one the decoder promotes, asks for nothing.
func TestWidenTypes(t *testing.T) {
	cur := evStruct(
		evField("a", table.Integer, true),
		evField("b", table.Float, true),
		evField("l", &table.ArrayType{ElementType: table.Date, ContainsNull: true}, true),
		evField("m", &table.MapType{KeyType: table.String, ValueType: decType(10, 2), ValueContainsNull: true}, true),
		evField("c", table.Long, true),
		evField("x", table.Integer, true),
	)
	writer := evStruct(
		evField("a", table.Long, true),
		evField("b", table.Double, true),
		evField("l", &table.ArrayType{ElementType: table.TimestampNTZ, ContainsNull: true}, true),
		evField("m", &table.MapType{KeyType: table.String, ValueType: decType(12, 2), ValueContainsNull: true}, true),
		evField("c", table.Integer, true), // narrower: Avro promotes it
		evField("x", table.Double, true),  // integer to double: no schema evolution
	)
	if _, changed := Widen(cur, writer, EvolveOptions{}); changed {
		t.Fatal("types widened without the option")
	}
	got, changed := Widen(cur, writer, widening)
	if !changed {
		t.Fatal("no change reported")
	}
	if want := "struct<a:long?,b:double?,l:array<timestamp_ntz?>?,m:map<string,decimal(12,2)?>?,c:long?,x:integer?>"; compactType(got) != want {
		t.Fatalf("got %s, want %s", compactType(got), want)
	}
	_, changes, err := Evolve(cur, got, widening)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(changes.Widened, " "); w != "a b l.element m.value" {
		t.Fatalf("widened %q", w)
	}
}

// With TypeWidening (and UnknownEvolve), a JSON value that needs a wider column type
// is reported with the type it needs, the rest of the message still read; without it,
// the value is an error as before. Once the column is widened the message decodes.
func TestJSONTypeWidening(t *testing.T) {
	schema := evStruct(
		evField("id", table.Integer, true),
		evField("f", table.Float, true),
		evField("price", decType(5, 2), true),
		evField("l", &table.ArrayType{ElementType: table.Short, ContainsNull: true}, true),
		evField("m", &table.MapType{KeyType: table.Byte, ValueType: table.String, ValueContainsNull: true}, true),
		evField("s", evStruct(evField("n", table.Integer, true)), true),
		evField("d", table.Date, true),
	)
	msg := []byte(`{"id":3000000000,"f":1e300,"price":1234.567,"l":[1,70000],"m":{"300":"x"},"s":{"n":-3000000000},"d":"2024-01-01","new":1}`)
	decoder := func(t *testing.T, s *table.StructType, opts JSONOptions) (*writer.Buffer, *JSONDecoder) {
		buf := newAvroBuffer(t, s)
		dec, err := NewJSONDecoder(buf, buf.Columns(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return buf, dec
	}
	buf, dec := decoder(t, schema, JSONOptions{UnknownFields: UnknownEvolve, TypeWidening: true})
	err := dec.Decode(msg)
	buf.AbortRow()
	var nf *NewFieldsError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want *NewFieldsError", err)
	}
	var got []string
	for _, w := range nf.Widened {
		got = append(got, strings.Join(w.Path, ".")+":"+w.Type.String())
	}
	want := []string{"id:long", "f:double", "price:decimal(7,3)", "l.element:long", "m.key:long", "s.n:long"}
	if !slices.Equal(got, want) || len(nf.Fields) != 1 || nf.Fields[0].Path[0] != "new" {
		t.Fatalf("widened %q and new fields %v, want %q and [new]", got, nf.Fields, want)
	}

	for _, opts := range []JSONOptions{{UnknownFields: UnknownEvolve}, {UnknownFields: UnknownIgnore, TypeWidening: true}} {
		buf, dec := decoder(t, schema, opts)
		var fe *FieldError
		if err := dec.Decode(msg); !errors.As(err, &fe) || fe.Field != "id" {
			t.Fatalf("%+v: got %v, want the value refused", opts, err)
		}
		buf.AbortRow()
	}

	// The table evolves with what the decoder reported; the message then decodes.
	incoming := schema.Clone()
	for _, w := range nf.Widened {
		at := fieldAt(incoming, w.Path[0])
		switch {
		case len(w.Path) == 1:
			at.Type = w.Type
		case w.Path[1] == "element":
			at.Type.(*table.ArrayType).ElementType = w.Type
		case w.Path[1] == "key":
			at.Type.(*table.MapType).KeyType = w.Type
		default:
			at.Type.(*table.StructType).Field(w.Path[1]).Type = w.Type
		}
	}
	merged, _, err := Evolve(schema, incoming, widening)
	if err != nil {
		t.Fatal(err)
	}
	buf, dec = decoder(t, merged, JSONOptions{UnknownFields: UnknownIgnore})
	if err := dec.Decode(msg); err != nil {
		t.Fatal(err)
	}
	if err := buf.EndRow(); err != nil {
		t.Fatal(err)
	}
	checkRows(t, readBackJSON(t, buf), []string{
		`{"id":3000000000,"f":1e300,"price":1234.567,"l":[1,70000],"m":{"300":"x"},"s":{"n":-3000000000},"d":"2024-01-01"}`,
	})
}

// A widened column takes messages of both the new writer schema and the old one: Avro
// promotes int to long and float to double, and the plan converts a date into a
// timestamp_ntz and a decimal into one of larger scale.
func TestAvroIntoWidenedColumns(t *testing.T) {
	oldSchema := mustParse(t, recordSchema(`{"name":"id","type":"int"},{"name":"f","type":"float"},
		{"name":"d","type":{"type":"int","logicalType":"date"}},
		{"name":"a","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
		{"name":"w","type":{"type":"fixed","name":"W","size":9,"logicalType":"decimal","precision":18,"scale":2}}`))
	newSchema := mustParse(t, recordSchema(`{"name":"id","type":"long"},{"name":"f","type":"double"},
		{"name":"d","type":{"type":"long","logicalType":"local-timestamp-micros"}},
		{"name":"a","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":4}},
		{"name":"w","type":{"type":"fixed","name":"W","size":10,"logicalType":"decimal","precision":22,"scale":4}}`))
	narrow, err := AvroTableSchema(oldSchema)
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := AvroTableSchema(newSchema)
	if err != nil {
		t.Fatal(err)
	}
	nb := newAvroBuffer(t, narrow)
	if _, err := NewAvroDecoder(newSchema, 2, nb, nb.Columns(), AvroOptions{}); err == nil {
		t.Fatal("the new writer schema compiled against the narrow table")
	}
	incoming, changed := Widen(narrow, mapped, widening)
	if !changed {
		t.Fatal("Widen asked for nothing")
	}
	wide, changes, err := Evolve(narrow, incoming, widening)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(changes.Widened, " "); got != "id f d a w" {
		t.Fatalf("widened %q", got)
	}
	buf := newAvroBuffer(t, wide)
	for i, c := range []struct {
		s     avro.Schema
		value map[string]any
	}{
		{oldSchema, map[string]any{"id": 7, "f": float32(1.5), "d": 19723, "a": ratOf("-1.25"), "w": ratOf("1234567890123456.78")}},
		{newSchema, map[string]any{"id": int64(1) << 40, "f": 1e300, "d": int64(1704110400000000), "a": ratOf("12345678.9012"), "w": ratOf("-123456789012345678.9012")}},
	} {
		dec, err := NewAvroDecoder(c.s, int32(i+1), buf, buf.Columns(), AvroOptions{})
		if err != nil {
			t.Fatalf("schema %d: %v", i+1, err)
		}
		decodeRows(t, avro.DefaultConfig, c.s, dec, buf, []any{c.value})
	}
	checkRows(t, readBackJSON(t, buf), []string{
		`{"id":7,"f":1.5,"d":"2024-01-01 00:00:00","a":-1.25,"w":1234567890123456.7800}`,
		`{"id":1099511627776,"f":1e300,"d":"2024-01-01 12:00:00","a":12345678.9012,"w":-123456789012345678.9012}`,
	})
}
