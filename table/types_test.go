package table

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"
)

func TestSchemaStringRoundTripSpark(t *testing.T) {
	f, err := os.Open("testdata/spark-schemas.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var rec struct{ Source, SchemaString string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		s, err := ParseSchema(rec.SchemaString)
		if err != nil {
			t.Errorf("%s: %v", rec.Source, err)
			continue
		}
		if got := s.SchemaString(); got != rec.SchemaString {
			t.Errorf("%s: round trip differs\n got %s\nwant %s", rec.Source, got, rec.SchemaString)
		}
		n++
	}
	if n < 50 {
		t.Fatalf("only %d schemas checked", n)
	}
}

func TestSchemaStringBuilt(t *testing.T) {
	s := &StructType{Fields: []*StructField{
		{Name: "id", Type: Long},
		{Name: "price", Type: &DecimalType{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "tags", Type: &ArrayType{ElementType: String, ContainsNull: true}, Nullable: true},
		{Name: "attrs", Type: &MapType{KeyType: String, ValueType: Integer}, Nullable: true},
		{Name: "a<b>&c", Type: &StructType{Fields: []*StructField{{Name: "x", Type: TimestampNTZ, Nullable: true, Metadata: json.RawMessage(`{"comment": "ünïcode"}`)}}}, Nullable: true},
	}}
	want := `{"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":{}},` +
		`{"name":"price","type":"decimal(10,2)","nullable":true,"metadata":{}},` +
		`{"name":"tags","type":{"type":"array","elementType":"string","containsNull":true},"nullable":true,"metadata":{}},` +
		`{"name":"attrs","type":{"type":"map","keyType":"string","valueType":"integer","valueContainsNull":false},"nullable":true,"metadata":{}},` +
		`{"name":"a<b>&c","type":{"type":"struct","fields":[{"name":"x","type":"timestamp_ntz","nullable":true,"metadata":{"comment":"ünïcode"}}]},"nullable":true,"metadata":{}}]}`
	if got := s.SchemaString(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	back, err := ParseSchema(want)
	if err != nil {
		t.Fatal(err)
	}
	if back.SchemaString() != want {
		t.Fatal("parse/render differs")
	}
}

func TestParsePrimitiveErrors(t *testing.T) {
	for _, bad := range []string{"varchar", "decimal(0,0)", "decimal(39,2)", "decimal(5,6)", "decimal(a,b)"} {
		if _, err := ParsePrimitive(bad); err == nil {
			t.Errorf("ParsePrimitive(%q): want error", bad)
		}
	}
	if d, err := ParsePrimitive("decimal"); err != nil || d.String() != "decimal(10,0)" {
		t.Errorf("bare decimal = %v, %v", d, err)
	}
}
