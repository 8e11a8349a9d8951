package connector

import (
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table"
)

func fld(name string, t table.DataType, nullable bool) *table.StructField {
	return &table.StructField{Name: name, Type: t, Nullable: nullable}
}

func strct(fs ...*table.StructField) *table.StructType { return &table.StructType{Fields: fs} }

// TestAdditions: the evolution a writer schema asks of the table: new fields (nullable),
// and NOT NULL dropped where the writer makes a field optional or lacks it; nothing
// for a writer that is narrower (a required field where the table is nullable).
func TestAdditions(t *testing.T) {
	cur := strct(
		fld("id", table.Long, false),
		fld("name", table.String, false),
		fld("gone", table.String, false),
		fld("opt", table.String, true),
		fld("tags", &table.ArrayType{ElementType: strct(fld("k", table.String, false))}, false),
		fld("attrs", &table.MapType{KeyType: table.String, ValueType: table.Long}, true),
	)
	mapped := strct(
		fld("id", table.Long, false),
		fld("name", table.String, true),
		fld("opt", table.String, false),
		fld("tags", &table.ArrayType{ElementType: strct(fld("k", table.String, true), fld("v", table.Long, false)), ContainsNull: true}, false),
		fld("attrs", &table.MapType{KeyType: table.String, ValueType: table.Long, ValueContainsNull: true}, true),
		fld("extra", table.Double, false),
	)
	before := cur.SchemaString()
	got, changed := additions(cur, mapped)
	if !changed {
		t.Fatal("no change reported")
	}
	if cur.SchemaString() != before {
		t.Fatal("additions modified the table's schema")
	}
	want := strct(
		fld("id", table.Long, false),
		fld("name", table.String, true),
		fld("gone", table.String, true),
		fld("opt", table.String, true),
		fld("tags", &table.ArrayType{ElementType: strct(fld("k", table.String, true), fld("v", table.Long, true)), ContainsNull: true}, false),
		fld("attrs", &table.MapType{KeyType: table.String, ValueType: table.Long, ValueContainsNull: true}, true),
		fld("extra", table.Double, true),
	)
	if got.SchemaString() != want.SchemaString() {
		t.Fatalf("got  %s\nwant %s", got.SchemaString(), want.SchemaString())
	}
	added, relaxed := schemaChanges(cur, got, "")
	if a, r := strings.Join(added, " "), strings.Join(relaxed, " "); a != "tags.element.v extra" || r != "name gone tags.element.k tags.element attrs.value" {
		t.Fatalf("changes: added %q, now nullable %q", a, r)
	}

	narrower := strct(fld("id", table.Long, false), fld("name", table.String, false), fld("gone", table.String, false), fld("opt", table.String, false))
	if _, changed := additions(strct(fld("id", table.Long, false), fld("name", table.String, false), fld("gone", table.String, false), fld("opt", table.String, true)), narrower); changed {
		t.Fatal("a narrower writer schema asked for a change")
	}
}
