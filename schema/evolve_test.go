package schema

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table"
)

func evField(name string, t table.DataType, nullable bool) *table.StructField {
	return &table.StructField{Name: name, Type: t, Nullable: nullable}
}

func evStruct(fields ...*table.StructField) *table.StructType {
	return &table.StructType{Fields: fields}
}

func TestEvolveAllowed(t *testing.T) {
	item := func(extra ...*table.StructField) *table.StructType {
		return evStruct(append([]*table.StructField{evField("sku", table.String, false)}, extra...)...)
	}
	cases := []struct {
		name        string
		cur, in     *table.StructType
		want        string // compactType of merged
		wantChanged bool
	}{
		{"same schema", evStruct(evField("id", table.Long, false)), evStruct(evField("id", table.Long, false)), "struct<id:long>", false},
		{"new nullable top-level column at the end",
			evStruct(evField("id", table.Long, false), evField("b", table.String, true)),
			evStruct(evField("a", table.Integer, true), evField("id", table.Long, false), evField("b", table.String, true)),
			"struct<id:long,b:string?,a:integer?>", true},
		{"new nullable struct field",
			evStruct(evField("s", evStruct(evField("x", table.Long, false)), true)),
			evStruct(evField("s", evStruct(evField("x", table.Long, false), evField("y", table.Double, true)), true)),
			"struct<s:struct<x:long,y:double?>?>", true},
		{"new field inside array elements",
			evStruct(evField("items", &table.ArrayType{ElementType: item(), ContainsNull: false}, false)),
			evStruct(evField("items", &table.ArrayType{ElementType: item(evField("qty", table.Integer, true)), ContainsNull: false}, false)),
			"struct<items:array<struct<sku:string,qty:integer?>>>", true},
		{"new field inside map values",
			evStruct(evField("m", &table.MapType{KeyType: table.String, ValueType: item(), ValueContainsNull: true}, true)),
			evStruct(evField("m", &table.MapType{KeyType: table.String, ValueType: item(evField("n", table.Long, true)), ValueContainsNull: true}, true)),
			"struct<m:map<string,struct<sku:string,n:long?>?>?>", true},
		{"new nullable struct whose fields are required",
			evStruct(evField("id", table.Long, false)),
			evStruct(evField("id", table.Long, false), evField("geo", evStruct(evField("lat", table.Double, false)), true)),
			"struct<id:long,geo:struct<lat:double>?>", true},
		{"dropped nullable column stays",
			evStruct(evField("id", table.Long, false), evField("old", table.String, true), evField("s", evStruct(evField("x", table.Long, true), evField("y", table.Long, false)), false)),
			evStruct(evField("id", table.Long, false), evField("s", evStruct(evField("y", table.Long, false)), false)),
			"struct<id:long,old:string?,s:struct<x:long?,y:long>>", false},
		{"new union member",
			evStruct(evField("u", evStruct(evField("int", table.Integer, true), evField("string", table.String, true)), true)),
			evStruct(evField("u", evStruct(evField("int", table.Integer, true), evField("string", table.String, true), evField("boolean", table.Boolean, true)), true)),
			"struct<u:struct<int:integer?,string:string?,boolean:boolean?>?>", true},
		{"nullable column that incoming makes required stays nullable",
			evStruct(evField("a", table.Long, true), evField("l", &table.ArrayType{ElementType: table.Long, ContainsNull: true}, true)),
			evStruct(evField("a", table.Long, false), evField("l", &table.ArrayType{ElementType: table.Long, ContainsNull: false}, true)),
			"struct<a:long?,l:array<long?>?>", false},
		{"column that became nullable relaxes",
			evStruct(evField("id", table.Long, false), evField("a", table.Long, false)),
			evStruct(evField("id", table.Long, false), evField("a", table.Long, true)),
			"struct<id:long,a:long?>", true},
		{"array elements and map values that became nullable relax",
			evStruct(evField("l", &table.ArrayType{ElementType: table.Long}, true), evField("m", &table.MapType{KeyType: table.String, ValueType: table.Long}, true)),
			evStruct(evField("l", &table.ArrayType{ElementType: table.Long, ContainsNull: true}, true), evField("m", &table.MapType{KeyType: table.String, ValueType: table.Long, ValueContainsNull: true}, true)),
			"struct<l:array<long?>?,m:map<string,long?>?>", true},
		{"dropped non-nullable column relaxes",
			evStruct(evField("id", table.Long, false), evField("x", table.Long, true)),
			evStruct(evField("x", table.Long, true)),
			"struct<id:long?,x:long?>", true},
		{"dropped non-nullable nested field relaxes",
			evStruct(evField("s", evStruct(evField("x", table.Long, false), evField("y", table.Long, true)), true)),
			evStruct(evField("s", evStruct(evField("y", table.Long, true)), true)),
			"struct<s:struct<x:long?,y:long?>?>", true},
		{"same decimal", evStruct(evField("d", &table.DecimalType{Precision: 10, Scale: 2}, true)), evStruct(evField("d", &table.DecimalType{Precision: 10, Scale: 2}, true)), "struct<d:decimal(10,2)?>", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			curJSON := tc.cur.SchemaString()
			inJSON := tc.in.SchemaString()
			merged, changes, err := Evolve(tc.cur, tc.in, EvolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			changed := changes.Any()
			if changed != tc.wantChanged {
				t.Fatalf("changed = %v, want %v", changed, tc.wantChanged)
			}
			if got := compactType(merged); got != tc.want {
				t.Fatalf("merged\n got %s\nwant %s", got, tc.want)
			}
			if !changed && merged != tc.cur {
				t.Fatal("an unchanged schema must come back as current itself")
			}
			if tc.cur.SchemaString() != curJSON || tc.in.SchemaString() != inJSON {
				t.Fatal("Evolve modified its inputs")
			}
			// The merged schema takes the incoming schema again without change.
			if _, again, err := Evolve(merged, tc.in, EvolveOptions{}); err != nil || again.Any() {
				t.Fatalf("second Evolve: changed %v, %v", again, err)
			}
		})
	}
}

func TestEvolveKeepsMetadataAndShares(t *testing.T) {
	cur := evStruct(&table.StructField{Name: "id", Type: table.Long, Metadata: json.RawMessage(`{"comment":"old"}`)},
		evField("s", evStruct(evField("x", table.Long, true)), true))
	in := evStruct(&table.StructField{Name: "id", Type: table.Long, Metadata: json.RawMessage(`{"comment":"new"}`)},
		evField("s", evStruct(evField("x", table.Long, true)), true),
		&table.StructField{Name: "n", Type: table.String, Nullable: true, Metadata: json.RawMessage(`{"comment":"added"}`)})
	merged, changes, err := Evolve(cur, in, EvolveOptions{})
	if err != nil || !changes.Any() {
		t.Fatal(changes, err)
	}
	if got := string(merged.Fields[0].Metadata); got != `{"comment":"old"}` {
		t.Fatalf("existing field metadata %s, want the current one", got)
	}
	if got := string(merged.Fields[2].Metadata); got != `{"comment":"added"}` {
		t.Fatalf("new field metadata %s", got)
	}
	merged.Fields[1].Type.(*table.StructType).Fields[0].Name = "changed"
	merged.Fields[2].Metadata[2] = 'X'
	if cur.Fields[1].Type.(*table.StructType).Fields[0].Name != "x" || string(in.Fields[2].Metadata) != `{"comment":"added"}` {
		t.Fatal("merged shares memory with its inputs")
	}
}

func TestEvolveRefused(t *testing.T) {
	arr := func(e table.DataType, null bool) *table.ArrayType {
		return &table.ArrayType{ElementType: e, ContainsNull: null}
	}
	mp := func(v table.DataType, null bool) *table.MapType {
		return &table.MapType{KeyType: table.String, ValueType: v, ValueContainsNull: null}
	}
	cases := []struct {
		name    string
		cur, in *table.StructType
		path    string
		want    string
	}{
		{"type change", evStruct(evField("id", table.Long, false)), evStruct(evField("id", table.String, false)),
			"id", "the type changed from long to string"},
		{"widening int to long", evStruct(evField("n", table.Integer, true)), evStruct(evField("n", table.Long, true)),
			"n", "the type widened from integer to long, but the table does not enable type widening (table property delta.enableTypeWidening)"},
		{"widening decimal", evStruct(evField("d", &table.DecimalType{Precision: 10, Scale: 2}, true)), evStruct(evField("d", &table.DecimalType{Precision: 12, Scale: 2}, true)),
			"d", "from decimal(10,2) to decimal(12,2)"},
		{"struct to primitive", evStruct(evField("s", evStruct(evField("x", table.Long, true)), true)), evStruct(evField("s", table.String, true)),
			"s", "the type changed from struct<x:long> to string"},
		{"nested type change", evStruct(evField("s", evStruct(evField("a", evStruct(evField("b", table.Date, true)), true)), true)), evStruct(evField("s", evStruct(evField("a", evStruct(evField("b", table.Timestamp, true)), true)), true)),
			"s.a.b", "from date to timestamp"},
		{"type change in array elements", evStruct(evField("l", arr(evStruct(evField("q", table.Integer, true)), true), true)), evStruct(evField("l", arr(evStruct(evField("q", table.Double, true)), true), true)),
			"l.element.q", "from integer to double"},
		{"type change in map values", evStruct(evField("m", mp(table.Long, true), true)), evStruct(evField("m", mp(table.Binary, true), true)),
			"m.value", "from long to binary"},
		{"map key type change", evStruct(evField("m", &table.MapType{KeyType: table.String, ValueType: table.Long}, true)), evStruct(evField("m", &table.MapType{KeyType: table.Integer, ValueType: table.Long}, true)),
			"m.key", "from string to integer"},
		{"new non-nullable column", evStruct(evField("id", table.Long, false)), evStruct(evField("id", table.Long, false), evField("req", table.String, false)),
			"req", "the new column is a non-nullable string; a column added to a table must be nullable"},
		{"new non-nullable nested field", evStruct(evField("s", evStruct(evField("x", table.Long, true)), true)), evStruct(evField("s", evStruct(evField("x", table.Long, true), evField("y", table.Long, false)), true)),
			"s.y", "the new column is a non-nullable long"},
		{"rename by case", evStruct(evField("id", table.Long, false)), evStruct(evField("Id", table.Long, false)),
			"id", `the new schema calls it "Id"; Delta column names are case-insensitive`},
		{"nullable rename by case", evStruct(evField("name", table.String, true)), evStruct(evField("NAME", table.String, true)),
			"name", `the new schema calls it "NAME"`},
		{"case clash within the new schema", evStruct(evField("id", table.Long, false)), evStruct(evField("id", table.Long, false), evField("ID", table.Long, true)),
			"ID", `the new schema also has "id", a name that differs only in case`},
		{"case clash in a nested struct", evStruct(evField("s", evStruct(evField("a", table.Long, true)), true)), evStruct(evField("s", evStruct(evField("a", table.Long, true), evField("A", table.Long, true)), true)),
			"s.A", `differs only in case`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			merged, changes, err := Evolve(tc.cur, tc.in, EvolveOptions{})
			changed := changes.Any()
			var ee *EvolutionError
			if !errors.As(err, &ee) {
				t.Fatalf("got %v, want *EvolutionError", err)
			}
			if ee.Path != tc.path || !strings.Contains(ee.Msg, tc.want) {
				t.Fatalf("got %q at %q, want %q at %q", ee.Msg, ee.Path, tc.want, tc.path)
			}
			if merged != nil || changed {
				t.Fatal("a refused evolution returns no schema")
			}
			if !strings.HasPrefix(err.Error(), `schema change refused: column "`+tc.path+`": `) {
				t.Fatalf("message %q", err)
			}
		})
	}
}

// TestEvolveAvroSchemas runs the rules on schemas mapped from Avro: adding an optional
// field with a default evolves; adding a required one does not.
func TestEvolveAvroSchemas(t *testing.T) {
	v1, err := AvroTableSchema(mustParse(t, recordSchema(`{"name":"id","type":"long"},{"name":"tags","type":{"type":"array","items":{"type":"record","name":"Tag","fields":[{"name":"k","type":"string"}]}}}`)))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := AvroTableSchema(mustParse(t, recordSchema(`{"name":"id","type":"long"},{"name":"tags","type":{"type":"array","items":{"type":"record","name":"Tag","fields":[{"name":"k","type":"string"},{"name":"v","type":["null","string"],"default":null}]}}}`)))
	if err != nil {
		t.Fatal(err)
	}
	merged, changes, err := Evolve(v1, v2, EvolveOptions{})
	if err != nil || !changes.Any() || compactType(merged) != "struct<id:long,tags:array<struct<k:string,v:string?>>>" {
		t.Fatalf("v1 -> v2: %s %v %v", compactType(merged), changes, err)
	}
	v3, err := AvroTableSchema(mustParse(t, recordSchema(`{"name":"id","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}},{"name":"n","type":"int","default":0}`)))
	if err != nil {
		t.Fatal(err)
	}
	// v2 -> v4: an optional customer relaxes the column; a dropped id relaxes it too.
	v4, err := AvroTableSchema(mustParse(t, recordSchema(`{"name":"customer","type":["null","string"],"default":null},{"name":"tags","type":{"type":"array","items":{"type":"record","name":"Tag","fields":[{"name":"k","type":"string"},{"name":"v","type":["null","string"],"default":null}]}}}`)))
	if err != nil {
		t.Fatal(err)
	}
	v2c, err := AvroTableSchema(mustParse(t, recordSchema(`{"name":"id","type":"long"},{"name":"customer","type":"string"},{"name":"tags","type":{"type":"array","items":{"type":"record","name":"Tag","fields":[{"name":"k","type":"string"},{"name":"v","type":["null","string"],"default":null}]}}}`)))
	if err != nil {
		t.Fatal(err)
	}
	relaxed, changes, err := Evolve(v2c, v4, EvolveOptions{})
	if err != nil || !changes.Any() || compactType(relaxed) != "struct<id:long?,customer:string?,tags:array<struct<k:string,v:string?>>>" {
		t.Fatalf("v2 -> v4: %s %v %v", compactType(relaxed), changes, err)
	}
	if _, _, err := Evolve(merged, v3, EvolveOptions{}); err == nil || !strings.Contains(err.Error(), `column "tags.element": the type changed from struct<k:string,v:string> to string`) {
		t.Fatalf("v2 -> v3: %v", err)
	}
}

// TestWiden: the evolution a writer schema asks of the table: new fields (nullable),
// and NOT NULL dropped where the writer makes a field optional or lacks it; nothing
// for a writer that is narrower (a required field where the table is nullable). Evolve
// then reports the change as added and now-nullable paths.
func TestWiden(t *testing.T) {
	cur := evStruct(
		evField("id", table.Long, false),
		evField("name", table.String, false),
		evField("gone", table.String, false),
		evField("opt", table.String, true),
		evField("tags", &table.ArrayType{ElementType: evStruct(evField("k", table.String, false))}, false),
		evField("attrs", &table.MapType{KeyType: table.String, ValueType: table.Long}, true),
	)
	writer := evStruct(
		evField("id", table.Long, false),
		evField("name", table.String, true),
		evField("opt", table.String, false),
		evField("tags", &table.ArrayType{ElementType: evStruct(evField("k", table.String, true), evField("v", table.Long, false)), ContainsNull: true}, false),
		evField("attrs", &table.MapType{KeyType: table.String, ValueType: table.Long, ValueContainsNull: true}, true),
		evField("extra", table.Double, false),
	)
	before := cur.SchemaString()
	got, changed := Widen(cur, writer, EvolveOptions{})
	if !changed {
		t.Fatal("no change reported")
	}
	if cur.SchemaString() != before {
		t.Fatal("Widen modified the table's schema")
	}
	want := evStruct(
		evField("id", table.Long, false),
		evField("name", table.String, true),
		evField("gone", table.String, true),
		evField("opt", table.String, true),
		evField("tags", &table.ArrayType{ElementType: evStruct(evField("k", table.String, true), evField("v", table.Long, true)), ContainsNull: true}, false),
		evField("attrs", &table.MapType{KeyType: table.String, ValueType: table.Long, ValueContainsNull: true}, true),
		evField("extra", table.Double, true),
	)
	if got.SchemaString() != want.SchemaString() {
		t.Fatalf("got  %s\nwant %s", got.SchemaString(), want.SchemaString())
	}
	_, changes, err := Evolve(cur, got, EvolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a, r := strings.Join(changes.Added, " "), strings.Join(changes.Nullable, " "); a != "tags.element.v extra" || r != "name gone tags.element.k tags.element attrs.value" {
		t.Fatalf("changes: added %q, now nullable %q", a, r)
	}

	narrower := evStruct(evField("id", table.Long, false), evField("name", table.String, false), evField("gone", table.String, false), evField("opt", table.String, false))
	if _, changed := Widen(evStruct(evField("id", table.Long, false), evField("name", table.String, false), evField("gone", table.String, false), evField("opt", table.String, true)), narrower, EvolveOptions{}); changed {
		t.Fatal("a narrower writer schema asked for a change")
	}
}
