package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/table"
)

// Avro messages reach a table in two steps. AvroTableSchema maps a writer schema to the
// table schema it needs (for table auto-creation and, through Evolve, schema evolution);
// NewAvroDecoder compiles a plan that decodes the writer schema's binary encoding
// straight into the columns of an existing table, following Avro schema resolution with
// the table in the reader's role. hamba/avro only parses schemas: its reflection-based
// decoding allocates per message, the plan does not.

// AvroTableSchema maps the top-level record of an Avro schema to the table schema that
// holds its messages, one column per field. Errors are *AvroSchemaError naming the
// field that has no table equivalent. The mapping, with what each choice means for
// readers of the table:
//
//	Avro                                  Delta                  reader impact
//	record                                struct                 fields in Avro order; a field's doc becomes its
//	                                                             column comment (metadata "comment")
//	array<T>                              array<T>               containsNull when the items are a union with null
//	map<T>                                map<string,T>          valueContainsNull likewise; keys are never null
//	enum                                  string                 the symbol's name; the symbol list is not kept
//	fixed, bytes                          binary
//	string                                string                 a message with invalid UTF-8 is refused
//	boolean, int, long                    boolean, integer, long
//	float, double                         float, double
//	null (alone), [null]                  void, nullable         every value null, as Spark's NullType; refused
//	                                                             as array items and map values (no Parquet column)
//	[null,T], [T,null]                    T, nullable
//	[T]                                   T
//	any other union                       struct                 one nullable field per non-null member, named
//	                                                             after it ("int", "string", "array", "map", a named
//	                                                             type's name, its full name with "_" for "." when
//	                                                             two share a name); exactly one field is set, the
//	                                                             struct is null when the union holds null
//	date (int)                            date
//	decimal(p,s) (bytes or fixed)         decimal(p,s)           p > 38 is refused; Avro allows any precision
//	                                                             on bytes, Delta and Parquet readers stop at 38
//	uuid (string, or fixed(16))           string                 a fixed(16) uuid is written in its 36-character form
//	time-millis (int), time-micros (long) long                   microseconds since midnight: Delta has no time type
//	timestamp-millis, timestamp-micros    timestamp              a UTC instant in microseconds; millis are scaled
//	timestamp-nanos                       timestamp              truncated (toward the past) to microseconds
//	local-timestamp-millis/micros/nanos   timestamp_ntz          wall-clock time; the table then needs the
//	                                                             timestampNtz feature (reader 3, writer 7), which
//	                                                             older readers refuse
//	duration (fixed 12)                   binary                 the raw 12 bytes: Delta has no interval type
//	recursive record                      refused                a table type is finite
//	record without fields                 refused                Parquet cannot store an empty group
//
// A field is nullable exactly when its Avro type is a union that contains null; default
// values never change a type. Logical types that are invalid (a decimal whose scale
// exceeds its precision, a logical type on the wrong base type) are ignored, as the Avro
// specification says, and the base type is mapped.
func AvroTableSchema(s avro.Schema) (*table.StructType, error) {
	rec, ok := deref(s).(*avro.RecordSchema)
	if !ok {
		return nil, &AvroSchemaError{Msg: fmt.Sprintf("the top-level schema is %s, not a record; a table needs named columns", describeAvro(s))}
	}
	m := avroMapper{}
	return m.record(rec, "")
}

// ParseAvro parses a registry schema of type AVRO: every schema it references, directly
// or not, first (their named types are then known by name), and its own text last. Each
// call uses a fresh cache, so schemas from different registries or subjects never see
// each other's names.
func ParseAvro(s *Schema) (avro.Schema, error) {
	if s.Type != "" && s.Type != TypeAvro {
		return nil, fmt.Errorf("schema %d is a %s schema, not Avro", s.ID, s.Type)
	}
	cache := &avro.SchemaCache{}
	for _, dep := range s.Dependencies() {
		if _, err := avro.ParseWithCache(dep.Text, "", cache); err != nil {
			return nil, fmt.Errorf("schema %d: referenced schema %s version %d: %w", s.ID, dep.Subject, dep.Version, err)
		}
	}
	parsed, err := avro.ParseWithCache(s.Text, "", cache)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", s.ID, err)
	}
	return parsed, nil
}

// avroMapper maps Avro types to table types; stack holds the full names of the records
// being mapped, to refuse recursion instead of looping.
type avroMapper struct {
	stack []string
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (m *avroMapper) record(rec *avro.RecordSchema, path string) (*table.StructType, error) {
	if i := slices.Index(m.stack, rec.FullName()); i >= 0 {
		return nil, &AvroSchemaError{Field: path, Msg: fmt.Sprintf("record %s contains itself (a recursive type); a table column cannot nest without end", rec.FullName())}
	}
	if len(rec.Fields()) == 0 {
		return nil, &AvroSchemaError{Field: path, Msg: fmt.Sprintf("record %s has no fields; Parquet cannot store an empty struct", rec.FullName())}
	}
	m.stack = append(m.stack, rec.FullName())
	defer func() { m.stack = m.stack[:len(m.stack)-1] }()
	st := &table.StructType{Fields: make([]*table.StructField, 0, len(rec.Fields()))}
	for _, f := range rec.Fields() {
		fp := joinPath(path, f.Name())
		t, nullable, err := m.typ(f.Type(), fp)
		if err != nil {
			return nil, err
		}
		sf := &table.StructField{Name: f.Name(), Type: t, Nullable: nullable}
		if doc := f.Doc(); doc != "" {
			sf.Metadata, _ = json.Marshal(map[string]string{"comment": doc})
		}
		st.Fields = append(st.Fields, sf)
	}
	return st, nil
}

// typ maps one Avro type; nullable reports a union with null.
func (m *avroMapper) typ(s avro.Schema, path string) (table.DataType, bool, error) {
	s = deref(s)
	switch s := s.(type) {
	case *avro.NullSchema:
		return table.Void, true, nil
	case *avro.PrimitiveSchema:
		t, err := primitiveTableType(s)
		if err != nil {
			return nil, false, &AvroSchemaError{Field: path, Msg: err.Error()}
		}
		return t, false, nil
	case *avro.FixedSchema:
		t, err := fixedTableType(s, path)
		return t, false, err
	case *avro.EnumSchema:
		return table.String, false, nil
	case *avro.RecordSchema:
		t, err := m.record(s, path)
		return t, false, err
	case *avro.ArraySchema:
		et, null, err := m.typ(s.Items(), joinPath(path, "element"))
		if err != nil {
			return nil, false, err
		}
		if et == table.Void {
			return nil, false, &AvroSchemaError{Field: path, Msg: "the array's items are null alone; a void element type cannot be written"}
		}
		return &table.ArrayType{ElementType: et, ContainsNull: null}, false, nil
	case *avro.MapSchema:
		vt, null, err := m.typ(s.Values(), joinPath(path, "value"))
		if err != nil {
			return nil, false, err
		}
		if vt == table.Void {
			return nil, false, &AvroSchemaError{Field: path, Msg: "the map's values are null alone; a void value type cannot be written"}
		}
		return &table.MapType{KeyType: table.String, ValueType: vt, ValueContainsNull: null}, false, nil
	case *avro.UnionSchema:
		members, hasNull := unionMembers(s)
		switch len(members) {
		case 0:
			return table.Void, true, nil
		case 1:
			t, _, err := m.typ(members[0].schema, path)
			return t, hasNull, err
		}
		st := &table.StructType{Fields: make([]*table.StructField, 0, len(members))}
		for _, mb := range members {
			t, _, err := m.typ(mb.schema, joinPath(path, mb.name))
			if err != nil {
				return nil, false, err
			}
			st.Fields = append(st.Fields, &table.StructField{Name: mb.name, Type: t, Nullable: true})
		}
		return st, hasNull, nil
	}
	return nil, false, &AvroSchemaError{Field: path, Msg: fmt.Sprintf("unsupported Avro type %s", s.Type())}
}

// primitiveTableType maps a primitive Avro type and its logical type; a bytes decimal
// beyond Delta's 38 digits is an error.
func primitiveTableType(s *avro.PrimitiveSchema) (table.DataType, error) {
	lt := logicalType(s)
	switch s.Type() {
	case avro.Boolean:
		return table.Boolean, nil
	case avro.Int:
		switch lt {
		case "date":
			return table.Date, nil
		case "time-millis":
			return table.Long, nil
		}
		return table.Integer, nil
	case avro.Long:
		switch lt {
		case "timestamp-millis", "timestamp-micros", "timestamp-nanos":
			return table.Timestamp, nil
		case "local-timestamp-millis", "local-timestamp-micros", "local-timestamp-nanos":
			return table.TimestampNTZ, nil
		}
		return table.Long, nil
	case avro.Float:
		return table.Float, nil
	case avro.Double:
		return table.Double, nil
	case avro.String:
		return table.String, nil
	case avro.Bytes:
		if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			return decimalTableType(d)
		}
		return table.Binary, nil
	}
	return nil, fmt.Errorf("unsupported Avro type %s", s.Type())
}

func decimalTableType(d *avro.DecimalLogicalSchema) (table.DataType, error) {
	if d.Precision() > 38 {
		return nil, fmt.Errorf("decimal(%d,%d) exceeds the 38 digits Delta tables hold", d.Precision(), d.Scale())
	}
	return &table.DecimalType{Precision: d.Precision(), Scale: d.Scale()}, nil
}

func fixedTableType(s *avro.FixedSchema, path string) (table.DataType, error) {
	if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
		t, err := decimalTableType(d)
		if err != nil {
			return nil, &AvroSchemaError{Field: path, Msg: err.Error()}
		}
		return t, nil
	}
	if fixedUUID(s) {
		return table.String, nil
	}
	return table.Binary, nil
}

// logicalType names the logical type of a primitive, including the ones hamba/avro
// does not know (timestamp-nanos, local-timestamp-nanos), which it leaves as a property.
func logicalType(s *avro.PrimitiveSchema) string {
	if l := s.Logical(); l != nil {
		return string(l.Type())
	}
	if s.Type() == avro.Long {
		if v, ok := s.Prop("logicalType").(string); ok && (v == "timestamp-nanos" || v == "local-timestamp-nanos") {
			return v
		}
	}
	return ""
}

// fixedUUID reports a uuid fixed(16), which Avro 1.12 allows and hamba/avro leaves as a
// property.
func fixedUUID(s *avro.FixedSchema) bool {
	v, ok := s.Prop("logicalType").(string)
	return ok && v == "uuid" && s.Size() == 16 && s.Logical() == nil
}

type unionMember struct {
	name   string
	index  int // branch index in the union
	schema avro.Schema
}

// unionMembers lists the non-null members of a union with the struct field name each
// gets when the union maps to a struct.
func unionMembers(u *avro.UnionSchema) ([]unionMember, bool) {
	var out []unionMember
	hasNull := false
	short := map[string]int{}
	for i, t := range u.Types() {
		t = deref(t)
		if t.Type() == avro.Null {
			hasNull = true
			continue
		}
		name := string(t.Type())
		if n, ok := t.(avro.NamedSchema); ok {
			name = n.Name()
		}
		short[name]++
		out = append(out, unionMember{name: name, index: i, schema: t})
	}
	for i := range out {
		if n, ok := out[i].schema.(avro.NamedSchema); ok && short[out[i].name] > 1 {
			out[i].name = strings.ReplaceAll(n.FullName(), ".", "_")
		}
	}
	return out, hasNull
}

// describeAvro names an Avro type for messages: "long (timestamp-millis)", "record a.B".
func describeAvro(s avro.Schema) string {
	s = deref(s)
	switch s := s.(type) {
	case *avro.PrimitiveSchema:
		if lt := logicalType(s); lt != "" {
			if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
				return fmt.Sprintf("bytes (decimal(%d,%d))", d.Precision(), d.Scale())
			}
			return fmt.Sprintf("%s (%s)", s.Type(), lt)
		}
		return string(s.Type())
	case *avro.FixedSchema:
		if d, ok := s.Logical().(*avro.DecimalLogicalSchema); ok {
			return fmt.Sprintf("fixed %s (decimal(%d,%d))", s.FullName(), d.Precision(), d.Scale())
		}
		return fmt.Sprintf("fixed %s (%d bytes)", s.FullName(), s.Size())
	case avro.NamedSchema:
		return fmt.Sprintf("%s %s", s.Type(), s.FullName())
	case *avro.UnionSchema:
		names := make([]string, len(s.Types()))
		for i, t := range s.Types() {
			names[i] = describeAvro(t)
		}
		return "union [" + strings.Join(names, ", ") + "]"
	case *avro.ArraySchema:
		return "array<" + describeAvro(s.Items()) + ">"
	case *avro.MapSchema:
		return "map<" + describeAvro(s.Values()) + ">"
	}
	return string(s.Type())
}
