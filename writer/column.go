package writer

import (
	"fmt"
	"reflect"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/sluicelake/sluice/table"
)

// kind is how a leaf's values are held in memory.
type kind uint8

const (
	kindInt32 kind = iota + 1 // integer, short, byte, date, decimal(p<=9)
	kindInt64                 // long, timestamp, timestamp_ntz, decimal(p<=18)
	kindFloat
	kindDouble
	kindBool
	kindBytes // string, binary, decimal(p>18) as big-endian two's complement
)

// Column describes one top-level column of a Buffer. Decoders look columns up once,
// when they compile their plan, and then address them by index.
type Column struct {
	Index     int
	Name      string
	Type      table.DataType
	Nullable  bool
	Partition bool // kept out of the data files, written as a directory
	Derived   *Derivation

	node *snode
}

// Primitive reports whether the column holds a primitive (or decimal) value, set with
// SetInt/SetFloat/SetBool/SetBytes, is a variant and takes JSON text with SetBytes, or
// is void and takes only SetNull (or nothing); other columns are built with Nested.
func (c *Column) Primitive() bool { return c.node.leaf != nil || c.node.void || c.node.variant }

// snode mirrors one node of the table schema with what shredding needs: the
// definition level when the value is present, the repetition level of lists and maps,
// and the leaves below it.
type snode struct {
	typ      table.DataType
	path     string // dotted, for messages
	nullable bool
	def      uint8 // definition level when this value is present (not null)
	rep      uint8 // repetition level of the repeated group (lists, maps)
	leafLo   int   // leaves below: [leafLo, leafHi)
	leafHi   int
	fields   []*snode // struct
	elem     *snode   // list
	key, val *snode   // map
	leaf     *leaf    // primitive
	void     bool     // void: always null, in no Parquet column (leafLo == leafHi)
	variant  bool     // variant: a group of two binary leaves, metadata and value (variant.go)
	// name is the field's name inside its parent in the data files and in the stats
	// objects (its physical name under column mapping); stats are kept only for fields
	// reachable through structs (not inside lists or maps). id is its Parquet field id,
	// the column mapping id, 0 for none.
	name     string
	id       int
	inRepeat bool
}

// leaf is one Parquet column: a primitive value at the end of a path.
type leaf struct {
	index  int // Parquet column index
	path   string
	typ    table.DataType
	kind   kind
	maxDef uint8
	maxRep uint8
	minInt int64 // inclusive range for integer kinds
	maxInt int64
	// fixedLen is the FIXED_LEN_BYTE_ARRAY length of a decimal(p>18), 0 otherwise.
	fixedLen int
	// bitDefs keeps definition levels as validity bits (maxDef 1, no repetition).
	bitDefs bool
}

// schemaTree builds the snodes and leaves of the data columns.
type schemaTree struct {
	leaves  []*leaf
	mapping bool // Spec.ColumnMapping
	inside  int  // depth of the struct being built; 0 at the top level
}

// buildField builds the node of a struct field (or of a top-level column) at path.
func (st *schemaTree) buildField(path string, f *table.StructField, parentDef, parentRep uint8, inRepeat bool) (*snode, error) {
	name, id := f.Name, 0
	if st.mapping {
		var ok bool
		if id, ok = f.ColumnID(); !ok {
			// Every column of a mapped table has one; a missing one is a writer that
			// added a column without AssignColumnMapping.
			return nil, fmt.Errorf("column %s: the table has column mapping but the column has no id (delta.columnMapping.id)", path)
		}
		name = f.PhysicalName()
	}
	n, err := st.build(path, f.Type, f.Nullable, parentDef, parentRep, inRepeat)
	if err != nil {
		return nil, err
	}
	n.name, n.id = name, id
	return n, nil
}

// build builds the node of a value of type t at path: through buildField a field's,
// directly a list element's or a map key's or value's, which have no name of their own.
func (st *schemaTree) build(path string, t table.DataType, nullable bool, parentDef, parentRep uint8, inRepeat bool) (*snode, error) {
	n := &snode{typ: t, path: path, nullable: nullable, rep: parentRep, leafLo: len(st.leaves), inRepeat: inRepeat}
	n.def = parentDef
	if nullable {
		n.def++
	}
	if n.def > 250 || parentRep > 250 {
		return nil, fmt.Errorf("column %s: nesting too deep", path)
	}
	switch t := t.(type) {
	case table.PrimitiveType, *table.DecimalType:
		if t == table.Variant {
			if inRepeat || st.inside > 0 {
				return nil, fmt.Errorf("column %s: a variant inside a struct, list or map is not supported by the writer (top-level variant columns are)", path)
			}
			st.buildVariant(n, path)
			break
		}
		if t == table.Void {
			// Every value is null: no Parquet column, no leaf, no statistics (as Spark
			// writes it), and a null is all it accepts, whatever the field says.
			if inRepeat {
				return nil, fmt.Errorf("column %s: a void value inside a list or map is not supported by the writer", path)
			}
			n.void, n.nullable, n.def = true, true, parentDef+1
			break
		}
		k, err := leafKind(t)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", path, err)
		}
		lo, hi := IntRange(t)
		l := &leaf{index: len(st.leaves), path: path, typ: t, kind: k, maxDef: n.def, maxRep: parentRep, minInt: lo, maxInt: hi}
		if d, ok := t.(*table.DecimalType); ok && k == kindBytes {
			l.fixedLen = decimalBytes(d.Precision)
		}
		l.bitDefs = l.maxDef == 1 && l.maxRep == 0
		st.leaves = append(st.leaves, l)
		n.leaf = l
	case *table.StructType:
		if len(t.Fields) == 0 {
			return nil, fmt.Errorf("column %s: a struct needs at least one field", path)
		}
		st.inside++
		defer func() { st.inside-- }()
		for _, f := range t.Fields {
			c, err := st.buildField(path+"."+f.Name, f, n.def, parentRep, inRepeat)
			if err != nil {
				return nil, err
			}
			n.fields = append(n.fields, c)
		}
		if len(st.leaves) == n.leafLo {
			// Its fields are all void: Parquet has no empty group, nor does Spark write one.
			return nil, fmt.Errorf("column %s: a struct whose fields are all void cannot be written", path)
		}
	case *table.ArrayType:
		n.rep = parentRep + 1
		e, err := st.build(path+".element", t.ElementType, t.ContainsNull, n.def+1, n.rep, true)
		if err != nil {
			return nil, err
		}
		n.elem = e
	case *table.MapType:
		n.rep = parentRep + 1
		k, err := st.build(path+".key", t.KeyType, false, n.def+1, n.rep, true)
		if err != nil {
			return nil, err
		}
		v, err := st.build(path+".value", t.ValueType, t.ValueContainsNull, n.def+1, n.rep, true)
		if err != nil {
			return nil, err
		}
		n.key, n.val = k, v
	default:
		return nil, fmt.Errorf("column %s: type %s is not supported by the writer", path, t)
	}
	n.leafHi = len(st.leaves)
	return n, nil
}

func leafKind(t table.DataType) (kind, error) {
	switch t := t.(type) {
	case table.PrimitiveType:
		switch t {
		case table.String, table.Binary:
			return kindBytes, nil
		case table.Long, table.Timestamp, table.TimestampNTZ:
			return kindInt64, nil
		case table.Integer, table.Date, table.Short, table.Byte:
			return kindInt32, nil
		case table.Float:
			return kindFloat, nil
		case table.Double:
			return kindDouble, nil
		case table.Boolean:
			return kindBool, nil
		}
	case *table.DecimalType:
		switch {
		case t.Precision <= maxInt32DecimalPrecision:
			return kindInt32, nil
		case t.Precision <= MaxInt64DecimalPrecision:
			return kindInt64, nil
		default:
			return kindBytes, nil
		}
	}
	return 0, fmt.Errorf("type %s is not supported by the writer", t)
}

// IntRange is the inclusive range of the integers a type stores: long, integer, short,
// byte, date (days), timestamp (micros), decimal(p<=18) (unscaled). Other types: 0, 0.
func IntRange(t table.DataType) (int64, int64) {
	switch t := t.(type) {
	case table.PrimitiveType:
		switch t {
		case table.Long, table.Timestamp, table.TimestampNTZ:
			return -1 << 63, 1<<63 - 1
		case table.Integer, table.Date:
			return -1 << 31, 1<<31 - 1
		case table.Short:
			return -1 << 15, 1<<15 - 1
		case table.Byte:
			return -1 << 7, 1<<7 - 1
		}
	case *table.DecimalType:
		if t.Precision <= MaxInt64DecimalPrecision {
			limit := pow10(t.Precision).Int64() - 1
			return -limit, limit
		}
	}
	return 0, 0
}

// parquetNode returns the Parquet schema node for a schema node.
func (n *snode) parquetNode(dict bool) parquet.Node {
	var node parquet.Node
	switch t := n.typ.(type) {
	case table.PrimitiveType:
		switch t {
		case table.Variant:
			node = variantNode()
		case table.String:
			node = parquet.String()
			if dict {
				node = parquet.Encoded(node, &parquet.RLEDictionary)
			}
		case table.Binary:
			node = parquet.Leaf(parquet.ByteArrayType)
		case table.Long:
			node = parquet.Leaf(parquet.Int64Type)
		case table.Integer:
			node = parquet.Leaf(parquet.Int32Type)
		case table.Short:
			node = parquet.Int(16)
		case table.Byte:
			node = parquet.Int(8)
		case table.Float:
			node = parquet.Leaf(parquet.FloatType)
		case table.Double:
			node = parquet.Leaf(parquet.DoubleType)
		case table.Boolean:
			node = parquet.Leaf(parquet.BooleanType)
		case table.Date:
			node = parquet.Date()
		case table.Timestamp:
			node = parquet.TimestampAdjusted(parquet.Microsecond, true)
		case table.TimestampNTZ:
			node = parquet.TimestampAdjusted(parquet.Microsecond, false)
		}
	case *table.DecimalType:
		var phys parquet.Type
		switch n.leaf.kind {
		case kindInt32:
			phys = parquet.Int32Type
		case kindInt64:
			phys = parquet.Int64Type
		default:
			phys = parquet.FixedLenByteArrayType(decimalBytes(t.Precision))
		}
		node = parquet.Decimal(t.Scale, t.Precision, phys)
	case *table.StructType:
		names := make([]string, 0, len(n.fields))
		nodes := make([]parquet.Node, 0, len(n.fields))
		for _, f := range n.fields {
			if !f.void {
				names, nodes = append(names, f.name), append(nodes, f.parquetNode(dict))
			}
		}
		node = newGroup(names, nodes)
	case *table.ArrayType:
		node = parquet.List(n.elem.parquetNode(dict))
	case *table.MapType:
		node = parquet.Map(n.key.parquetNode(dict), n.val.parquetNode(dict))
	}
	if n.nullable {
		node = parquet.Optional(node)
	} else {
		node = parquet.Required(node)
	}
	if n.id != 0 {
		node = parquet.FieldID(node, n.id)
	}
	return node
}

// group is a Parquet group node that keeps its fields in table order (parquet.Group is
// a map and sorts them by name).
type group struct {
	fields []parquet.Field
}

type groupField struct {
	parquet.Node
	name string
}

func (f groupField) Name() string { return f.name }
func (f groupField) Value(base reflect.Value) reflect.Value {
	return base.MapIndex(reflect.ValueOf(&f.name).Elem())
}

func newGroup(names []string, nodes []parquet.Node) *group {
	g := &group{fields: make([]parquet.Field, len(names))}
	for i := range names {
		g.fields[i] = groupField{Node: nodes[i], name: names[i]}
	}
	return g
}

func (g *group) ID() int                     { return 0 }
func (g *group) String() string              { return "group" }
func (g *group) Type() parquet.Type          { return parquet.Group{}.Type() }
func (g *group) Optional() bool              { return false }
func (g *group) Repeated() bool              { return false }
func (g *group) Required() bool              { return true }
func (g *group) Leaf() bool                  { return false }
func (g *group) Fields() []parquet.Field     { return g.fields }
func (g *group) Encoding() encoding.Encoding { return nil }
func (g *group) Compression() compress.Codec { return nil }
func (g *group) GoType() reflect.Type        { return reflect.TypeFor[map[string]any]() }
