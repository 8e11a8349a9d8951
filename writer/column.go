package writer

import (
	"fmt"
	"reflect"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/sluicelake/sluice/table"
)

// kind is how a column's values are held in memory.
type kind uint8

const (
	kindInt32 kind = iota + 1 // integer, short, byte, date, decimal(p<=9)
	kindInt64                 // long, timestamp, timestamp_ntz, decimal(p<=18)
	kindFloat
	kindDouble
	kindBool
	kindBytes // string, binary, decimal(p>18) as big-endian two's complement
)

// Column describes one column of a Buffer. Decoders look columns up once, when they
// compile their plan, and then address them by index.
type Column struct {
	Index     int
	Name      string
	Type      table.DataType
	Nullable  bool
	Partition bool // kept out of the data files, written as a directory
	Derived   *Derivation

	kind   kind
	minInt int64 // inclusive range for integer kinds; decoders check it
	maxInt int64
}

// IntRange is the inclusive range of values an integer column accepts (long, integer,
// short, byte, date, timestamp, decimal unscaled values).
func (c *Column) IntRange() (lo, hi int64) { return c.minInt, c.maxInt }

func newColumn(i int, f *table.StructField) (*Column, error) {
	c := &Column{Index: i, Name: f.Name, Type: f.Type, Nullable: f.Nullable}
	switch t := f.Type.(type) {
	case table.PrimitiveType:
		switch t {
		case table.String, table.Binary:
			c.kind = kindBytes
		case table.Long, table.Timestamp, table.TimestampNTZ:
			c.kind, c.minInt, c.maxInt = kindInt64, -1<<63, 1<<63-1
		case table.Integer, table.Date:
			c.kind, c.minInt, c.maxInt = kindInt32, -1<<31, 1<<31-1
		case table.Short:
			c.kind, c.minInt, c.maxInt = kindInt32, -1<<15, 1<<15-1
		case table.Byte:
			c.kind, c.minInt, c.maxInt = kindInt32, -1<<7, 1<<7-1
		case table.Float:
			c.kind = kindFloat
		case table.Double:
			c.kind = kindDouble
		case table.Boolean:
			c.kind = kindBool
		default:
			return nil, fmt.Errorf("column %q: type %s is not supported by the writer", f.Name, t)
		}
	case *table.DecimalType:
		limit := pow10(min(t.Precision, 18)) - 1
		switch {
		case t.Precision <= 9:
			c.kind = kindInt32
		case t.Precision <= 18:
			c.kind = kindInt64
		default:
			return nil, fmt.Errorf("column %q: decimal precision %d > 18 is not supported yet", f.Name, t.Precision)
		}
		c.minInt, c.maxInt = -limit, limit
	default:
		return nil, fmt.Errorf("column %q: type %s is not supported by the writer yet", f.Name, f.Type)
	}
	return c, nil
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// parquetNode returns the Parquet schema node for a column.
func (c *Column) parquetNode() parquet.Node {
	var n parquet.Node
	switch t := c.Type.(type) {
	case table.PrimitiveType:
		switch t {
		case table.String:
			n = parquet.String()
		case table.Binary:
			n = parquet.Leaf(parquet.ByteArrayType)
		case table.Long:
			n = parquet.Leaf(parquet.Int64Type)
		case table.Integer:
			n = parquet.Leaf(parquet.Int32Type)
		case table.Short:
			n = parquet.Int(16)
		case table.Byte:
			n = parquet.Int(8)
		case table.Float:
			n = parquet.Leaf(parquet.FloatType)
		case table.Double:
			n = parquet.Leaf(parquet.DoubleType)
		case table.Boolean:
			n = parquet.Leaf(parquet.BooleanType)
		case table.Date:
			n = parquet.Date()
		case table.Timestamp:
			n = parquet.TimestampAdjusted(parquet.Microsecond, true)
		case table.TimestampNTZ:
			n = parquet.TimestampAdjusted(parquet.Microsecond, false)
		}
	case *table.DecimalType:
		phys := parquet.Type(parquet.Int32Type)
		if c.kind == kindInt64 {
			phys = parquet.Int64Type
		}
		n = parquet.Decimal(t.Scale, t.Precision, phys)
	}
	if c.Nullable {
		return parquet.Optional(n)
	}
	return parquet.Required(n)
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
