package table

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DataType is a Delta column type: a PrimitiveType, *DecimalType, *StructType,
// *ArrayType or *MapType. Its JSON form is the one Spark writes in schemaString.
type DataType interface {
	// String renders the type the way Spark's simpleString does, for messages.
	String() string
	isDataType()
}

// PrimitiveType is a Delta primitive type, named as in the protocol.
type PrimitiveType string

// The primitive types of the Delta protocol.
const (
	String       PrimitiveType = "string"
	Long         PrimitiveType = "long"
	Integer      PrimitiveType = "integer"
	Short        PrimitiveType = "short"
	Byte         PrimitiveType = "byte"
	Float        PrimitiveType = "float"
	Double       PrimitiveType = "double"
	Boolean      PrimitiveType = "boolean"
	Binary       PrimitiveType = "binary"
	Date         PrimitiveType = "date"
	Timestamp    PrimitiveType = "timestamp"
	TimestampNTZ PrimitiveType = "timestamp_ntz"
	// Void is Spark's NullType, the type of a column created from a NULL literal
	// (CREATE TABLE t AS SELECT NULL AS x). Its every value is null: Spark writes no
	// Parquet column for it and readers return NULL, so a void column is nullable
	// whatever its field says.
	Void PrimitiveType = "void"
	// Variant is semi-structured data (feature variantType): any JSON-like value,
	// stored in Parquet as a group of two binaries, metadata and value, in the Parquet
	// Variant binary encoding (PROTOCOL.md, "Variant Data Type"). It is not comparable:
	// no partition or clustering column, no min/max statistics.
	Variant PrimitiveType = "variant"
)

var primitives = map[string]PrimitiveType{
	"string": String, "long": Long, "integer": Integer, "short": Short, "byte": Byte,
	"float": Float, "double": Double, "boolean": Boolean, "binary": Binary, "date": Date,
	"timestamp": Timestamp, "timestamp_ntz": TimestampNTZ, "void": Void, "variant": Variant,
}

func (p PrimitiveType) String() string { return string(p) }
func (PrimitiveType) isDataType()      {}

// DecimalType is decimal(precision, scale); precision is at most 38.
type DecimalType struct {
	Precision int
	Scale     int
}

func (d *DecimalType) String() string { return fmt.Sprintf("decimal(%d,%d)", d.Precision, d.Scale) }
func (*DecimalType) isDataType()      {}

// StructType is an ordered list of named fields. A table schema is a StructType.
type StructType struct {
	Fields []*StructField
}

func (*StructType) isDataType() {}

func (s *StructType) String() string {
	var b strings.Builder
	b.WriteString("struct<")
	for i, f := range s.Fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(f.Name)
		b.WriteByte(':')
		b.WriteString(f.Type.String())
	}
	b.WriteByte('>')
	return b.String()
}

// Field returns the field with exactly this name, or nil.
func (s *StructType) Field(name string) *StructField {
	for _, f := range s.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Clone returns a deep copy of s, field metadata included.
func (s *StructType) Clone() *StructType {
	out := &StructType{Fields: make([]*StructField, len(s.Fields))}
	for i, f := range s.Fields {
		out.Fields[i] = f.Clone()
	}
	return out
}

// Clone returns a deep copy of f.
func (f *StructField) Clone() *StructField {
	return &StructField{Name: f.Name, Type: CloneType(f.Type), Nullable: f.Nullable, Metadata: slices.Clone(f.Metadata)}
}

// CloneType returns a deep copy of t; primitive types are values.
func CloneType(t DataType) DataType {
	switch t := t.(type) {
	case *DecimalType:
		return &DecimalType{Precision: t.Precision, Scale: t.Scale}
	case *StructType:
		return t.Clone()
	case *ArrayType:
		return &ArrayType{ElementType: CloneType(t.ElementType), ContainsNull: t.ContainsNull}
	case *MapType:
		return &MapType{KeyType: CloneType(t.KeyType), ValueType: CloneType(t.ValueType), ValueContainsNull: t.ValueContainsNull}
	}
	return t
}

// FieldIndex returns the position of the field with this name, or -1.
func (s *StructType) FieldIndex(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// StructField is one named, typed field. Metadata is kept as the raw JSON object the
// table holds so that rewriting a schema never changes it.
type StructField struct {
	Name     string
	Type     DataType
	Nullable bool
	Metadata json.RawMessage
}

// ArrayType is array<elementType>.
type ArrayType struct {
	ElementType  DataType
	ContainsNull bool
}

func (a *ArrayType) String() string { return "array<" + a.ElementType.String() + ">" }
func (*ArrayType) isDataType()      {}

// MapType is map<keyType,valueType>; keys are never null.
type MapType struct {
	KeyType           DataType
	ValueType         DataType
	ValueContainsNull bool
}

func (m *MapType) String() string {
	return "map<" + m.KeyType.String() + "," + m.ValueType.String() + ">"
}
func (*MapType) isDataType() {}

// ParsePrimitive parses a primitive or decimal type name as written in schemaString
// ("long", "decimal(10,2)"). Spark's bare "decimal" is decimal(10,0).
func ParsePrimitive(name string) (DataType, error) {
	if p, ok := primitives[name]; ok {
		return p, nil
	}
	if name == "decimal" {
		return &DecimalType{Precision: 10, Scale: 0}, nil
	}
	if rest, ok := strings.CutPrefix(name, "decimal("); ok {
		if inner, ok := strings.CutSuffix(rest, ")"); ok {
			ps, ss, ok := strings.Cut(inner, ",")
			if ok {
				p, err1 := strconv.Atoi(strings.TrimSpace(ps))
				s, err2 := strconv.Atoi(strings.TrimSpace(ss))
				if err1 == nil && err2 == nil && p >= 1 && p <= 38 && s >= 0 && s <= p {
					return &DecimalType{Precision: p, Scale: s}, nil
				}
			}
		}
		return nil, fmt.Errorf("invalid decimal type %q: want decimal(p,s) with 1 <= p <= 38 and 0 <= s <= p", name)
	}
	return nil, &UnknownTypeError{Name: name}
}

// UnknownTypeError is a type name this package does not know (geometry, say, or a
// type of a future protocol): a feature it cannot read, not a corrupt schema.
type UnknownTypeError struct{ Name string }

func (e *UnknownTypeError) Error() string { return fmt.Sprintf("unsupported data type %q", e.Name) }

// MarshalJSON renders a struct type as Spark does: {"type":"struct","fields":[…]}.
func (s *StructType) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeType(&b, s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalJSON parses a struct type in Spark's JSON form.
func (s *StructType) UnmarshalJSON(data []byte) error {
	t, err := parseType(data)
	if err != nil {
		return err
	}
	st, ok := t.(*StructType)
	if !ok {
		return fmt.Errorf("schema is a %s, not a struct", t)
	}
	*s = *st
	return nil
}

// ParseSchema parses a schemaString.
func ParseSchema(schemaString string) (*StructType, error) {
	var s StructType
	if err := s.UnmarshalJSON([]byte(schemaString)); err != nil {
		return nil, fmt.Errorf("parse schemaString: %w", err)
	}
	return &s, nil
}

// SchemaString renders the schema as compact JSON, byte for byte as Spark writes it.
func (s *StructType) SchemaString() string {
	b, _ := s.MarshalJSON()
	return string(b)
}

func writeType(b *bytes.Buffer, t DataType) error {
	switch t := t.(type) {
	case PrimitiveType:
		writeJSONString(b, string(t))
	case *DecimalType:
		writeJSONString(b, t.String())
	case *StructType:
		b.WriteString(`{"type":"struct","fields":[`)
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"name":`)
			writeJSONString(b, f.Name)
			b.WriteString(`,"type":`)
			if err := writeType(b, f.Type); err != nil {
				return err
			}
			b.WriteString(`,"nullable":`)
			b.WriteString(strconv.FormatBool(f.Nullable))
			b.WriteString(`,"metadata":`)
			if len(f.Metadata) == 0 {
				b.WriteString("{}")
			} else if err := json.Compact(b, f.Metadata); err != nil {
				return fmt.Errorf("field %q: metadata: %w", f.Name, err)
			}
			b.WriteByte('}')
		}
		b.WriteString("]}")
	case *ArrayType:
		b.WriteString(`{"type":"array","elementType":`)
		if err := writeType(b, t.ElementType); err != nil {
			return err
		}
		b.WriteString(`,"containsNull":`)
		b.WriteString(strconv.FormatBool(t.ContainsNull))
		b.WriteByte('}')
	case *MapType:
		b.WriteString(`{"type":"map","keyType":`)
		if err := writeType(b, t.KeyType); err != nil {
			return err
		}
		b.WriteString(`,"valueType":`)
		if err := writeType(b, t.ValueType); err != nil {
			return err
		}
		b.WriteString(`,"valueContainsNull":`)
		b.WriteString(strconv.FormatBool(t.ValueContainsNull))
		b.WriteByte('}')
	default:
		return fmt.Errorf("unknown data type %T", t)
	}
	return nil
}

// writeJSONString writes s as a JSON string without HTML escaping, as Jackson does.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

type jsonField struct {
	Name     string          `json:"name"`
	Type     json.RawMessage `json:"type"`
	Nullable *bool           `json:"nullable"`
	Metadata json.RawMessage `json:"metadata"`
}

type jsonComplex struct {
	Type              string          `json:"type"`
	Fields            []jsonField     `json:"fields"`
	ElementType       json.RawMessage `json:"elementType"`
	ContainsNull      *bool           `json:"containsNull"`
	KeyType           json.RawMessage `json:"keyType"`
	ValueType         json.RawMessage `json:"valueType"`
	ValueContainsNull *bool           `json:"valueContainsNull"`
}

func parseType(data []byte) (DataType, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, fmt.Errorf("missing type")
	}
	if data[0] == '"' {
		var name string
		if err := json.Unmarshal(data, &name); err != nil {
			return nil, err
		}
		return ParsePrimitive(name)
	}
	var c jsonComplex
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	switch c.Type {
	case "struct":
		st := &StructType{Fields: make([]*StructField, 0, len(c.Fields))}
		for _, jf := range c.Fields {
			ft, err := parseType(jf.Type)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", jf.Name, err)
			}
			f := &StructField{Name: jf.Name, Type: ft, Nullable: true}
			if jf.Nullable != nil {
				f.Nullable = *jf.Nullable
			}
			if len(jf.Metadata) > 0 && !bytes.Equal(bytes.TrimSpace(jf.Metadata), []byte("{}")) {
				var m bytes.Buffer
				if err := json.Compact(&m, jf.Metadata); err != nil {
					return nil, fmt.Errorf("field %q: metadata: %w", jf.Name, err)
				}
				f.Metadata = m.Bytes()
			}
			st.Fields = append(st.Fields, f)
		}
		return st, nil
	case "array":
		et, err := parseType(c.ElementType)
		if err != nil {
			return nil, fmt.Errorf("array element: %w", err)
		}
		return &ArrayType{ElementType: et, ContainsNull: c.ContainsNull == nil || *c.ContainsNull}, nil
	case "map":
		kt, err := parseType(c.KeyType)
		if err != nil {
			return nil, fmt.Errorf("map key: %w", err)
		}
		vt, err := parseType(c.ValueType)
		if err != nil {
			return nil, fmt.Errorf("map value: %w", err)
		}
		return &MapType{KeyType: kt, ValueType: vt, ValueContainsNull: c.ValueContainsNull == nil || *c.ValueContainsNull}, nil
	default:
		return nil, fmt.Errorf("unsupported data type %q", c.Type)
	}
}
