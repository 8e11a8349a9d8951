package schema

import (
	"errors"
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
		{"null in non-nullable", `{"id":null}`, `null in non-nullable`},
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

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in    string
		scale int
		want  int64
		ok    bool
	}{
		{"12.34", 2, 1234, true}, {"12.3", 2, 1230, true}, {"12", 2, 1200, true},
		{"-0.05", 2, -5, true}, {"1.230", 2, 123, true}, {"1.234", 2, 0, false},
		{"1e5", 0, 0, false}, {"", 0, 0, false}, {"99999999999999999999", 0, 0, false},
	}
	for _, c := range cases {
		got, ok := parseDecimal([]byte(c.in), c.scale)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("parseDecimal(%q,%d) = %d,%v want %d,%v", c.in, c.scale, got, ok, c.want, c.ok)
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
			buf.Take()
		}
	}
}
