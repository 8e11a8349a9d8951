package schema

import (
	"fmt"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// A JSONDecoder's plan is compiled once per table schema: every value position gets its
// conversion and, in structs, a map from field name to field, so that Decode spends
// nothing per message on working out where a value goes or what it becomes.

// jsonField is the plan of one top-level column.
type jsonField struct {
	col  *writer.Column // top-level column
	node *jsonNode
}

// jsonNode is the plan for one value position.
type jsonNode struct {
	name   string
	typ    table.DataType
	conv   conv
	fields map[string]int      // struct: field name → index
	kids   []*jsonNode         // struct fields
	elem   *jsonNode           // array element
	key    *jsonNode           // map key
	val    *jsonNode           // map value
	lo, hi int64               // integer range; the unscaled range of a decimal(p<=18)
	wide   *writer.WideDecimal // decimal(p>18)
}

// conv is what a JSON value is converted to.
type conv uint8

const (
	convInt conv = iota + 1
	convFloat
	convBool
	convString
	convBinary
	convDate
	convTimestamp
	convDecimal
	convBigDecimal
	convStruct
	convArray
	convMap
	convVoid    // only null: any other value is refused, not dropped
	convVariant // any JSON value, as its text: the writer encodes it (writer/variant.go)
)

// planJSON compiles the plan for values of type t; a type no JSON value converts to is
// an error.
func planJSON(name string, t table.DataType) (*jsonNode, error) {
	n := &jsonNode{name: name, typ: t}
	switch t := t.(type) {
	case *table.DecimalType:
		n.conv = convDecimal
		if t.Precision > writer.MaxInt64DecimalPrecision {
			n.conv = convBigDecimal
			n.wide = writer.NewWideDecimal(t)
		}
	case table.PrimitiveType:
		switch t {
		case table.Long, table.Integer, table.Short, table.Byte:
			n.conv = convInt
		case table.Float, table.Double:
			n.conv = convFloat
		case table.Boolean:
			n.conv = convBool
		case table.String:
			n.conv = convString
		case table.Binary:
			n.conv = convBinary
		case table.Date:
			n.conv = convDate
		case table.Timestamp, table.TimestampNTZ:
			n.conv = convTimestamp
		case table.Void:
			n.conv = convVoid
		case table.Variant:
			n.conv = convVariant
		}
	case *table.StructType:
		n.conv = convStruct
		n.fields = make(map[string]int, len(t.Fields))
		for i, f := range t.Fields {
			k, err := planJSON(f.Name, f.Type)
			if err != nil {
				return nil, err
			}
			n.fields[f.Name] = i
			n.kids = append(n.kids, k)
		}
	case *table.ArrayType:
		n.conv = convArray
		e, err := planJSON("element", t.ElementType)
		if err != nil {
			return nil, err
		}
		n.elem = e
	case *table.MapType:
		n.conv = convMap
		k, err := planJSON("key", t.KeyType)
		if err != nil {
			return nil, err
		}
		switch k.conv {
		case convString, convInt, convBool, convDate, convTimestamp:
		default:
			return nil, fmt.Errorf("map keys of type %s cannot come from JSON object keys", t.KeyType)
		}
		v, err := planJSON("value", t.ValueType)
		if err != nil {
			return nil, err
		}
		n.key, n.val = k, v
	}
	if n.conv == 0 {
		return nil, fmt.Errorf("type %s cannot be decoded from JSON", t)
	}
	n.lo, n.hi = writer.IntRange(t)
	return n, nil
}
