package schema

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/schema/registrytest"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// recordSchema wraps field definitions in a top-level record "T".
func recordSchema(fields string) string {
	return `{"type":"record","name":"T","namespace":"test","fields":[` + fields + `]}`
}

func mustParse(t testing.TB, text string) avro.Schema {
	t.Helper()
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return s
}

// compactType renders a table type with nullability ("?" after a nullable field, array
// element or map value), for comparing mappings at a glance.
func compactType(t table.DataType) string {
	switch t := t.(type) {
	case *table.StructType:
		parts := make([]string, len(t.Fields))
		for i, f := range t.Fields {
			parts[i] = f.Name + ":" + compactType(f.Type)
			if f.Nullable {
				parts[i] += "?"
			}
		}
		return "struct<" + strings.Join(parts, ",") + ">"
	case *table.ArrayType:
		s := "array<" + compactType(t.ElementType)
		if t.ContainsNull {
			s += "?"
		}
		return s + ">"
	case *table.MapType:
		s := "map<" + compactType(t.KeyType) + "," + compactType(t.ValueType)
		if t.ValueContainsNull {
			s += "?"
		}
		return s + ">"
	}
	return t.String()
}

func newAvroBuffer(t testing.TB, ts *table.StructType) *writer.Buffer {
	t.Helper()
	buf, err := writer.NewBuffer(writer.Spec{Schema: ts}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return buf
}

// decodeRows marshals each value with hamba/avro, decodes it into buf and ends the row.
func decodeRows(t testing.TB, api avro.API, s avro.Schema, dec *AvroDecoder, buf *writer.Buffer, values []any) {
	t.Helper()
	for i, v := range values {
		payload, err := api.Marshal(s, v)
		if err != nil {
			t.Fatalf("value %d: marshal: %v", i, err)
		}
		if err := dec.Decode(payload); err != nil {
			buf.AbortRow()
			t.Fatalf("value %d: decode % x: %v", i, payload, err)
		}
		if err := buf.EndRow(); err != nil {
			t.Fatalf("value %d: EndRow: %v", i, err)
		}
	}
}

// readBackJSON encodes the buffered rows to Parquet files and reads them with DuckDB,
// one JSON object per row, in row order.
func readBackJSON(t testing.TB, buf *writer.Buffer) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, p := range buf.Take() {
		for !p.Done() {
			path := filepath.Join(dir, fmt.Sprintf("f%03d.parquet", len(paths)))
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Encode(f); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, "'"+path+"'")
		}
	}
	if len(paths) == 0 {
		return nil
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{"SET TimeZone = 'UTC'", "SET threads = 1"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.Query("SELECT to_json(t)::VARCHAR FROM read_parquet([" + strings.Join(paths, ",") + "]) t")
	if err != nil {
		t.Fatal(err)
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

func checkRows(t testing.TB, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read back %d rows, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
}

func ratOf(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

const digits38 = "12345678901234567890123456789012345678"

// TestAvroGolden maps each writer schema to a table schema, decodes messages encoded by
// hamba/avro, writes Parquet and reads it back with DuckDB.
func TestAvroGolden(t *testing.T) {
	cases := []struct {
		name     string
		fields   string
		wantType string
		values   []any
		want     []string
	}{
		{
			name:     "primitives",
			fields:   `{"name":"b","type":"boolean"},{"name":"i","type":"int"},{"name":"l","type":"long"},{"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"s","type":"string"},{"name":"y","type":"bytes"}`,
			wantType: "struct<b:boolean,i:integer,l:long,f:float,d:double,s:string,y:binary>",
			values: []any{
				map[string]any{"b": true, "i": int32(-7), "l": int64(math.MaxInt64), "f": float32(1.5), "d": -2.25, "s": "héllo", "y": []byte{0, 0xff}},
				map[string]any{"b": false, "i": int32(math.MinInt32), "l": int64(math.MinInt64), "f": float32(0), "d": 1e300, "s": "", "y": []byte{}},
			},
			want: []string{
				`{"b":true,"i":-7,"l":9223372036854775807,"f":1.5,"d":-2.25,"s":"héllo","y":"\\x00\\xFF"}`,
				`{"b":false,"i":-2147483648,"l":-9223372036854775808,"f":0.0,"d":1e300,"s":"","y":""}`,
			},
		},
		{
			name:     "nullable primitives, null first or last",
			fields:   `{"name":"a","type":["null","long"]},{"name":"b","type":["string","null"]},{"name":"c","type":["long"]}`,
			wantType: "struct<a:long?,b:string?,c:long>",
			values: []any{
				map[string]any{"a": int64(1), "b": "x", "c": int64(3)},
				map[string]any{"a": nil, "b": nil, "c": int64(4)},
			},
			want: []string{`{"a":1,"b":"x","c":3}`, `{"a":null,"b":null,"c":4}`},
		},
		{
			name:     "enum and fixed",
			fields:   `{"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}},{"name":"x","type":{"type":"fixed","name":"F4","size":4}},{"name":"ne","type":["null","Color"]}`,
			wantType: "struct<e:string,x:binary,ne:string?>",
			values: []any{
				map[string]any{"e": "BLUE", "x": [4]byte{1, 2, 3, 4}, "ne": nil},
				map[string]any{"e": "RED", "x": [4]byte{}, "ne": map[string]any{"test.Color": "GREEN"}},
			},
			want: []string{`{"e":"BLUE","x":"\\x01\\x02\\x03\\x04","ne":null}`, `{"e":"RED","x":"\\x00\\x00\\x00\\x00","ne":"GREEN"}`},
		},
		{
			name: "decimals, bytes and fixed, up to 38 digits",
			fields: `{"name":"small","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},` +
				`{"name":"p18","type":{"type":"fixed","name":"F8","size":8,"logicalType":"decimal","precision":18,"scale":4}},` +
				`{"name":"wide","type":{"type":"bytes","logicalType":"decimal","precision":38,"scale":0}},` +
				`{"name":"wfix","type":{"type":"fixed","name":"F16","size":16,"logicalType":"decimal","precision":38,"scale":10}},` +
				`{"name":"nd","type":["null",{"type":"bytes","logicalType":"decimal","precision":20,"scale":3}]}`,
			wantType: "struct<small:decimal(10,2),p18:decimal(18,4),wide:decimal(38,0),wfix:decimal(38,10),nd:decimal(20,3)?>",
			values: []any{
				map[string]any{"small": ratOf("12.34"), "p18": ratOf("-12345678901234.5678"), "wide": ratOf(digits38), "wfix": ratOf("1234567890123456789012345678.9012345678"), "nd": ratOf("-1.5")},
				map[string]any{"small": ratOf("-0.01"), "p18": ratOf("0"), "wide": ratOf("-" + digits38), "wfix": ratOf("-0.0000000001"), "nd": nil},
				map[string]any{"small": ratOf("99999999.99"), "p18": ratOf("99999999999999.9999"), "wide": ratOf("99999999999999999999999999999999999999"), "wfix": ratOf("-9999999999999999999999999999.9999999999"), "nd": ratOf("99999999999999999.999")},
			},
			want: []string{
				`{"small":12.34,"p18":-12345678901234.5678,"wide":12345678901234567890123456789012345678,"wfix":1234567890123456789012345678.9012345678,"nd":-1.500}`,
				`{"small":-0.01,"p18":0.0000,"wide":-12345678901234567890123456789012345678,"wfix":-0.0000000001,"nd":null}`,
				`{"small":99999999.99,"p18":99999999999999.9999,"wide":99999999999999999999999999999999999999,"wfix":-9999999999999999999999999999.9999999999,"nd":99999999999999999.999}`,
			},
		},
		{
			name: "uuid, string and fixed(16)",
			fields: `{"name":"u","type":{"type":"string","logicalType":"uuid"}},` +
				`{"name":"fu","type":{"type":"fixed","name":"U16","size":16,"logicalType":"uuid"}}`,
			wantType: "struct<u:string,fu:string>",
			values: []any{
				map[string]any{"u": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "fu": [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}},
			},
			want: []string{`{"u":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","fu":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`},
		},
		{
			name: "dates, times and every timestamp flavour",
			fields: `{"name":"d","type":{"type":"int","logicalType":"date"}},` +
				`{"name":"tms","type":{"type":"int","logicalType":"time-millis"}},` +
				`{"name":"tus","type":{"type":"long","logicalType":"time-micros"}},` +
				`{"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},` +
				`{"name":"us","type":{"type":"long","logicalType":"timestamp-micros"}},` +
				`{"name":"ns","type":{"type":"long","logicalType":"timestamp-nanos"}},` +
				`{"name":"lms","type":{"type":"long","logicalType":"local-timestamp-millis"}},` +
				`{"name":"lus","type":{"type":"long","logicalType":"local-timestamp-micros"}},` +
				`{"name":"lns","type":{"type":"long","logicalType":"local-timestamp-nanos"}},` +
				`{"name":"nms","type":["null",{"type":"long","logicalType":"timestamp-millis"}]}`,
			wantType: "struct<d:date,tms:long,tus:long,ms:timestamp,us:timestamp,ns:timestamp,lms:timestamp_ntz,lus:timestamp_ntz,lns:timestamp_ntz,nms:timestamp?>",
			values: []any{
				map[string]any{
					"d": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "tms": 3723004 * time.Millisecond, "tus": 3723004005 * time.Microsecond,
					"ms": int64(1704164645123), "us": int64(1704164645123456), "ns": int64(1704164645123456789),
					"lms": int64(1704164645123), "lus": int64(1704164645123456), "lns": int64(1704164645123456789), "nms": nil,
				},
				map[string]any{
					"d": time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), "tms": time.Duration(0), "tus": time.Duration(0),
					"ms": int64(-1), "us": int64(-1), "ns": int64(-1),
					"lms": int64(0), "lus": int64(0), "lns": int64(-1001), "nms": map[string]any{"long.timestamp-millis": int64(86400000)},
				},
			},
			want: []string{
				`{"d":"2024-02-29","tms":3723004000,"tus":3723004005,"ms":"2024-01-02 03:04:05.123+00","us":"2024-01-02 03:04:05.123456+00","ns":"2024-01-02 03:04:05.123456+00","lms":"2024-01-02 03:04:05.123","lus":"2024-01-02 03:04:05.123456","lns":"2024-01-02 03:04:05.123456","nms":null}`,
				`{"d":"1969-12-31","tms":0,"tus":0,"ms":"1969-12-31 23:59:59.999+00","us":"1969-12-31 23:59:59.999999+00","ns":"1969-12-31 23:59:59.999999+00","lms":"1970-01-01 00:00:00","lus":"1970-01-01 00:00:00","lns":"1969-12-31 23:59:59.999998","nms":"1970-01-02 00:00:00+00"}`,
			},
		},
		{
			name: "nested records with nulls at every level",
			fields: `{"name":"outer","type":["null",{"type":"record","name":"Outer","fields":[` +
				`{"name":"id","type":"long"},` +
				`{"name":"inner","type":["null",{"type":"record","name":"Inner","fields":[{"name":"x","type":["null","int"]},{"name":"y","type":"string"}]}]},` +
				`{"name":"tags","type":["null",{"type":"array","items":["null","string"]}]}]}]},` +
				`{"name":"again","type":"Inner"}`,
			wantType: "struct<outer:struct<id:long,inner:struct<x:integer?,y:string>?,tags:array<string?>?>?,again:struct<x:integer?,y:string>>",
			values: []any{
				map[string]any{"outer": map[string]any{"test.Outer": map[string]any{"id": int64(1), "inner": map[string]any{"test.Inner": map[string]any{"x": int32(5), "y": "a"}}, "tags": []any{"p", nil, "q"}}}, "again": map[string]any{"x": nil, "y": "b"}},
				map[string]any{"outer": map[string]any{"test.Outer": map[string]any{"id": int64(2), "inner": nil, "tags": nil}}, "again": map[string]any{"x": int32(-1), "y": ""}},
				map[string]any{"outer": map[string]any{"test.Outer": map[string]any{"id": int64(3), "inner": map[string]any{"test.Inner": map[string]any{"x": nil, "y": "c"}}, "tags": []any{}}}, "again": map[string]any{"x": nil, "y": "d"}},
				map[string]any{"outer": nil, "again": map[string]any{"x": int32(0), "y": "e"}},
			},
			want: []string{
				`{"outer":{"id":1,"inner":{"x":5,"y":"a"},"tags":["p",null,"q"]},"again":{"x":null,"y":"b"}}`,
				`{"outer":{"id":2,"inner":null,"tags":null},"again":{"x":-1,"y":""}}`,
				`{"outer":{"id":3,"inner":{"x":null,"y":"c"},"tags":[]},"again":{"x":null,"y":"d"}}`,
				`{"outer":null,"again":{"x":0,"y":"e"}}`,
			},
		},
		{
			name: "arrays of records, maps, maps of arrays",
			fields: `{"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"},{"name":"qty","type":["null","int"]}]}}},` +
				`{"name":"attrs","type":{"type":"map","values":["null","long"]}},` +
				`{"name":"groups","type":{"type":"map","values":{"type":"array","items":"Item"}}},` +
				`{"name":"matrix","type":{"type":"array","items":{"type":"array","items":"double"}}}`,
			wantType: "struct<items:array<struct<sku:string,qty:integer?>>,attrs:map<string,long?>,groups:map<string,array<struct<sku:string,qty:integer?>>>,matrix:array<array<double>>>",
			values: []any{
				map[string]any{
					"items":  []any{map[string]any{"sku": "a", "qty": int32(1)}, map[string]any{"sku": "b", "qty": nil}},
					"attrs":  map[string]any{"k": int64(7)},
					"groups": map[string]any{"g": []any{map[string]any{"sku": "c", "qty": int32(3)}}},
					"matrix": []any{[]any{1.0, 2.0}, []any{}},
				},
				map[string]any{"items": []any{}, "attrs": map[string]any{"n": nil}, "groups": map[string]any{}, "matrix": []any{}},
			},
			want: []string{
				`{"items":[{"sku":"a","qty":1},{"sku":"b","qty":null}],"attrs":{"k":7},"groups":{"g":[{"sku":"c","qty":3}]},"matrix":[[1.0,2.0],[]]}`,
				`{"items":[],"attrs":{"n":null},"groups":{},"matrix":[]}`,
			},
		},
		{
			name: "unions of several types become structs",
			fields: `{"name":"u","type":["null","int","string",{"type":"record","name":"Pt","fields":[{"name":"x","type":"double"}]},{"type":"array","items":"int"}]},` +
				`{"name":"v","type":["long","boolean"]}`,
			wantType: "struct<u:struct<int:integer?,string:string?,Pt:struct<x:double>?,array:array<integer>?>?,v:struct<long:long?,boolean:boolean?>>",
			values: []any{
				map[string]any{"u": map[string]any{"int": int32(5)}, "v": map[string]any{"long": int64(9)}},
				map[string]any{"u": map[string]any{"string": "s"}, "v": map[string]any{"boolean": true}},
				map[string]any{"u": map[string]any{"test.Pt": map[string]any{"x": 0.5}}, "v": map[string]any{"long": int64(-1)}},
				map[string]any{"u": map[string]any{"array": []any{int32(1), int32(2)}}, "v": map[string]any{"boolean": false}},
				map[string]any{"u": nil, "v": map[string]any{"long": int64(0)}},
			},
			want: []string{
				`{"u":{"int":5,"string":null,"Pt":null,"array":null},"v":{"long":9,"boolean":null}}`,
				`{"u":{"int":null,"string":"s","Pt":null,"array":null},"v":{"long":null,"boolean":true}}`,
				`{"u":{"int":null,"string":null,"Pt":{"x":0.5},"array":null},"v":{"long":-1,"boolean":null}}`,
				`{"u":{"int":null,"string":null,"Pt":null,"array":[1,2]},"v":{"long":null,"boolean":false}}`,
				`{"u":null,"v":{"long":0,"boolean":null}}`,
			},
		},
		{
			name:     "union members sharing a short name use full names",
			fields:   `{"name":"u","type":[{"type":"record","name":"a.R","fields":[{"name":"x","type":"int"}]},{"type":"record","name":"b.R","fields":[{"name":"y","type":"string"}]}]}`,
			wantType: "struct<u:struct<a_R:struct<x:integer>?,b_R:struct<y:string>?>>",
			values:   []any{map[string]any{"u": map[string]any{"b.R": map[string]any{"y": "z"}}}},
			want:     []string{`{"u":{"a_R":null,"b_R":{"y":"z"}}}`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParse(t, recordSchema(tc.fields))
			ts, err := AvroTableSchema(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := compactType(ts); got != tc.wantType {
				t.Fatalf("table schema\n got %s\nwant %s", got, tc.wantType)
			}
			// Decode twice: once with hamba's default blocks (negative counts with
			// byte sizes), once with small positive-count blocks.
			for _, api := range []avro.API{avro.DefaultConfig, avro.Config{BlockLength: 1, DisableBlockSizeHeader: true}.Freeze()} {
				buf := newAvroBuffer(t, ts)
				dec, err := NewAvroDecoder(s, 7, buf, buf.Columns(), AvroOptions{})
				if err != nil {
					t.Fatal(err)
				}
				decodeRows(t, api, s, dec, buf, tc.values)
				checkRows(t, readBackJSON(t, buf), tc.want)
			}
		})
	}
}

// TestAvroMappingRefusals checks the types with no table equivalent.
func TestAvroMappingRefusals(t *testing.T) {
	cases := []struct {
		name, schema, want string
	}{
		{"recursive record", `{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`,
			`field "next": record Node contains itself (a recursive type)`},
		{"recursion through an array", `{"type":"record","name":"T","fields":[{"name":"tree","type":{"type":"record","name":"Tree","fields":[{"name":"kids","type":{"type":"array","items":"Tree"}}]}}]}`,
			`field "tree.kids.element": record Tree contains itself`},
		{"array of null", recordSchema(`{"name":"n","type":{"type":"array","items":"null"}}`), `field "n": the array's items are null alone`},
		{"map of null", recordSchema(`{"name":"n","type":{"type":"map","values":["null"]}}`), `field "n": the map's values are null alone`},
		{"decimal over 38 digits", recordSchema(`{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":40,"scale":2}}`),
			`field "d": decimal(40,2) exceeds the 38 digits`},
		{"empty record", recordSchema(`{"name":"e","type":{"type":"record","name":"E","fields":[]}}`), `record test.E has no fields`},
		{"not a record", `"string"`, `the top-level schema is string, not a record`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AvroTableSchema(mustParse(t, tc.schema))
			var se *AvroSchemaError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want *AvroSchemaError containing %q", err, tc.want)
			}
		})
	}
}

func TestAvroMappingDetails(t *testing.T) {
	s := mustParse(t, recordSchema(`{"name":"a","type":"long","doc":"the \"id\"","default":5},`+
		`{"name":"b","type":{"type":"fixed","name":"D","size":12,"logicalType":"duration"}},`+
		`{"name":"c","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":6}},`+
		`{"name":"d","type":["null","string"],"default":null}`))
	ts, err := AvroTableSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	// Defaults change nothing; an invalid decimal (scale > precision) is plain bytes.
	if got, want := compactType(ts), "struct<a:long,b:binary,c:binary,d:string?>"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if got, want := string(ts.Fields[0].Metadata), `{"comment":"the \"id\""}`; got != want {
		t.Fatalf("metadata %s, want %s", got, want)
	}
	if ts.Fields[1].Metadata != nil {
		t.Fatalf("metadata without doc: %s", ts.Fields[1].Metadata)
	}
	// The schema serializes as Delta's schemaString and parses back.
	back, err := table.ParseSchema(ts.SchemaString())
	if err != nil || back.SchemaString() != ts.SchemaString() {
		t.Fatalf("schemaString round trip: %v\n%s\n%s", err, ts.SchemaString(), back.SchemaString())
	}
}

// TestAvroResolution decodes writer schemas that differ from the table.
func TestAvroResolution(t *testing.T) {
	tbl := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "name", Type: table.String, Nullable: true},
		{Name: "score", Type: table.Double, Nullable: true},
		{Name: "ratio", Type: table.Double, Nullable: true},
		{Name: "raw", Type: table.Binary, Nullable: true},
		{Name: "text", Type: table.String, Nullable: true},
		{Name: "price", Type: &table.DecimalType{Precision: 20, Scale: 2}, Nullable: true},
		{Name: "nested", Type: &table.StructType{Fields: []*table.StructField{
			{Name: "a", Type: table.Long},
			{Name: "later", Type: table.String, Nullable: true},
		}}, Nullable: true},
		{Name: "absent", Type: table.Integer, Nullable: true},
	}}
	writerSchema := recordSchema(`{"name":"extra","type":{"type":"array","items":{"type":"record","name":"X","fields":[{"name":"m","type":{"type":"map","values":"string"}},{"name":"f","type":{"type":"fixed","name":"F3","size":3}},{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},{"name":"u","type":["null","float","double"]}]}}},` +
		`{"name":"id","type":"int"},` +
		`{"name":"score","type":"float"},` +
		`{"name":"ratio","type":["null","long"]},` +
		`{"name":"raw","type":"string"},` +
		`{"name":"text","type":"bytes"},` +
		`{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}},` +
		`{"name":"nested","type":{"type":"record","name":"N","fields":[{"name":"gone","type":"boolean"},{"name":"a","type":"int"}]}},` +
		`{"name":"tail","type":"string"}`)
	s := mustParse(t, writerSchema)
	buf := newAvroBuffer(t, tbl)
	dec, err := NewAvroDecoder(s, 3, buf, buf.Columns(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dec.SchemaID() != 3 {
		t.Fatalf("SchemaID = %d", dec.SchemaID())
	}
	if got, want := strings.Join(dec.Unmapped(), ","), "extra,nested.gone,tail"; got != want {
		t.Fatalf("Unmapped = %s, want %s", got, want)
	}
	extra := []any{map[string]any{"m": map[string]any{"k": "v", "k2": "v2"}, "f": [3]byte{1, 2, 3}, "e": "B", "u": map[string]any{"double": 2.5}}}
	decodeRows(t, avro.DefaultConfig, s, dec, buf, []any{
		map[string]any{"extra": extra, "id": int32(7), "score": float32(0.5), "ratio": int64(3), "raw": "r", "text": []byte("t"), "price": ratOf("-12.5"), "nested": map[string]any{"gone": true, "a": int32(-2)}, "tail": "x"},
		map[string]any{"extra": []any{}, "id": int32(8), "score": float32(-1), "ratio": nil, "raw": "", "text": []byte{}, "price": ratOf("9999.99"), "nested": map[string]any{"gone": false, "a": int32(0)}, "tail": ""},
	})
	checkRows(t, readBackJSON(t, buf), []string{
		`{"id":7,"name":null,"score":0.5,"ratio":3.0,"raw":"r","text":"t","price":-12.50,"nested":{"a":-2,"later":null},"absent":null}`,
		`{"id":8,"name":null,"score":-1.0,"ratio":null,"raw":"","text":"","price":9999.99,"nested":{"a":0,"later":null},"absent":null}`,
	})

	_, err = NewAvroDecoder(s, 3, buf, buf.Columns(), AvroOptions{UnknownFields: UnknownFail})
	var se *AvroSchemaError
	if !errors.As(err, &se) || se.Field != "extra" || se.SchemaID != 3 {
		t.Fatalf("UnknownFail: got %v, want *AvroSchemaError for field extra", err)
	}
}

// TestAvroSkipRecursive skips a recursive writer type the table does not hold, and
// bounds how deep a message may nest it.
func TestAvroSkipRecursive(t *testing.T) {
	s := mustParse(t, recordSchema(`{"name":"id","type":"long"},{"name":"list","type":{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}}`))
	ts := &table.StructType{Fields: []*table.StructField{{Name: "id", Type: table.Long}}}
	buf := newAvroBuffer(t, ts)
	dec, err := NewAvroDecoder(s, 1, buf, buf.Columns(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list := map[string]any{"v": int32(1), "next": map[string]any{"test.Node": map[string]any{"v": int32(2), "next": nil}}}
	decodeRows(t, avro.DefaultConfig, s, dec, buf, []any{map[string]any{"id": int64(5), "list": list}})
	checkRows(t, readBackJSON(t, buf), []string{`{"id":5}`})

	// 5000 levels: id, then (v=0, branch 1) repeated, then v=0, branch 0.
	deep := []byte{0x0a}
	for range 5000 {
		deep = append(deep, 0, 2)
	}
	deep = append(deep, 0, 0)
	err = dec.Decode(deep)
	buf.AbortRow()
	if err == nil || !strings.Contains(err.Error(), "records nest deeper than 1000 levels") {
		t.Fatalf("deep recursion: got %v", err)
	}
}

// TestAvroCompileErrors checks that writer schemas the table cannot take are refused
// when the decoder is built, naming the field and both types.
func TestAvroCompileErrors(t *testing.T) {
	tbl := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "n", Type: table.Integer, Nullable: true},
		{Name: "s", Type: &table.StructType{Fields: []*table.StructField{{Name: "req", Type: table.Long}, {Name: "opt", Type: table.Long, Nullable: true}}}, Nullable: true},
		{Name: "u", Type: &table.StructType{Fields: []*table.StructField{{Name: "int", Type: table.Integer, Nullable: true}, {Name: "string", Type: table.String, Nullable: true}}}, Nullable: true},
		{Name: "d", Type: &table.DecimalType{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "ts", Type: table.Timestamp, Nullable: true},
	}}
	cases := []struct {
		name, fields, want string
	}{
		{"missing non-nullable column", `{"name":"n","type":"int"}`, `field "id": the column is a non-nullable long but the writer schema has no such field`},
		{"narrowing long to int", `{"name":"id","type":"long"},{"name":"n","type":"long"}`, `field "n": the writer's long cannot be stored in the column's integer type`},
		{"string into long", `{"name":"id","type":"string"}`, `field "id": the writer's string cannot be stored in the column's long type`},
		{"missing non-nullable struct field", `{"name":"id","type":"long"},{"name":"s","type":{"type":"record","name":"S","fields":[{"name":"opt","type":"long"}]}}`,
			`field "s.req": the struct field is a non-nullable long but the writer's record test.S has no such field`},
		{"union member without a struct field", `{"name":"id","type":"long"},{"name":"u","type":["int","string","boolean"]}`, `field "u": the union member boolean has no field "boolean"`},
		{"union into a primitive", `{"name":"id","type":"long"},{"name":"n","type":["int","string"]}`, `field "n": the writer's union [int, string] cannot be stored in the column's integer type`},
		{"decimal scale differs", `{"name":"id","type":"long"},{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":3}}`, `bytes (decimal(10,3)) cannot be stored in the column's decimal(10,2) type`},
		{"decimal precision too large", `{"name":"id","type":"long"},{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}}`, `cannot be stored in the column's decimal(10,2) type`},
		{"plain long into timestamp", `{"name":"id","type":"long"},{"name":"ts","type":"long"}`, `field "ts": the writer's long cannot be stored in the column's timestamp type`},
		{"local timestamp into timestamp", `{"name":"id","type":"long"},{"name":"ts","type":{"type":"long","logicalType":"local-timestamp-micros"}}`, `long (local-timestamp-micros) cannot be stored in the column's timestamp type`},
		{"null-only field", `{"name":"id","type":"long"},{"name":"n","type":"null"}`, `field "n": the writer's type is null alone`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf := newAvroBuffer(t, tbl)
			_, err := NewAvroDecoder(mustParse(t, recordSchema(tc.fields)), 11, buf, buf.Columns(), AvroOptions{})
			var se *AvroSchemaError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "avro schema 11") {
				t.Fatalf("got %v, want *AvroSchemaError containing %q", err, tc.want)
			}
		})
	}
	buf := newAvroBuffer(t, tbl)
	if _, err := NewAvroDecoder(mustParse(t, `["null","string"]`), 1, buf, buf.Columns(), AvroOptions{}); err == nil {
		t.Fatal("a writer schema that is not a record: want error")
	}
	if _, err := NewAvroDecoder(mustParse(t, recordSchema(`{"name":"id","type":"long"}`)), 1, buf, buf.Columns(), AvroOptions{UnknownFields: "drop"}); err == nil {
		t.Fatal("bad UnknownFields: want error")
	}
}

// errorSchema covers every wire kind the decoder checks.
const errorSchema = `{"type":"record","name":"E","fields":[
	{"name":"b","type":"boolean"},
	{"name":"i","type":"int"},
	{"name":"s","type":"string"},
	{"name":"e","type":{"type":"enum","name":"En","symbols":["A","B"]}},
	{"name":"u","type":["null","long"]},
	{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}},
	{"name":"w","type":{"type":"bytes","logicalType":"decimal","precision":20,"scale":0}},
	{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"a","type":{"type":"array","items":"int"}},
	{"name":"nulls","type":{"type":"array","items":{"type":"fixed","name":"Zero","size":0}}},
	{"name":"m","type":{"type":"map","values":"int"}},
	{"name":"f","type":"double"},
	{"name":"req","type":["null","int"]}
]}`

// validErrorMsg is one valid message of errorSchema, built by hand so that each test
// case can break one part of it.
func errorMsgParts() [][]byte {
	return [][]byte{
		{1},             // b true
		{0x54},          // i 42
		{4, 'h', 'i'},   // s "hi"
		{2},             // e B
		{2, 0x0e},       // u branch 1, 7
		{4, 0x04, 0xd2}, // d 1234 -> 12.34
		{4, 0xff, 0x38}, // w -200
		{0x02},          // ts 1 ms
		{4, 2, 4, 0},    // a [1,2]
		{6, 0},          // nulls: three empty fixed
		{2, 2, 'k', 6, 0},
		{0, 0, 0, 0, 0, 0, 0xf0, 0x3f}, // f 1.0
		{2, 2},                         // req branch 1, 1
	}
}

func joinParts(parts [][]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestAvroDecodeErrors(t *testing.T) {
	s := mustParse(t, errorSchema)
	ts, err := AvroTableSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	// req is non-nullable in the table: a null there is refused per message.
	ts.Fields[len(ts.Fields)-1].Nullable = false
	offsetOf := func(field int) int { return len(joinParts(errorMsgParts()[:field])) }
	withPart := func(field int, b ...byte) []byte {
		p := errorMsgParts()
		p[field] = b
		return joinParts(p)
	}
	cases := []struct {
		name    string
		msg     []byte
		field   string
		offset  int
		wantMsg string
	}{
		{"empty", nil, "b", 0, "the message ends inside this value (the payload is 0 bytes)"},
		{"truncated in a string", joinParts(errorMsgParts()[:3])[:offsetOf(2)+2], "s", offsetOf(2), "length 2 exceeds the 1 bytes left"},
		{"truncated at the end", joinParts(errorMsgParts())[:len(joinParts(errorMsgParts()))-1], "req", offsetOf(12) + 1, "the message ends inside this value"},
		{"trailing bytes", append(joinParts(errorMsgParts()), 0), "", len(joinParts(errorMsgParts())), "1 bytes left after the record"},
		{"boolean garbage", withPart(0, 7), "b", 0, "a boolean is 0x07, not 0 or 1"},
		{"int overflow", withPart(1, 0x80, 0x80, 0x80, 0x80, 0x20), "i", 1, "does not fit 32 bits"},
		{"overlong varint", withPart(1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "i", 1, "runs longer than 10 bytes"},
		{"negative length", withPart(2, 0x03), "s", offsetOf(2), "negative length -2"},
		{"huge length", withPart(2, 0xfe, 0xff, 0xff, 0xff, 0x0f), "s", offsetOf(2), "length 2147483647 exceeds"},
		{"invalid UTF-8", withPart(2, 4, 0xff, 0xfe), "s", offsetOf(2), "not valid UTF-8"},
		{"enum index out of range", withPart(3, 4), "e", offsetOf(3), "enum index 2 is out of range (the enum has 2 symbols)"},
		{"negative union index", withPart(4, 1), "u", offsetOf(4), "union index -1 is out of range"},
		{"union index out of range", withPart(4, 4), "u", offsetOf(4), "union index 2 is out of range (the union has 2 members)"},
		{"decimal beyond precision", withPart(5, 4, 0x27, 0x10), "d", offsetOf(5), "does not fit 4 digits"},
		{"wide decimal beyond precision", withPart(6, 18, 0x05, 0x6b, 0xc7, 0x5e, 0x2d, 0x63, 0x10, 0x00, 0x00), "w", offsetOf(6), "does not fit the column's precision"},
		{"timestamp-millis overflow", withPart(7, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "ts", offsetOf(7), "out of range for microseconds"},
		{"array block larger than the message", withPart(8, 0xfe, 0xff, 0xff, 0xff, 0x0f), "a", offsetOf(8), "a block of 2147483647 items cannot fit"},
		{"negative block count without size", append(joinParts(errorMsgParts()[:8]), 3), "a", offsetOf(8), "the message ends inside this value"},
		{"block size mismatch", withPart(8, 3, 8, 2, 4, 0), "a", offsetOf(8), "the block says it is 4 bytes but its 2 items take 2"},
		{"block size beyond the message", withPart(8, 3, 0x7e, 2, 4, 0), "a", offsetOf(8), "block size 63 bytes does not fit"},
		{"too many zero-width items", withPart(9, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0), "nulls", offsetOf(9), "exceeds the limit of 65536"},
		{"map key truncated", withPart(10, 2, 0x40, 'k'), "m", offsetOf(10) + 1, "length 32 exceeds"},
		{"map key invalid UTF-8", withPart(10, 2, 2, 0xc0, 6, 0), "m", offsetOf(10) + 1, "a map key is not valid UTF-8"},
		{"double truncated", withPart(11, 0, 0, 0), "f", offsetOf(11), "the message ends inside this value"},
		{"null in a non-nullable column", withPart(12, 0), "req", offsetOf(12), "null, but the column is not nullable"},
	}
	buf := newAvroBuffer(t, ts)
	dec, err := NewAvroDecoder(s, 9, buf, buf.Columns(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	valid := joinParts(errorMsgParts())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows := buf.Rows()
			err := dec.Decode(tc.msg)
			var ae *AvroError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want *AvroError", err)
			}
			if ae.Field != tc.field || ae.Offset != tc.offset || !strings.Contains(ae.Msg, tc.wantMsg) || ae.SchemaID != 9 {
				t.Fatalf("got %q (field %q, offset %d), want field %q at byte %d with %q", err, ae.Field, ae.Offset, tc.field, tc.offset, tc.wantMsg)
			}
			buf.AbortRow()
			if buf.Rows() != rows {
				t.Fatalf("a failed message left a row behind")
			}
			// The decoder and buffer recover: a valid message decodes after it.
			if err := dec.Decode(valid); err != nil {
				t.Fatalf("valid message after the failure: %v", err)
			}
			if err := buf.EndRow(); err != nil {
				t.Fatal(err)
			}
		})
	}
	got := readBackJSON(t, buf)
	want := `{"b":true,"i":42,"s":"hi","e":"B","u":7,"d":12.34,"w":-200,"ts":"1970-01-01 00:00:00.001+00","a":[1,2],"nulls":["","",""],"m":{"k":3},"f":1.0,"req":1}`
	if len(got) != len(cases) {
		t.Fatalf("%d rows, want %d", len(got), len(cases))
	}
	for _, g := range got {
		if g != want {
			t.Fatalf("got %s\nwant %s", g, want)
		}
	}
}

// TestAvroRegistryReferences registers a schema referencing another under its own
// subject, looks it up by id through the registry client and decodes with it.
func TestAvroRegistryReferences(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	if _, err := srv.Register("money", "", `{"type":"record","name":"Money","namespace":"shop","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}},{"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD"]}}]}`); err != nil {
		t.Fatal(err)
	}
	id, err := srv.Register("orders-value", "", `{"type":"record","name":"Order","namespace":"shop","fields":[{"name":"id","type":"long"},{"name":"total","type":"Money"},{"name":"refund","type":["null","shop.Money"],"default":null},{"name":"cur","type":"Currency"}]}`,
		registrytest.Reference{Name: "shop.Money", Subject: "money", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(RegistryConfig{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	rs, err := reg.SchemaByID(context.Background(), int32(id))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseAvro(rs)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := AvroTableSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := compactType(ts), "struct<id:long,total:struct<amount:decimal(12,2),currency:string>,refund:struct<amount:decimal(12,2),currency:string>?,cur:string>"; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	buf := newAvroBuffer(t, ts)
	dec, err := NewAvroDecoder(s, int32(id), buf, buf.Columns(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := avro.Marshal(s, map[string]any{"id": int64(1), "total": map[string]any{"amount": ratOf("10.50"), "currency": "EUR"}, "refund": nil, "cur": "USD"})
	if err != nil {
		t.Fatal(err)
	}
	// Through the wire format, as the connector sees it.
	gotID, payload, err := ParseWire(AppendWire(nil, int32(id), msg))
	if err != nil || gotID != int32(id) {
		t.Fatal(gotID, err)
	}
	if err := dec.Decode(payload); err != nil {
		t.Fatal(err)
	}
	if err := buf.EndRow(); err != nil {
		t.Fatal(err)
	}
	checkRows(t, readBackJSON(t, buf), []string{`{"id":1,"total":{"amount":10.5,"currency":"EUR"},"refund":null,"cur":"USD"}`})

	if _, err := ParseAvro(&Schema{ID: 5, Type: TypeJSON, Text: "{}"}); err == nil {
		t.Fatal("ParseAvro of a JSON schema: want error")
	}
	if _, err := ParseAvro(&Schema{ID: 5, Text: `{"type":"record","name":"X","fields":[{"name":"m","type":"Missing"}]}`}); err == nil || !strings.Contains(err.Error(), "schema 5") {
		t.Fatalf("unresolved name: got %v", err)
	}
}

// TestAvroEvolutionAcrossVersions follows one subject through four versions: each
// newer schema evolves the table, older messages still decode into the merged table,
// and a type change is refused.
func TestAvroEvolutionAcrossVersions(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	versions := []string{
		recordSchema(`{"name":"id","type":"long"},{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"}]}}`),
		recordSchema(`{"name":"id","type":"long"},{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"}]}},{"name":"email","type":["null","string"],"default":null}`),
		recordSchema(`{"name":"id","type":"long"},{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"},{"name":"zip","type":["null","string"],"default":null}]}},{"name":"email","type":["null","string"],"default":null}`),
		recordSchema(`{"name":"id","type":"string"},{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"},{"name":"zip","type":["null","string"],"default":null}]}},{"name":"email","type":["null","string"],"default":null}`),
	}
	var ids []int32
	for _, v := range versions {
		id, err := srv.Register("people-value", "", v)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, int32(id))
	}
	reg, err := NewRegistry(RegistryConfig{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	parsed := make([]avro.Schema, len(versions))
	for i := range versions {
		rs, err := reg.SchemaBySubjectVersion(context.Background(), "people-value", fmt.Sprint(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if rs.ID != ids[i] {
			t.Fatalf("version %d has id %d, want %d", i+1, rs.ID, ids[i])
		}
		if parsed[i], err = ParseAvro(rs); err != nil {
			t.Fatal(err)
		}
	}
	current, err := AvroTableSchema(parsed[0])
	if err != nil {
		t.Fatal(err)
	}
	wantMerged := []string{
		"",
		"struct<id:long,addr:struct<city:string>,email:string?>",
		"struct<id:long,addr:struct<city:string,zip:string?>,email:string?>",
	}
	for v := 1; v < 3; v++ {
		incoming, err := AvroTableSchema(parsed[v])
		if err != nil {
			t.Fatal(err)
		}
		merged, changes, err := Evolve(current, incoming, EvolveOptions{})
		changed := changes.Any()
		if err != nil || !changed {
			t.Fatalf("v%d: Evolve = %v, %v", v+1, changed, err)
		}
		if got := compactType(merged); got != wantMerged[v] {
			t.Fatalf("v%d: merged %s, want %s", v+1, got, wantMerged[v])
		}
		current = merged
	}
	// v3's table takes every version's messages, the v1 and v2 ones with nulls.
	buf := newAvroBuffer(t, current)
	values := []map[string]any{
		{"id": int64(1), "addr": map[string]any{"city": "Oslo"}},
		{"id": int64(2), "addr": map[string]any{"city": "Rome"}, "email": "b@x"},
		{"id": int64(3), "addr": map[string]any{"city": "Lima", "zip": "15001"}, "email": nil},
	}
	for v := range 3 {
		dec, err := NewAvroDecoder(parsed[v], ids[v], buf, buf.Columns(), AvroOptions{})
		if err != nil {
			t.Fatalf("v%d: %v", v+1, err)
		}
		if len(dec.Unmapped()) != 0 {
			t.Fatalf("v%d: unmapped %v", v+1, dec.Unmapped())
		}
		decodeRows(t, avro.DefaultConfig, parsed[v], dec, buf, []any{values[v]})
	}
	checkRows(t, readBackJSON(t, buf), []string{
		`{"id":1,"addr":{"city":"Oslo","zip":null},"email":null}`,
		`{"id":2,"addr":{"city":"Rome","zip":null},"email":"b@x"}`,
		`{"id":3,"addr":{"city":"Lima","zip":"15001"},"email":null}`,
	})
	// v3's decoder on the v1 table has the new fields left over: the sign to evolve.
	v1, _ := AvroTableSchema(parsed[0])
	b1 := newAvroBuffer(t, v1)
	dec, err := NewAvroDecoder(parsed[2], ids[2], b1, b1.Columns(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(dec.Unmapped(), ","); got != "addr.zip,email" {
		t.Fatalf("Unmapped = %s", got)
	}

	incoming, err := AvroTableSchema(parsed[3])
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Evolve(current, incoming, EvolveOptions{})
	var ee *EvolutionError
	if !errors.As(err, &ee) || ee.Path != "id" || err.Error() != `schema change refused: column "id": the type changed from long to string; a column's type never changes, widening included (add a column under a new name instead)` {
		t.Fatalf("v4: got %v", err)
	}
}

// BenchmarkAvroDecode decodes a 10-field record shaped like BenchmarkJSONDecode's
// message, ending each row.
func BenchmarkAvroDecode(b *testing.B) {
	s := mustParse(b, recordSchema(`{"name":"id","type":"long"},
		{"name":"user","type":["null","string"]},
		{"name":"amount","type":["null","double"]},
		{"name":"ok","type":["null","boolean"]},
		{"name":"ts","type":["null",{"type":"long","logicalType":"timestamp-millis"}]},
		{"name":"small","type":["null","int"]},
		{"name":"price","type":["null",{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}]},
		{"name":"day","type":["null",{"type":"int","logicalType":"date"}]},
		{"name":"blob","type":["null","bytes"]},
		{"name":"extra","type":"string"}`))
	ts, err := AvroTableSchema(s)
	if err != nil {
		b.Fatal(err)
	}
	ts.Fields = ts.Fields[:len(ts.Fields)-1] // the table has no column for "extra"
	buf := newAvroBuffer(b, ts)
	dec, err := NewAvroDecoder(s, 1, buf, buf.Columns(), AvroOptions{})
	if err != nil {
		b.Fatal(err)
	}
	msg, err := avro.Marshal(s, map[string]any{
		"id": int64(123456789), "user": "user-000042", "amount": 1234.5678, "ok": true,
		"ts": time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC), "small": int32(12), "price": ratOf("19.99"),
		"day": time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC), "blob": nil, "extra": "ignored value",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := dec.Decode(msg); err != nil {
			b.Fatal(err)
		}
		if err := buf.EndRow(); err != nil {
			b.Fatal(err)
		}
		if buf.Rows() >= 100_000 {
			for _, p := range buf.Take() {
				p.Release()
			}
		}
	}
}

// TestAvroDecodeAllocs checks the steady state allocates nothing, including nested
// columns and skipped fields.
func TestAvroDecodeAllocs(t *testing.T) {
	s := mustParse(t, recordSchema(`{"name":"id","type":"long"},
		{"name":"tags","type":{"type":"map","values":{"type":"array","items":["null","string"]}}},
		{"name":"u","type":["null","int","string"]},
		{"name":"w","type":{"type":"fixed","name":"W","size":16,"logicalType":"decimal","precision":38,"scale":2}},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
		{"name":"skip","type":{"type":"array","items":{"type":"record","name":"S","fields":[{"name":"x","type":"string"}]}}}`))
	ts, err := AvroTableSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	ts.Fields = ts.Fields[:len(ts.Fields)-1]
	buf := newAvroBuffer(t, ts)
	dec, err := NewAvroDecoder(s, 1, buf, buf.Columns(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := avro.Marshal(s, map[string]any{"id": int64(1), "tags": map[string]any{"a": []any{"x", nil}}, "u": map[string]any{"string": "s"}, "w": ratOf("123.45"), "e": "B",
		"skip": []any{map[string]any{"x": "gone"}}})
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := dec.Decode(msg); err != nil {
			t.Fatal(err)
		}
		if err := buf.EndRow(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.01 {
		t.Fatalf("%.2f allocations per message, want 0", allocs)
	}
}

func TestAvroDecimalBytes(t *testing.T) {
	// decimal(38) bounds: ±(10^38 - 1) fit, one more does not.
	n := &avroNode{}
	c := avroCompiler{}
	if err := c.decimal(n, avro.NewDecimalLogicalSchema(38, 0), avro.NewPrimitiveSchema(avro.Bytes, nil), &table.DecimalType{Precision: 38, Scale: 0}); err != nil {
		t.Fatal(err)
	}
	limit := new(big.Int).Sub(new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil), big.NewInt(1))
	one := big.NewInt(1)
	for _, tc := range []struct {
		v  *big.Int
		ok bool
	}{
		{limit, true}, {new(big.Int).Neg(limit), true}, {big.NewInt(0), true}, {big.NewInt(-1), true},
		{new(big.Int).Add(limit, one), false}, {new(big.Int).Sub(new(big.Int).Neg(limit), one), false},
		{new(big.Int).Lsh(one, 200), false},
	} {
		b := writer.TrimTwosComplement(twos(tc.v))
		if got := n.wide.Fits(b); got != tc.ok {
			t.Errorf("wide.Fits(%s) = %v, want %v", tc.v, got, tc.ok)
		}
	}
}

// twos renders v in big-endian two's complement with one spare sign byte.
func twos(v *big.Int) []byte {
	n := len(v.Bytes()) + 1
	m := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	b := make([]byte, n)
	new(big.Int).Mod(new(big.Int).Add(m, v), m).FillBytes(b)
	return b
}

// BenchmarkAvroDecodeNested decodes the fuzz schema's fullest message: nested records,
// arrays of records with maps, a union mapped to a struct, wide decimals and skipped
// fields, a recursive one among them.
func BenchmarkAvroDecodeNested(b *testing.B) {
	w, buf, dec := fuzzSetup(b)
	msg, err := avro.Marshal(w, fuzzValues()[0])
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := dec.Decode(msg); err != nil {
			b.Fatal(err)
		}
		if err := buf.EndRow(); err != nil {
			b.Fatal(err)
		}
		if buf.Rows() >= 100_000 {
			for _, p := range buf.Take() {
				p.Release()
			}
		}
	}
}
