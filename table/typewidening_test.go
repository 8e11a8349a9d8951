package table

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table/storage"
)

func TestCanWiden(t *testing.T) {
	dec := func(p, s int) *DecimalType { return &DecimalType{Precision: p, Scale: s} }
	cases := []struct {
		from, to DataType
		want     bool
	}{
		{Byte, Short, true}, {Byte, Integer, true}, {Short, Long, true}, {Integer, Long, true},
		{Float, Double, true}, {Integer, Double, true}, {Byte, Double, true},
		{Date, TimestampNTZ, true},
		{dec(10, 2), dec(12, 2), true}, {dec(10, 2), dec(12, 4), true}, {dec(10, 2), dec(11, 3), true},
		{Integer, dec(10, 0), true}, {Short, dec(12, 2), true}, {Long, dec(20, 0), true}, {Long, dec(22, 2), true},
		// Not widenings the protocol lists.
		{Long, Integer, false}, {Integer, Integer, false}, {Long, Double, false}, {Double, Float, false},
		{Integer, Float, false}, {Date, Timestamp, false}, {Timestamp, TimestampNTZ, false}, {Integer, String, false},
		{dec(10, 2), dec(10, 2), false}, {dec(10, 2), dec(12, 1), false}, {dec(10, 2), dec(11, 4), false}, {dec(12, 2), dec(10, 2), false},
		{Integer, dec(9, 0), false}, {Integer, dec(11, 2), false}, {Long, dec(19, 0), false}, {dec(10, 0), Long, false},
		{&ArrayType{ElementType: Integer}, &ArrayType{ElementType: Long}, false},
	}
	for _, c := range cases {
		if got := CanWiden(c.from, c.to); got != c.want {
			t.Errorf("CanWiden(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

// fitsSchema takes files written before a column widened when the table has type
// widening, at any depth (struct fields, array elements, map keys and values), and
// refuses narrowing, other type changes, and widening on a table without the feature.
func TestFitsSchemaWidened(t *testing.T) {
	st := func(fs ...*StructField) *StructType { return &StructType{Fields: fs} }
	col := func(name string, typ DataType) *StructField {
		return &StructField{Name: name, Type: typ, Nullable: true}
	}
	arr := func(e DataType) *ArrayType { return &ArrayType{ElementType: e, ContainsNull: true} }
	mp := func(k, v DataType) *MapType { return &MapType{KeyType: k, ValueType: v, ValueContainsNull: true} }
	cases := []struct {
		name        string
		written, to *StructType
		widen       bool
		want        string // "" fits; else part of the refusal
	}{
		{"column", st(col("a", Integer)), st(col("a", Long)), true, ""},
		{"struct field", st(col("s", st(col("x", Float)))), st(col("s", st(col("x", Double)))), true, ""},
		{"array element", st(col("l", arr(Date))), st(col("l", arr(TimestampNTZ))), true, ""},
		{"map key and value", st(col("m", mp(Short, &DecimalType{Precision: 5, Scale: 1}))), st(col("m", mp(Integer, &DecimalType{Precision: 8, Scale: 3}))), true, ""},
		{"struct inside an array gains a field", st(col("l", arr(st(col("x", String))))), st(col("l", arr(st(col("x", String), col("y", Long))))), false, ""},
		{"no type widening", st(col("a", Integer)), st(col("a", Long)), false, "column a changed type from integer to long"},
		{"narrowing", st(col("a", Long)), st(col("a", Integer)), true, "column a changed type from long to integer"},
		{"not a widening", st(col("a", Integer)), st(col("a", String)), true, "column a changed type from integer to string"},
		{"nested narrowing", st(col("m", mp(String, arr(Long)))), st(col("m", mp(String, arr(Integer)))), true, "column m.value.element changed type from long to integer"},
		{"array elements became NOT NULL", st(col("l", arr(Long))), st(col("l", &ArrayType{ElementType: Long})), true, "elements became NOT NULL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := fitsSchema(c.written, c.to, c.widen, "")
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

// A schema change that widens a column commits on a table with
// delta.enableTypeWidening, adds the typeWidening feature (reader and writer) in the
// same commit, and from then on the table takes files written with the narrower type
// as with the wider; files with a narrower type than the table's are refused.
func TestCommitWidening(t *testing.T) {
	ctx := context.Background()
	narrow := &StructType{Fields: []*StructField{{Name: "id", Type: Integer, Nullable: true}, {Name: "day", Type: Date, Nullable: true}}}
	wide := narrow.Clone()
	wide.Fields[0].Type = Long
	if err := wide.Fields[0].AddTypeChanges(TypeChange{FromType: "integer", ToType: "long"}); err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, conf map[string]string) (*Table, storage.Storage, *Snapshot) {
		t.Helper()
		store := storage.NewMemory(t.Name())
		tbl := New(store)
		snap, err := tbl.Create(ctx, CreateOptions{Name: "t", Schema: narrow, PartitionColumns: []string{"day"}, Configuration: conf})
		if err != nil {
			t.Fatal(err)
		}
		return tbl, store, snap
	}
	widen := func(tbl *Table, snap *Snapshot, schema *StructType) error {
		meta := snap.Metadata()
		meta.SchemaString = schema.SchemaString()
		_, err := tbl.Commit(ctx, &Transaction{Metadata: &meta, BaseSchemaString: snap.Metadata().SchemaString,
			SchemaString: snap.Metadata().SchemaString, Adds: []Add{add("day=2024-01-01/narrow.parquet")}})
		return err
	}

	t.Run("created with the property", func(t *testing.T) {
		_, _, snap := create(t, map[string]string{EnableTypeWideningKey: "true"})
		if p := snap.Protocol(); !slices.Contains(p.ReaderFeatures, "typeWidening") || !slices.Contains(p.WriterFeatures, "typeWidening") {
			t.Fatalf("protocol %+v: want typeWidening from the start", p)
		}
	})
	t.Run("enabled", func(t *testing.T) {
		// The property turned on later (ALTER TABLE SET TBLPROPERTIES), so the feature
		// comes with the first widening.
		tbl, store, snap := create(t, nil)
		meta := snap.Metadata()
		meta.Configuration = map[string]string{EnableTypeWideningKey: "true"}
		if _, err := tbl.Commit(ctx, &Transaction{Metadata: &meta, BaseSchemaString: meta.SchemaString}); err != nil {
			t.Fatal(err)
		}
		snap, err := tbl.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := widen(tbl, snap, wide); err != nil {
			t.Fatal(err)
		}
		after, err := Load(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		p := after.Protocol()
		if p.MinReaderVersion != 3 || p.MinWriterVersion != 7 || !slices.Contains(p.ReaderFeatures, "typeWidening") || !slices.Contains(p.WriterFeatures, "typeWidening") {
			t.Fatalf("protocol %+v: want typeWidening for readers and writers", p)
		}
		if commit, _ := store.Get(ctx, CommitKey(2)); !strings.Contains(string(commit), `"protocol"`) {
			t.Fatalf("the protocol did not change in the widening commit:\n%s", commit)
		}
		if got := after.Schema().Fields[0].Type; got != Long {
			t.Fatalf("id is %s, want long", got)
		}
		// Files written with either schema fit the widened table, as an older writer's
		// would; files with a type the table never had do not.
		other := narrow.Clone()
		other.Fields[0].Type = String
		for _, c := range []struct {
			written *StructType
			ok      bool
		}{{narrow, true}, {wide, true}, {other, false}} {
			_, err := tbl.Commit(ctx, &Transaction{SchemaString: c.written.SchemaString(), Adds: []Add{add("day=2024-01-01/" + c.written.Fields[0].Type.String() + ".parquet")}})
			var mc *MetadataChangedError
			if c.ok && err != nil || !c.ok && !errors.As(err, &mc) {
				t.Fatalf("files written as %s: %v", c.written.SchemaString(), err)
			}
		}
	})
	t.Run("narrow table refuses wide files", func(t *testing.T) {
		tbl, _, _ := create(t, map[string]string{EnableTypeWideningKey: "true"})
		_, err := tbl.Commit(ctx, &Transaction{SchemaString: wide.SchemaString(), Adds: []Add{add("day=2024-01-01/wide.parquet")}})
		var mc *MetadataChangedError
		if !errors.As(err, &mc) || !strings.Contains(err.Error(), "changed type from long to integer") {
			t.Fatalf("got %v, want the narrowing refused", err)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		tbl, store, snap := create(t, nil)
		if err := widen(tbl, snap, wide); err == nil || !strings.Contains(err.Error(), "changed type from integer to long") {
			t.Fatalf("got %v, want the widening refused", err)
		}
		if _, err := store.Get(ctx, CommitKey(1)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatal("a refused commit was written")
		}
	})
	// With the property on, a change that is no widening, or a widening the schema
	// does not record, is refused.
	for _, c := range []struct {
		name string
		to   DataType
		want string
	}{{"not a widening", String, "changed type from integer to string"}, {"not recorded", Long, "without recording it in delta.typeChanges"}} {
		t.Run(c.name, func(t *testing.T) {
			tbl, _, snap := create(t, map[string]string{EnableTypeWideningKey: "true"})
			other := narrow.Clone()
			other.Fields[0].Type = c.to
			err := widen(tbl, snap, other)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			// Typed, so that callers know retrying cannot help (the connector retried
			// it forever when it was a plain error).
			var sm *SchemaMismatchError
			if !errors.As(err, &sm) {
				t.Fatalf("got %T, want *SchemaMismatchError", err)
			}
		})
	}
	t.Run("turned off by another writer", func(t *testing.T) {
		tbl, _, snap := create(t, map[string]string{EnableTypeWideningKey: "true"})
		off := snap.Metadata()
		off.Configuration = map[string]string{EnableTypeWideningKey: "false"}
		if _, err := tbl.Commit(ctx, &Transaction{Metadata: &off}); err != nil {
			t.Fatal(err)
		}
		var mc *MetadataChangedError
		if err := widen(tbl, snap, wide); !errors.As(err, &mc) {
			t.Fatalf("got %v, want *MetadataChangedError", err)
		}
	})
}

// A reader refuses a table whose schema records a type change that is no widening
// the protocol lists, and reads one whose changes all are.
func TestLoadChecksTypeChanges(t *testing.T) {
	ctx := context.Background()
	p := Protocol{MinReaderVersion: 3, MinWriterVersion: 7, ReaderFeatures: []string{"typeWidening"}, WriterFeatures: []string{"typeWidening"}}
	for _, c := range []struct {
		from, to, fieldPath string
		typ                 DataType
		ok                  bool
	}{
		{"integer", "long", "", Long, true},
		{"decimal(6,2)", "decimal(10,4)", "element", &ArrayType{ElementType: &DecimalType{Precision: 10, Scale: 4}, ContainsNull: true}, true},
		{"long", "integer", "", Integer, false},
		{"string", "long", "", Long, false},
	} {
		t.Run(c.from+" to "+c.to, func(t *testing.T) {
			store := storage.NewMemory(t.Name())
			f := &StructField{Name: "e", Type: c.typ, Nullable: true}
			if err := f.AddTypeChanges(TypeChange{FromType: c.from, ToType: c.to, FieldPath: c.fieldPath}); err != nil {
				t.Fatal(err)
			}
			writeVersion0(t, store, p, &StructType{Fields: []*StructField{f, {Name: "day", Type: Date, Nullable: true}}})
			_, err := Load(ctx, store)
			var ue *UnsupportedFeatureError
			if c.ok && err != nil || !c.ok && !errors.As(err, &ue) {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

// AddTypeChanges appends to the changes already recorded and keeps the other keys.
func TestAddTypeChanges(t *testing.T) {
	f := &StructField{Name: "e", Type: Long, Metadata: []byte(`{"comment":"c","delta.typeChanges":[{"fromType":"short","toType":"integer"}]}`)}
	if err := f.AddTypeChanges(TypeChange{FromType: "integer", ToType: "long"}); err != nil {
		t.Fatal(err)
	}
	want := `{"comment":"c","delta.typeChanges":[{"fromType":"short","toType":"integer"},{"fromType":"integer","toType":"long"}]}`
	if string(f.Metadata) != want {
		t.Fatalf("metadata %s, want %s", f.Metadata, want)
	}
	changes, err := f.TypeChanges()
	if err != nil || len(changes) != 2 || changes[1] != (TypeChange{FromType: "integer", ToType: "long"}) {
		t.Fatalf("TypeChanges = %v, %v", changes, err)
	}
}
