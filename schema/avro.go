package schema

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
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
//	null (alone)                          refused                a column needs a type that can hold a value
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
		return nil, false, &AvroSchemaError{Field: path, Msg: "the type is null alone; a column needs a type that can hold a value"}
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
		return &table.ArrayType{ElementType: et, ContainsNull: null}, false, nil
	case *avro.MapSchema:
		vt, null, err := m.typ(s.Values(), joinPath(path, "value"))
		if err != nil {
			return nil, false, err
		}
		return &table.MapType{KeyType: table.String, ValueType: vt, ValueContainsNull: null}, false, nil
	case *avro.UnionSchema:
		members, hasNull := unionMembers(s)
		switch len(members) {
		case 0:
			return nil, false, &AvroSchemaError{Field: path, Msg: "the union holds only null; a column needs a type that can hold a value"}
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

// AvroOptions configure an AvroDecoder.
type AvroOptions struct {
	// UnknownFields says what happens to a writer field, at any depth, that the table
	// has no column or struct field for. UnknownIgnore decodes and discards it, as Avro
	// schema resolution does; UnknownFail refuses the writer schema in NewAvroDecoder
	// (never per message), naming the field. Defaults to UnknownIgnore.
	UnknownFields UnknownFields
}

// wireKind is how a value is laid out in Avro binary.
type wireKind uint8

const (
	wireNull wireKind = iota
	wireBool
	wireInt // zig-zag varint, 32 bits
	wireLong
	wireFloat
	wireDouble
	wireBytes // length-prefixed bytes and strings
	wireFixed
	wireEnum
	wireRecord
	wireArray
	wireMap
	wireUnion
)

// avroConv is what a decoded value becomes.
type avroConv uint8

const (
	acSkip        avroConv = iota // decode and discard
	acNull                        // the null branch of a union
	acBool                        // boolean
	acInt                         // integer-valued column, as is
	acIntToFloat                  // int or long into float or double
	acFloat                       // float or double
	acString                      // bytes into a string column: UTF-8 checked
	acBinary                      // bytes into a binary column
	acEnum                        // index into its symbol
	acMillis                      // timestamp-millis, time-millis
	acNanos                       // timestamp-nanos
	acDecimalInt                  // two's complement bytes into a decimal(p<=18)
	acDecimalWide                 // two's complement bytes into a decimal(p>18)
	acUUID                        // 16 bytes into the 36-character form
	acStruct                      // record into struct, union into struct
	acList                        // array
	acMap                         // map
	acBranch                      // union with at most one non-null member: the branch decides
)

// avroNode is one step of a compiled plan: how to read a value of the writer schema and
// where it goes. col >= 0 addresses a top-level column of the Buffer; nested values
// (col < 0) go through the Buffer's Nest builder, into struct field slot when the parent
// is a struct.
type avroNode struct {
	wire    wireKind
	conv    avroConv
	col     int
	slot    int
	path    string
	size    int   // fixed: length
	minSize int64 // fewest bytes a value takes on the wire, for bounding block counts
	null    bool  // the target accepts null
	lo, hi  int64 // acDecimalInt: the accepted unscaled range

	fields   []*avroNode // record: one per writer field, in writer order
	elem     *avroNode   // array items, map values
	branches []*avroNode // union: one per writer branch
	symbols  [][]byte    // enum
	// Wide decimals: the inclusive bounds ±(10^p - 1) as wideDecimalLen-byte two's
	// complement with the sign bit flipped, so that bytes.Compare orders them.
	decLo, decHi []byte
}

// wideDecimalLen holds any decimal(38) in two's complement, with room to spare.
const wideDecimalLen = 17

// AvroDecoder decodes Avro binary messages of one writer schema into the current row of
// a writer.Buffer, through a plan compiled once by NewAvroDecoder. Decode allocates
// nothing once the Buffer's memory has grown. It is not safe for concurrent use.
type AvroDecoder struct {
	id     int32
	buf    *writer.Buffer
	fields []*avroNode // the top-level record's fields, in writer order
	nest   *writer.Nest
	// unmapped lists the writer fields no column holds.
	unmapped []string

	p     []byte
	pos   int
	zero  int // zero-width array/map items this message may still hold
	depth int

	scratch  [40]byte
	zeroByte [1]byte
}

// NewAvroDecoder compiles the plan that decodes messages written with writerSchema (a
// record) into the given columns of buf; columns not listed (Kafka metadata, derived
// columns) are left to the caller. Fields match columns by name at every depth, as in
// Avro schema resolution with the table as the reader's schema:
//   - a writer field with no column is decoded and discarded (see AvroOptions);
//   - a column with no writer field is null, and must be nullable;
//   - a value converts to its mapped type (see the mapping above) or, as Avro promotes,
//     int to long, float or double; long to float or double; float to double; string to
//     binary and bytes to string; a decimal to one of the same scale and a precision at
//     least as large;
//   - a writer union matches through its members: a null member needs a nullable
//     column (or is refused per message), a union of several non-null members needs
//     the struct the mapping gives it.
//
// Anything else is an *AvroSchemaError naming the field and both types. schemaID only
// labels errors.
func NewAvroDecoder(writerSchema avro.Schema, schemaID int32, buf *writer.Buffer, columns []*writer.Column, opts AvroOptions) (*AvroDecoder, error) {
	if opts.UnknownFields == "" {
		opts.UnknownFields = UnknownIgnore
	}
	switch opts.UnknownFields {
	case UnknownIgnore, UnknownFail:
	default:
		return nil, fmt.Errorf("avro: unknown_fields %q: want ignore or fail", opts.UnknownFields)
	}
	rec, ok := deref(writerSchema).(*avro.RecordSchema)
	if !ok {
		return nil, &AvroSchemaError{SchemaID: schemaID, Msg: fmt.Sprintf("the writer schema is %s, not a record", describeAvro(writerSchema))}
	}
	c := avroCompiler{opts: opts, skips: map[string]*avroNode{}}
	byName := make(map[string]*writer.Column, len(columns))
	for _, col := range columns {
		byName[col.Name] = col
	}
	d := &AvroDecoder{id: schemaID, buf: buf}
	seen := make(map[string]bool, len(rec.Fields()))
	for _, f := range rec.Fields() {
		col := byName[f.Name()]
		if col == nil {
			if opts.UnknownFields == UnknownFail {
				return nil, &AvroSchemaError{SchemaID: schemaID, Field: f.Name(), Msg: "the table has no such column (unknown_fields: fail)"}
			}
			d.fields = append(d.fields, c.skip(f.Type(), f.Name()))
			c.unmapped = append(c.unmapped, f.Name())
			continue
		}
		seen[col.Name] = true
		n, err := c.compile(f.Type(), col.Type, col.Nullable, f.Name(), col.Index)
		if err != nil {
			return nil, withSchemaID(err, schemaID)
		}
		d.fields = append(d.fields, n)
	}
	for _, col := range columns {
		if !seen[col.Name] && !col.Nullable {
			return nil, &AvroSchemaError{SchemaID: schemaID, Field: col.Name, Msg: fmt.Sprintf("the column is a non-nullable %s but the writer schema has no such field", col.Type)}
		}
	}
	d.unmapped = c.unmapped
	return d, nil
}

// Unmapped lists the writer fields (dotted paths) the table has no column or struct
// field for, which Decode reads and discards. A writer schema with such fields is newer
// than the table: the connector offers it to Evolve before decoding with it.
func (d *AvroDecoder) Unmapped() []string { return d.unmapped }

func withSchemaID(err error, id int32) error {
	if e, ok := err.(*AvroSchemaError); ok {
		e.SchemaID = id
	}
	return err
}

// SchemaID is the writer schema id the decoder was built for.
func (d *AvroDecoder) SchemaID() int32 { return d.id }

type avroCompiler struct {
	opts     AvroOptions
	skips    map[string]*avroNode // skip plans of named records, shared so recursion ends
	unmapped []string
}

func (c *avroCompiler) mismatch(w avro.Schema, t table.DataType, path string) error {
	return &AvroSchemaError{Field: path, Msg: fmt.Sprintf("the writer's %s cannot be stored in the column's %s type (Avro promotes only int to long, float or double; long to float or double; float to double; string to bytes and back)", describeAvro(w), t)}
}

// compile builds the node that reads a w value into a t target; col >= 0 for a
// top-level column.
func (c *avroCompiler) compile(w avro.Schema, t table.DataType, nullable bool, path string, col int) (*avroNode, error) {
	w = deref(w)
	n := &avroNode{col: col, slot: -1, path: path, null: nullable, minSize: 1}
	switch w := w.(type) {
	case *avro.NullSchema:
		return nil, &AvroSchemaError{Field: path, Msg: "the writer's type is null alone; it has no values for a " + t.String() + " column"}
	case *avro.UnionSchema:
		return c.union(w, t, n)
	case *avro.RecordSchema:
		st, ok := t.(*table.StructType)
		if !ok {
			return nil, c.mismatch(w, t, path)
		}
		n.wire, n.conv, n.minSize = wireRecord, acStruct, 0
		matched := make([]bool, len(st.Fields))
		for _, f := range w.Fields() {
			fp := joinPath(path, f.Name())
			i := st.FieldIndex(f.Name())
			if i < 0 {
				if c.opts.UnknownFields == UnknownFail {
					return nil, &AvroSchemaError{Field: fp, Msg: "the table has no such struct field (unknown_fields: fail)"}
				}
				fn := c.skip(f.Type(), fp)
				c.unmapped = append(c.unmapped, fp)
				n.fields = append(n.fields, fn)
				n.minSize = addSize(n.minSize, fn.minSize)
				continue
			}
			matched[i] = true
			fn, err := c.compile(f.Type(), st.Fields[i].Type, st.Fields[i].Nullable, fp, -1)
			if err != nil {
				return nil, err
			}
			fn.slot = i
			n.fields = append(n.fields, fn)
			n.minSize = addSize(n.minSize, fn.minSize)
		}
		for i, f := range st.Fields {
			if !matched[i] && !f.Nullable {
				return nil, &AvroSchemaError{Field: joinPath(path, f.Name), Msg: fmt.Sprintf("the struct field is a non-nullable %s but the writer's record %s has no such field", f.Type, w.FullName())}
			}
		}
		return n, nil
	case *avro.ArraySchema:
		at, ok := t.(*table.ArrayType)
		if !ok {
			return nil, c.mismatch(w, t, path)
		}
		e, err := c.compile(w.Items(), at.ElementType, at.ContainsNull, joinPath(path, "element"), -1)
		if err != nil {
			return nil, err
		}
		n.wire, n.conv, n.elem = wireArray, acList, e
		return n, nil
	case *avro.MapSchema:
		mt, ok := t.(*table.MapType)
		if !ok || mt.KeyType != table.String {
			return nil, c.mismatch(w, t, path)
		}
		v, err := c.compile(w.Values(), mt.ValueType, mt.ValueContainsNull, joinPath(path, "value"), -1)
		if err != nil {
			return nil, err
		}
		n.wire, n.conv, n.elem = wireMap, acMap, v
		return n, nil
	case *avro.EnumSchema:
		if t != table.String {
			return nil, c.mismatch(w, t, path)
		}
		n.wire, n.conv = wireEnum, acEnum
		for _, s := range w.Symbols() {
			n.symbols = append(n.symbols, []byte(s))
		}
		return n, nil
	case *avro.FixedSchema:
		n.wire, n.size, n.minSize = wireFixed, w.Size(), int64(w.Size())
		if d, ok := w.Logical().(*avro.DecimalLogicalSchema); ok {
			return n, c.decimal(n, d, w, t)
		}
		switch {
		case fixedUUID(w) && t == table.String:
			n.conv = acUUID
		case t == table.Binary:
			n.conv = acBinary
		default:
			return nil, c.mismatch(w, t, path)
		}
		return n, nil
	case *avro.PrimitiveSchema:
		return n, c.primitive(n, w, t)
	}
	return nil, &AvroSchemaError{Field: path, Msg: fmt.Sprintf("unsupported Avro type %s", w.Type())}
}

func (c *avroCompiler) primitive(n *avroNode, w *avro.PrimitiveSchema, t table.DataType) error {
	lt := logicalType(w)
	ok := false
	switch w.Type() {
	case avro.Boolean:
		n.wire, n.conv, ok = wireBool, acBool, t == table.Boolean
	case avro.Int:
		n.wire = wireInt
		switch lt {
		case "date":
			n.conv, ok = acInt, t == table.Date
		case "time-millis":
			n.conv, ok = acMillis, t == table.Long
		default:
			switch t {
			case table.Integer, table.Long:
				n.conv, ok = acInt, true
			case table.Float, table.Double:
				n.conv, ok = acIntToFloat, true
			}
		}
	case avro.Long:
		n.wire = wireLong
		switch lt {
		case "timestamp-millis":
			n.conv, ok = acMillis, t == table.Timestamp
		case "timestamp-micros":
			n.conv, ok = acInt, t == table.Timestamp
		case "timestamp-nanos":
			n.conv, ok = acNanos, t == table.Timestamp
		case "local-timestamp-millis":
			n.conv, ok = acMillis, t == table.TimestampNTZ
		case "local-timestamp-micros":
			n.conv, ok = acInt, t == table.TimestampNTZ
		case "local-timestamp-nanos":
			n.conv, ok = acNanos, t == table.TimestampNTZ
		default: // plain long, time-micros
			switch t {
			case table.Long:
				n.conv, ok = acInt, true
			case table.Float, table.Double:
				n.conv, ok = acIntToFloat, true
			}
		}
	case avro.Float:
		n.wire, n.minSize = wireFloat, 4
		n.conv, ok = acFloat, t == table.Float || t == table.Double
	case avro.Double:
		n.wire, n.minSize = wireDouble, 8
		n.conv, ok = acFloat, t == table.Double
	case avro.String, avro.Bytes:
		n.wire = wireBytes
		if d, isDec := w.Logical().(*avro.DecimalLogicalSchema); isDec && w.Type() == avro.Bytes {
			return c.decimal(n, d, w, t)
		}
		switch t {
		case table.String:
			n.conv, ok = acString, true
		case table.Binary:
			n.conv, ok = acBinary, true
		}
	}
	if !ok {
		return c.mismatch(w, t, n.path)
	}
	return nil
}

// decimal sets up a bytes or fixed decimal read into a decimal column of the same scale
// and no smaller precision.
func (c *avroCompiler) decimal(n *avroNode, d *avro.DecimalLogicalSchema, w avro.Schema, t table.DataType) error {
	dt, ok := t.(*table.DecimalType)
	if !ok || dt.Scale != d.Scale() || dt.Precision < d.Precision() {
		return c.mismatch(w, t, n.path)
	}
	limit := new(big.Int).Sub(pow10(dt.Precision), big.NewInt(1))
	if dt.Precision <= 18 {
		n.conv, n.hi = acDecimalInt, limit.Int64()
		n.lo = -n.hi
		return nil
	}
	n.conv = acDecimalWide
	n.decHi = orderedTwos(limit)
	n.decLo = orderedTwos(new(big.Int).Neg(limit))
	return nil
}

// orderedTwos renders v as wideDecimalLen-byte two's complement with the sign bit
// flipped: bytes.Compare then orders such values as numbers.
func orderedTwos(v *big.Int) []byte {
	b := make([]byte, wideDecimalLen)
	if v.Sign() >= 0 {
		v.FillBytes(b)
	} else {
		// two's complement: 2^(8n) + v
		m := new(big.Int).Lsh(big.NewInt(1), 8*wideDecimalLen)
		m.Add(m, v).FillBytes(b)
	}
	b[0] ^= 0x80
	return b
}

// union compiles a writer union. With at most one non-null member the branch decides
// what is read and the union is transparent; with more, the target is the struct the
// mapping gives and each member fills the field named after it.
func (c *avroCompiler) union(w *avro.UnionSchema, t table.DataType, n *avroNode) (*avroNode, error) {
	n.wire = wireUnion
	members, _ := unionMembers(w)
	n.branches = make([]*avroNode, len(w.Types()))
	var st *table.StructType
	if len(members) > 1 {
		var ok bool
		if st, ok = t.(*table.StructType); !ok {
			return nil, c.mismatch(w, t, n.path)
		}
		n.conv = acStruct
	} else {
		n.conv = acBranch
	}
	for i, mt := range w.Types() {
		if deref(mt).Type() == avro.Null {
			n.branches[i] = &avroNode{wire: wireNull, conv: acNull, col: n.col, slot: -1, path: n.path, null: n.null}
			continue
		}
		if st == nil {
			b, err := c.compile(mt, t, n.null, n.path, n.col)
			if err != nil {
				return nil, err
			}
			n.branches[i] = b
			continue
		}
		var name string
		for _, m := range members {
			if m.index == i {
				name = m.name
			}
		}
		j := st.FieldIndex(name)
		if j < 0 {
			return nil, &AvroSchemaError{Field: n.path, Msg: fmt.Sprintf("the union member %s has no field %q in the %s column", describeAvro(mt), name, t)}
		}
		b, err := c.compile(mt, st.Fields[j].Type, st.Fields[j].Nullable, joinPath(n.path, name), -1)
		if err != nil {
			return nil, err
		}
		b.slot = j
		n.branches[i] = b
	}
	if len(members) == 0 {
		return nil, &AvroSchemaError{Field: n.path, Msg: "the writer's union holds only null; it has no values for a " + t.String() + " column"}
	}
	return n, nil
}

// skip builds the node that reads and discards a w value. Records are shared by full
// name, so a recursive type gives a cyclic plan (bounded at decode time by depth).
func (c *avroCompiler) skip(w avro.Schema, path string) *avroNode {
	w = deref(w)
	n := &avroNode{conv: acSkip, col: -1, slot: -1, path: path, minSize: 1}
	switch w := w.(type) {
	case *avro.NullSchema:
		n.wire, n.minSize = wireNull, 0
	case *avro.PrimitiveSchema:
		switch w.Type() {
		case avro.Null:
			n.wire, n.minSize = wireNull, 0
		case avro.Boolean:
			n.wire = wireBool
		case avro.Int:
			n.wire = wireInt
		case avro.Long:
			n.wire = wireLong
		case avro.Float:
			n.wire, n.minSize = wireFloat, 4
		case avro.Double:
			n.wire, n.minSize = wireDouble, 8
		default:
			n.wire = wireBytes
		}
	case *avro.FixedSchema:
		n.wire, n.size, n.minSize = wireFixed, w.Size(), int64(w.Size())
	case *avro.EnumSchema:
		n.wire = wireEnum
		for _, s := range w.Symbols() {
			n.symbols = append(n.symbols, []byte(s))
		}
	case *avro.RecordSchema:
		if shared, ok := c.skips[w.FullName()]; ok {
			return shared // minSize of a record still being built counts as 0: a lower bound
		}
		n.wire, n.minSize = wireRecord, 0
		c.skips[w.FullName()] = n
		for _, f := range w.Fields() {
			fn := c.skip(f.Type(), joinPath(path, f.Name()))
			n.fields = append(n.fields, fn)
			n.minSize = addSize(n.minSize, fn.minSize)
		}
	case *avro.ArraySchema:
		n.wire, n.elem = wireArray, c.skip(w.Items(), joinPath(path, "element"))
	case *avro.MapSchema:
		n.wire, n.elem = wireMap, c.skip(w.Values(), joinPath(path, "value"))
	case *avro.UnionSchema:
		n.wire = wireUnion
		for _, t := range w.Types() {
			n.branches = append(n.branches, c.skip(t, path))
		}
	}
	return n
}

// addSize adds minimum sizes, saturating far below overflow.
func addSize(a, b int64) int64 {
	if s := a + b; s < 1<<40 {
		return s
	}
	return 1 << 40
}
