package schema

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

func newTestDecoder(t *testing.T, opts JSONOptions) (*writer.Buffer, *JSONDecoder) {
	t.Helper()
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "user", Type: table.String, Nullable: true},
		{Name: "amount", Type: table.Double, Nullable: true},
		{Name: "ok", Type: table.Boolean, Nullable: true},
		{Name: "ts", Type: table.Timestamp, Nullable: true},
		{Name: "small", Type: table.Short, Nullable: true},
		{Name: "price", Type: &table.DecimalType{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "day", Type: table.Date, Nullable: true},
		{Name: "blob", Type: table.Binary, Nullable: true},
	}}
	buf, err := writer.NewBuffer(writer.Spec{Schema: schema}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewJSONDecoder(buf, buf.Columns(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf, dec
}

func TestJSONDecodeErrors(t *testing.T) {
	cases := []struct {
		name, msg string
		want      string // substring of the error; "" means success
	}{
		{"ok", `{"id":1,"user":"a","amount":1.5,"ok":true,"ts":"2024-01-02T03:04:05Z"}`, ""},
		{"missing nullable", `{"id":1}`, ""},
		{"unicode escapes", `{"id":1,"user":"caf\u00e9 \ud83d\ude00 \"q\""}`, ""},
		{"object into string keeps JSON", `{"id":1,"user":{"a":[1,2]}}`, ""},
		{"ts with offset", `{"id":1,"ts":"2024-01-02 03:04:05.123456+02:00"}`, ""},
		{"ts epoch millis", `{"id":1,"ts":1704164645000}`, ""},
		{"decimal exact", `{"id":1,"price":12.34}`, ""},
		{"decimal from string", `{"id":1,"price":"-0.5"}`, ""},
		{"date", `{"id":1,"day":"2024-02-29"}`, ""},
		{"base64", `{"id":1,"blob":"aGVsbG8="}`, ""},
		{"unknown ignored", `{"id":1,"extra":{"deep":[1,{"x":null}]}}`, ""},
		{"whitespace", " { \"id\" : 1 , \"ok\" : false } \n", ""},
		{"wrong type names field", `{"id":"one"}`, `field "id"`},
		{"float into long", `{"id":1.5}`, `field "id"`},
		{"null in non-nullable", `{"id":null}`, `null in a non-nullable`},
		{"short overflow", `{"id":1,"small":40000}`, `out of range for short`},
		{"decimal loses digits", `{"id":1,"price":1.234}`, `does not fit decimal(10,2)`},
		{"bad date", `{"id":1,"day":"2023-02-29"}`, `not a date`},
		{"bad timestamp", `{"id":1,"ts":"yesterday"}`, `not an ISO-8601`},
		{"bad base64", `{"id":1,"blob":"!!"}`, `base64`},
		{"truncated", `{"id":1,"user":"ab`, `malformed JSON at byte 15`},
		{"trailing garbage", `{"id":1} x`, `data after the JSON object`},
		{"not an object", `[1,2]`, `malformed JSON at byte 0`},
		{"empty", ``, `malformed JSON`},
		{"bad literal", `{"id":1,"ok":tru}`, `invalid literal`},
		{"control char", "{\"id\":1,\"user\":\"a\x01\"}", `control character`},
		{"leading zero", `{"id":01}`, `leading zero`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			buf, dec := newTestDecoder(t, JSONOptions{})
			err := dec.Decode([]byte(tc.msg))
			if err == nil {
				err = buf.EndRow()
			} else {
				buf.AbortRow()
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Decode(%s): %v", tc.msg, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Decode(%s) = %v, want error containing %q", tc.msg, err, tc.want)
			}
			wantRows := 0
			if tc.want == "" {
				wantRows = 1
			}
			if buf.Rows() != wantRows {
				t.Fatalf("rows = %d, want %d (a failed message must leave no partial row)", buf.Rows(), wantRows)
			}
		})
	}
}

func TestJSONUnknownFail(t *testing.T) {
	_, dec := newTestDecoder(t, JSONOptions{UnknownFields: UnknownFail})
	err := dec.Decode([]byte(`{"id":1,"nope":2}`))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "nope" {
		t.Fatalf("got %v, want FieldError for nope", err)
	}
}

func TestParseISOTime(t *testing.T) {
	cases := map[string]string{
		"2024-01-02T03:04:05Z":             "2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05.5Z":           "2024-01-02T03:04:05.5Z",
		"2024-01-02T03:04:05.123456789Z":   "2024-01-02T03:04:05.123456Z",
		"2024-01-02T03:04:05+05:30":        "2024-01-01T21:34:05Z",
		"2024-01-02T03:04:05-0100":         "2024-01-02T04:04:05Z",
		"2024-01-02 03:04":                 "2024-01-02T03:04:00Z",
		"2024-01-02":                       "2024-01-02T00:00:00Z",
		"1969-12-31T23:59:59.999999Z":      "1969-12-31T23:59:59.999999Z",
		"0001-01-01T00:00:00Z":             "0001-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999+00:00": "9999-12-31T23:59:59.999999Z",
	}
	for in, want := range cases {
		got, err := parseISOTime([]byte(in))
		if err != nil {
			t.Errorf("parseISOTime(%q): %v", in, err)
			continue
		}
		w, _ := time.Parse(time.RFC3339Nano, want)
		if got != w.UnixMicro() {
			t.Errorf("parseISOTime(%q) = %s, want %s", in, time.UnixMicro(got).UTC().Format(time.RFC3339Nano), want)
		}
	}
	for _, bad := range []string{"", "2024", "2024-13-01", "2024-01-02T25:00:00Z", "2024-01-02T03:04:05Q", "2024-01-02T03:04:05.Z", "2024-01-02X03:04"} {
		if _, err := parseISOTime([]byte(bad)); err == nil {
			t.Errorf("parseISOTime(%q): want error", bad)
		}
	}
}

func BenchmarkJSONDecode(b *testing.B) {
	t := &testing.T{}
	buf, dec := newTestDecoder(t, JSONOptions{})
	msg := []byte(`{"id":123456789,"user":"user-000042","amount":1234.5678,"ok":true,"ts":"2024-05-06T07:08:09.123Z","small":12,"price":"19.99","day":"2024-05-06","extra":"ignored value"}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
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

func TestJSONNested(t *testing.T) {
	item := &table.StructType{Fields: []*table.StructField{
		{Name: "sku", Type: table.String},
		{Name: "qty", Type: table.Integer, Nullable: true},
	}}
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "order", Type: &table.StructType{Fields: []*table.StructField{
			{Name: "items", Type: &table.ArrayType{ElementType: item, ContainsNull: true}, Nullable: true},
			{Name: "attrs", Type: &table.MapType{KeyType: table.String, ValueType: table.Long, ValueContainsNull: true}, Nullable: true},
			{Name: "counts", Type: &table.MapType{KeyType: table.Integer, ValueType: table.String}, Nullable: true},
			{Name: "when", Type: table.Timestamp, Nullable: true},
			{Name: "big", Type: &table.DecimalType{Precision: 30, Scale: 4}, Nullable: true},
		}}, Nullable: true},
		{Name: "tags", Type: &table.ArrayType{ElementType: table.String, ContainsNull: false}, Nullable: true},
	}}
	cases := []struct{ msg, want string }{
		{`{"id":1,"order":{"items":[{"sku":"a","qty":2},null,{"sku":"b"}],"attrs":{"x":1,"y":null},"counts":{"7":"seven"},"when":"2024-01-01T00:00:00Z","big":"12345678901234567890.1234"},"tags":["p","q"]}`, ""},
		{`{"id":2,"order":null,"tags":[]}`, ""},
		{`{"id":3,"order":{},"tags":null}`, ""},
		{`{"id":4,"order":{"items":[{"qty":1}]}}`, `"order.items.element.sku": missing value`},
		{`{"id":5,"tags":["a",null]}`, `null in a non-nullable`},
		{`{"id":6,"order":{"counts":{"x":"y"}}}`, `map key "x" is not a integer`},
		{`{"id":7,"order":{"items":{"sku":"a"}}}`, `field "order.items" (byte 25): a JSON object cannot be stored in a array`},
		{`{"id":8,"order":{"big":1.00001}}`, `does not fit decimal(30,4)`},
		{`{"id":9,"order":{"big":1e5}}`, ""},
	}
	for _, c := range cases {
		buf, err := writer.NewBuffer(writer.Spec{Schema: schema}, writer.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		dec, err := NewJSONDecoder(buf, buf.Columns(), JSONOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = dec.Decode([]byte(c.msg))
		if err == nil {
			err = buf.EndRow()
		} else {
			buf.AbortRow()
		}
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: got %v, want %q", c.msg, err, c.want)
		}
	}
}

func TestJSONEvolveInfersTypes(t *testing.T) {
	buf, dec := newTestDecoder(t, JSONOptions{UnknownFields: UnknownEvolve})
	err := dec.Decode([]byte(`{"id":1,"n":5,"x":1.5,"flag":true,"s":"t","obj":{"a":1,"b":[true]},"arr":[],"nothing":null}`))
	var nf *NewFieldsError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want NewFieldsError", err)
	}
	buf.AbortRow()
	var got []string
	for _, f := range nf.Fields {
		got = append(got, strings.Join(f.Path, ".")+":"+f.Type.String())
	}
	want := "n:long x:double flag:boolean s:string obj:struct<a:long,b:array<boolean>> arr:array<string>"
	if strings.Join(got, " ") != want {
		t.Fatalf("inferred %v\nwant %s", got, want)
	}
	if buf.Rows() != 0 {
		t.Fatal("a message needing evolution must not be written")
	}
}

func TestJSONSchemaTableSchema(t *testing.T) {
	text := `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["id", "ts"],
  "properties": {
    "id": {"type": "integer"},
    "ts": {"type": "string", "format": "date-time"},
    "day": {"type": ["null", "string"], "format": "date"},
    "amount": {"type": "number"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "attrs": {"type": "object", "additionalProperties": {"type": "integer"}},
    "customer": {"$ref": "#/definitions/customer"},
    "blob": {"type": "string", "contentEncoding": "base64"},
    "either": {"oneOf": [{"type": "null"}, {"type": "boolean"}]},
    "anything": {}
  },
  "definitions": {
    "customer": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "vip": {"type": "boolean"}}}
  }
}`
	st, err := JSONSchemaTableSchema(text)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range st.Fields {
		n := ""
		if !f.Nullable {
			n = "!"
		}
		got = append(got, f.Name+n+":"+f.Type.String())
	}
	want := "id!:long ts!:timestamp day:date amount:double tags:array<string> attrs:map<string,long> customer:struct<name:string,vip:boolean> blob:binary either:boolean anything:string"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
	if st.Field("customer").Type.(*table.StructType).Fields[0].Nullable {
		t.Fatal("required nested field must not be nullable")
	}
	_, err = JSONSchemaTableSchema(`{"type":"object","properties":{"n":{"$ref":"#/definitions/node"}},"definitions":{"node":{"type":"object","properties":{"next":{"$ref":"#/definitions/node"}}}}}`)
	if err == nil || !strings.Contains(err.Error(), "recursive reference") {
		t.Fatalf("recursive schema: %v", err)
	}
}

// MessageColumn takes the whole message text (here in the string column user, with
// the message's own "user" field not read into it); a column of another type cannot.
func TestJSONMessageColumn(t *testing.T) {
	buf, dec := newTestDecoder(t, JSONOptions{MessageColumn: "user"})
	msg := ` {"id": 7, "user": "ignored", "amount": 1.5} `
	if err := dec.Decode([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := buf.EndRow(); err != nil {
		t.Fatal(err)
	}
	p := buf.Take()[0]
	var out strings.Builder
	info, err := p.Encode(&nopWriter{&out})
	if err != nil {
		t.Fatal(err)
	}
	// The statistics hold the first 32 characters of the one value.
	if want := `"user":"{\"id\": 7, \"user\": \"ignored\", \"am"`; !strings.Contains(info.Stats, want) {
		t.Fatalf("stats %s: want user to hold the whole message (%s)", info.Stats, want)
	}
	schema := &table.StructType{Fields: []*table.StructField{{Name: "id", Type: table.Long}}}
	b2, _ := writer.NewBuffer(writer.Spec{Schema: schema}, writer.DefaultConfig())
	if _, err := NewJSONDecoder(b2, b2.Columns(), JSONOptions{MessageColumn: "id"}); err == nil || !strings.Contains(err.Error(), "variant or string") {
		t.Fatalf("a long message column: %v", err)
	}
}

type nopWriter struct{ b *strings.Builder }

func (w *nopWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

// BenchmarkJSONDecodeWide decodes a message of 50 top-level fields (~1 KB), the wide
// workload of make bench-e2e, where finding each field's column weighs most.
func BenchmarkJSONDecodeWide(b *testing.B) {
	schema := &table.StructType{}
	msg := []byte(`{`)
	for i := range 50 {
		typ := [...]table.DataType{table.Long, table.String, table.Double}[i%3]
		schema.Fields = append(schema.Fields, &table.StructField{Name: fmt.Sprintf("field_%02d", i), Type: typ, Nullable: true})
		if i > 0 {
			msg = append(msg, ',')
		}
		switch i % 3 {
		case 0:
			msg = fmt.Appendf(msg, `"field_%02d":%d`, i, 1000+i*37)
		case 1:
			msg = fmt.Appendf(msg, `"field_%02d":"value-%d-%d"`, i, i, 977)
		default:
			msg = fmt.Appendf(msg, `"field_%02d":%g`, i, float64(i)/7)
		}
	}
	msg = append(msg, '}')
	buf, err := writer.NewBuffer(writer.Spec{Schema: schema}, writer.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	dec, err := NewJSONDecoder(buf, buf.Columns(), JSONOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := dec.Decode(msg); err != nil {
			b.Fatal(err)
		}
		buf.AbortRow()
	}
}
