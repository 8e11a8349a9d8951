package schema

import (
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

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
	acSkip         avroConv = iota // decode and discard
	acNull                         // the null branch of a union
	acBool                         // boolean
	acInt                          // integer-valued column, as is
	acIntToFloat                   // int or long into float or double
	acDaysToMicros                 // date into timestamp_ntz (a widened column): midnight
	acFloat                        // float or double
	acString                       // bytes into a string column: UTF-8 checked
	acBinary                       // bytes into a binary column
	acEnum                         // index into its symbol
	acMillis                       // timestamp-millis, time-millis
	acNanos                        // timestamp-nanos
	acDecimalInt                   // two's complement bytes into a decimal(p<=18)
	acDecimalWide                  // two's complement bytes into a decimal(p>18)
	acUUID                         // 16 bytes into the 36-character form
	acStruct                       // record into struct, union into struct
	acList                         // array
	acMap                          // map
	acBranch                       // union with at most one non-null member: the branch decides
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

	lo, hi    int64               // acDecimalInt: the accepted range of the writer's unscaled values
	precision int                 // acDecimalInt, acDecimalWide: the column's, for messages
	wide      *writer.WideDecimal // acDecimalWide: the accepted unscaled range
	scaleUp   int                 // acDecimalInt, acDecimalWide: the column's scale less the writer's
	factor    int64               // acDecimalInt: 10^scaleUp

	fields   []*avroNode // record: one per writer field, in writer order
	elem     *avroNode   // array items, map values
	branches []*avroNode // union: one per writer branch
	symbols  [][]byte    // enum
}

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
	if t == table.Void {
		// The column holds only null: a writer type with values would lose them.
		null := &avroNode{wire: wireNull, conv: acNull, col: col, slot: -1, path: path, null: true}
		if u, ok := w.(*avro.UnionSchema); ok {
			if members, _ := unionMembers(u); len(members) == 0 {
				n.wire, n.conv, n.null = wireUnion, acBranch, true
				n.branches = make([]*avroNode, len(u.Types()))
				for i := range n.branches {
					n.branches[i] = null
				}
				return n, nil
			}
		}
		if w.Type() != avro.Null {
			return nil, c.mismatch(w, t, path)
		}
		return null, nil
	}
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
			switch t {
			case table.Date:
				n.conv, ok = acInt, true
			case table.TimestampNTZ: // a date column widened by type widening
				n.conv, ok = acDaysToMicros, true
			}
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
// and no smaller precision, or into one type widening made wider: a larger scale with
// at least as many digits before the point (the unscaled value is then multiplied).
func (c *avroCompiler) decimal(n *avroNode, d *avro.DecimalLogicalSchema, w avro.Schema, t table.DataType) error {
	dt, ok := t.(*table.DecimalType)
	if !ok || dt.Scale < d.Scale() || dt.Precision-dt.Scale < d.Precision()-d.Scale() {
		return c.mismatch(w, t, n.path)
	}
	n.precision, n.scaleUp = dt.Precision, dt.Scale-d.Scale()
	if dt.Precision <= writer.MaxInt64DecimalPrecision {
		n.conv = acDecimalInt
		n.factor = 1
		for range n.scaleUp {
			n.factor *= 10
		}
		lo, hi := writer.IntRange(dt)
		n.lo, n.hi = lo/n.factor, hi/n.factor
		return nil
	}
	n.conv, n.wide = acDecimalWide, writer.NewWideDecimal(dt)
	return nil
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
