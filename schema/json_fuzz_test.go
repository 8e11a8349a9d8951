package schema

import (
	"errors"
	"testing"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// FuzzJSONDecode feeds arbitrary bytes to the JSON decoder of a schema with every kind
// of column. It must never panic, must fail with a *SyntaxError, *FieldError or
// *NewFieldsError when it fails, and must never leave a partial row: after a failed
// message the buffer has the same rows, and a valid message still decodes.
func FuzzJSONDecode(f *testing.F) {
	for _, seed := range []string{
		`{"id":1,"user":"a","amount":1.5,"ok":true,"ts":"2024-01-02T03:04:05Z","small":3,"price":"1.25","day":"2024-01-01","blob":"aGk="}`,
		`{"id":2,"nested":{"items":[{"sku":"a","qty":1},null],"attrs":{"k":1}},"tags":["x"]}`,
		`{"id":3,"user":{"raw":[1,2,{"x":null}]},"big":"12345678901234567890.5"}`,
		`{"id":"x"}`, `{"id":1,`, `[]`, ``, `{"id":1} tail`, `{"id":1,"ts":1704164645000}`,
		"{\"id\":1,\"user\":\"\\ud83d\\ude00 \\u00e9\"}",
	} {
		f.Add([]byte(seed))
	}
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "user", Type: table.String, Nullable: true},
		{Name: "amount", Type: table.Double, Nullable: true},
		{Name: "ok", Type: table.Boolean, Nullable: true},
		{Name: "ts", Type: table.Timestamp, Nullable: true},
		{Name: "small", Type: table.Short, Nullable: true},
		{Name: "price", Type: &table.DecimalType{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "big", Type: &table.DecimalType{Precision: 30, Scale: 2}, Nullable: true},
		{Name: "day", Type: table.Date, Nullable: true},
		{Name: "blob", Type: table.Binary, Nullable: true},
		{Name: "nested", Type: &table.StructType{Fields: []*table.StructField{
			{Name: "items", Type: &table.ArrayType{ElementType: &table.StructType{Fields: []*table.StructField{
				{Name: "sku", Type: table.String}, {Name: "qty", Type: table.Integer, Nullable: true}}}, ContainsNull: true}, Nullable: true},
			{Name: "attrs", Type: &table.MapType{KeyType: table.String, ValueType: table.Long, ValueContainsNull: true}, Nullable: true},
		}}, Nullable: true},
		{Name: "tags", Type: &table.ArrayType{ElementType: table.String}, Nullable: true},
	}}
	valid := []byte(`{"id":7,"user":"ok","nested":{"items":[{"sku":"s"}]}}`)
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, unknown := range []UnknownFields{UnknownIgnore, UnknownEvolve} {
			buf, err := writer.NewBuffer(writer.Spec{Schema: schema}, writer.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			dec, err := NewJSONDecoder(buf, buf.Columns(), JSONOptions{UnknownFields: unknown})
			if err != nil {
				t.Fatal(err)
			}
			err = dec.Decode(msg)
			if err == nil {
				err = buf.EndRow()
				var ve *writer.ValueError
				var me *writer.MissingValueError
				if err != nil && !errors.As(err, &ve) && !errors.As(err, &me) {
					t.Fatalf("EndRow: unexpected error type %T: %v", err, err)
				}
			} else {
				var se *SyntaxError
				var fe *FieldError
				var nf *NewFieldsError
				if !errors.As(err, &se) && !errors.As(err, &fe) && !errors.As(err, &nf) {
					t.Fatalf("Decode: unexpected error type %T: %v", err, err)
				}
				buf.AbortRow()
				if buf.Rows() != 0 {
					t.Fatalf("a failed message left %d rows", buf.Rows())
				}
			}
			rows := buf.Rows()
			if err := dec.Decode(valid); err != nil {
				t.Fatalf("valid message after %q: %v", msg, err)
			}
			if err := buf.EndRow(); err != nil || buf.Rows() != rows+1 {
				t.Fatalf("valid message after %q: %v, rows %d", msg, err, buf.Rows())
			}
		}
	})
}
