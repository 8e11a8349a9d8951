package schema

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/sluicelake/sluice/table"
)

// protoConv is what a decoded Protobuf value becomes.
type protoConv uint8

const (
	pcInt        protoConv = iota // a signed integer, or a uint32, into an integer-valued column
	pcUintLong                    // uint64 into long: larger values fail the message
	pcUintWide                    // uint64 into decimal(p>=20,0)
	pcIntFloat                    // any integer into float or double
	pcBool                        // bool
	pcFloat                       // float or double into float or double
	pcString                      // string, or bytes into a string column: UTF-8 checked
	pcBinary                      // bytes, or string, into binary
	pcEnum                        // number into its name
	pcStruct                      // message into struct
	pcTimestamp                   // google.protobuf.Timestamp into timestamp
	pcDuration                    // google.protobuf.Duration into long microseconds
	pcWrapper                     // a wrapper message: inner decodes its value field
	pcJSON                        // Struct, Value, ListValue into their JSON text
	pcDate                        // google.type.Date into date
	pcDateMicros                  // google.type.Date into timestamp_ntz (a widened column): midnight
)

// protoNode is how to read one value and where it goes. col >= 0 addresses a top-level
// column; otherwise the value goes through the Buffer's Nest, into struct field slot
// when slot >= 0 (list elements, map keys and values have neither).
type protoNode struct {
	kind    protoreflect.Kind
	wire    protowire.Type // the wire type the kind is written with (unpacked)
	message bool           // a message kind: several occurrences merge
	conv    protoConv
	col     int
	slot    int
	path    string

	msg   *protoMsg        // pcStruct
	inner *protoNode       // pcWrapper: the value field's node, with this node's target
	names [][]byte         // pcEnum: names by number, for numbers 0..len-1
	named map[int32][]byte // pcEnum: names of other numbers
	json  proto.Message    // pcJSON: a message of the type, reused
	spans [][]byte         // scratch: the occurrences of the message being decoded
}

type cardinality uint8

const (
	cardSingle cardinality = iota
	cardList
	cardMap
)

// protoField is one declared field of a message.
type protoField struct {
	num      protowire.Number
	card     cardinality
	skip     bool       // no column takes it
	col      int        // list, map: the container's target, as protoNode's
	slot     int        //
	val      *protoNode // the value; a list's element; a map's value
	key      *protoNode // a map's key
	oneof    int        // index in protoMsg.oneofs, -1 outside a oneof
	implicit bool       // proto3 scalar without presence: absent means its zero value
	path     string
	vals     []protoVal // scratch: the occurrences gathered
	keys     []protoVal // scratch: a map's keys, normalized
	lastKey  map[string]int
}

// protoOneof is a oneof mapped to a struct whose fields are its members.
type protoOneof struct {
	col, slot int
	vals      []protoVal // scratch: the winning member's occurrences
}

// protoMsg is a message type's plan.
type protoMsg struct {
	fields  []*protoField
	dense   []int32 // field index + 1 by field number, for small numbers
	sparse  map[protowire.Number]int32
	oneofs  []*protoOneof
	seen    []bool // per field, while a message is decoded
	oneDone []bool // per oneof
}

func (m *protoMsg) field(num protowire.Number) (*protoField, int) {
	var i int32
	if int(num) < len(m.dense) {
		i = m.dense[num] - 1
	} else if j, ok := m.sparse[num]; ok {
		i = j
	} else {
		return nil, -1
	}
	if i < 0 {
		return nil, -1
	}
	return m.fields[i], int(i)
}

// protoTarget is where a field's value goes: a top-level column or a struct field.
type protoTarget struct {
	col, slot int
	t         table.DataType
	nullable  bool
	name      string
}

type protoCompiler struct {
	opts     ProtoOptions
	stack    []protoreflect.FullName
	unmapped []string
}

func (c *protoCompiler) mismatch(f protoreflect.FieldDescriptor, t table.DataType, path string) error {
	return &ProtoSchemaError{Field: path, Msg: fmt.Sprintf("the writer's %s cannot be stored in the column's %s type (integers widen to longer integers, float or double; float to double; string and bytes to each other)", describeProto(f), t)}
}

// message compiles a message type whose fields go to the targets lookup finds, and
// checks that every target the writer does not fill may be null.
func (c *protoCompiler) message(md protoreflect.MessageDescriptor, path string, targets []protoTarget) (*protoMsg, error) {
	if slices.Contains(c.stack, md.FullName()) {
		return nil, &ProtoSchemaError{Field: path, Msg: fmt.Sprintf("message %s contains itself (a recursive type)", md.FullName())}
	}
	c.stack = append(c.stack, md.FullName())
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()
	byName := make(map[string]int, len(targets))
	for i, t := range targets {
		byName[t.name] = i
	}
	filled := make([]bool, len(targets))
	lookup := func(name, fp string) (protoTarget, bool, error) {
		i, ok := byName[name]
		if !ok {
			if c.opts.UnknownFields == UnknownFail {
				return protoTarget{}, false, &ProtoSchemaError{Field: fp, Msg: "the table has no such column (unknown_fields: fail)"}
			}
			c.unmapped = append(c.unmapped, fp)
			return protoTarget{}, false, nil
		}
		filled[i] = true
		return targets[i], true, nil
	}
	m := &protoMsg{}
	fields, oneofs := protoMembers(md)
	for i, f := range fields {
		if o := oneofs[i]; o != nil {
			op := joinPath(path, string(o.Name()))
			tgt, ok, err := lookup(string(o.Name()), op)
			if err != nil {
				return nil, err
			}
			oi := -1
			var members []protoTarget
			if ok {
				st, isStruct := tgt.t.(*table.StructType)
				if !isStruct {
					return nil, &ProtoSchemaError{Field: op, Msg: fmt.Sprintf("a oneof maps to a struct with a field per member, but the column is %s", tgt.t)}
				}
				oi = len(m.oneofs)
				m.oneofs = append(m.oneofs, &protoOneof{col: tgt.col, slot: tgt.slot})
				members = structTargets(st)
			}
			for j := 0; j < o.Fields().Len(); j++ {
				mf := o.Fields().Get(j)
				mp := joinPath(op, string(mf.Name()))
				pf := &protoField{num: mf.Number(), oneof: oi, skip: true, path: mp, col: -1, slot: -1}
				if ok {
					k := slices.IndexFunc(members, func(t protoTarget) bool { return t.name == string(mf.Name()) })
					switch {
					case k >= 0:
						v, err := c.value(mf, members[k].t, -1, k, mp)
						if err != nil {
							return nil, err
						}
						pf.val, pf.skip = v, false
					case c.opts.UnknownFields == UnknownFail:
						return nil, &ProtoSchemaError{Field: mp, Msg: "the table has no such struct field (unknown_fields: fail)"}
					default:
						c.unmapped = append(c.unmapped, mp)
					}
				}
				m.fields = append(m.fields, pf)
			}
			continue
		}
		fp := joinPath(path, string(f.Name()))
		tgt, ok, err := lookup(string(f.Name()), fp)
		if err != nil {
			return nil, err
		}
		if !ok {
			m.fields = append(m.fields, &protoField{num: f.Number(), skip: true, oneof: -1, path: fp, col: -1, slot: -1})
			continue
		}
		pf, err := c.field(f, tgt, fp)
		if err != nil {
			return nil, err
		}
		m.fields = append(m.fields, pf)
	}
	for i, t := range targets {
		if !filled[i] && !t.nullable {
			return nil, &ProtoSchemaError{Field: joinPath(path, t.name), Msg: fmt.Sprintf("the column is a non-nullable %s but the writer's message has no such field", t.t)}
		}
	}
	c.index(m)
	return m, nil
}

// index builds the field-number lookup.
func (c *protoCompiler) index(m *protoMsg) {
	m.seen, m.oneDone = make([]bool, len(m.fields)), make([]bool, len(m.oneofs))
	for i, f := range m.fields {
		if f.num < 256 {
			if int(f.num) >= len(m.dense) {
				m.dense = append(m.dense, make([]int32, int(f.num)+1-len(m.dense))...)
			}
			m.dense[f.num] = int32(i) + 1
			continue
		}
		if m.sparse == nil {
			m.sparse = map[protowire.Number]int32{}
		}
		m.sparse[f.num] = int32(i)
	}
}

func structTargets(st *table.StructType) []protoTarget {
	out := make([]protoTarget, len(st.Fields))
	for i, f := range st.Fields {
		out[i] = protoTarget{col: -1, slot: i, t: f.Type, nullable: f.Nullable, name: f.Name}
	}
	return out
}

// field compiles a field with its cardinality.
func (c *protoCompiler) field(f protoreflect.FieldDescriptor, tgt protoTarget, path string) (*protoField, error) {
	pf := &protoField{num: f.Number(), col: tgt.col, slot: tgt.slot, oneof: -1, path: path,
		implicit: !f.HasPresence() && !f.IsList() && !f.IsMap()}
	var err error
	switch {
	case f.IsMap():
		mt, ok := tgt.t.(*table.MapType)
		if !ok {
			return nil, c.mismatch(f, tgt.t, path)
		}
		pf.card = cardMap
		if pf.key, err = c.value(f.MapKey(), mt.KeyType, -1, -1, path+".key"); err != nil {
			return nil, err
		}
		pf.val, err = c.value(f.MapValue(), mt.ValueType, -1, -1, path+".value")
	case f.IsList():
		at, ok := tgt.t.(*table.ArrayType)
		if !ok {
			return nil, c.mismatch(f, tgt.t, path)
		}
		pf.card = cardList
		pf.val, err = c.value(f, at.ElementType, -1, -1, path+".element")
	default:
		pf.val, err = c.value(f, tgt.t, tgt.col, tgt.slot, path)
	}
	if err != nil {
		return nil, err
	}
	return pf, nil
}

// wireType is the wire type a kind is written with, unpacked.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	}
	return protowire.VarintType
}

// value compiles one value of f's type into a t target.
func (c *protoCompiler) value(f protoreflect.FieldDescriptor, t table.DataType, col, slot int, path string) (*protoNode, error) {
	n := &protoNode{kind: f.Kind(), wire: wireType(f.Kind()), col: col, slot: slot, path: path}
	isOneOf := func(ts ...table.DataType) bool { return slices.Contains(ts, t) }
	switch f.Kind() {
	case protoreflect.BoolKind:
		if t == table.Boolean {
			n.conv = pcBool
			return n, nil
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		narrow := f.Kind() == protoreflect.Int32Kind || f.Kind() == protoreflect.Sint32Kind || f.Kind() == protoreflect.Sfixed32Kind
		switch {
		case isOneOf(table.Long), narrow && isOneOf(table.Integer):
			n.conv = pcInt
			return n, nil
		case isOneOf(table.Float, table.Double):
			n.conv = pcIntFloat
			return n, nil
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		switch d, _ := t.(*table.DecimalType); {
		case d != nil && d.Scale == 0 && d.Precision >= 20:
			n.conv = pcUintWide
			return n, nil
		case t == table.Long:
			n.conv = pcUintLong
			return n, nil
		case isOneOf(table.Float, table.Double):
			n.conv = pcIntFloat
			return n, nil
		}
	case protoreflect.FloatKind:
		if isOneOf(table.Float, table.Double) {
			n.conv = pcFloat
			return n, nil
		}
	case protoreflect.DoubleKind:
		if t == table.Double {
			n.conv = pcFloat
			return n, nil
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		switch t {
		case table.String:
			n.conv = pcString
			return n, nil
		case table.Binary:
			n.conv = pcBinary
			return n, nil
		}
	case protoreflect.EnumKind:
		if t == table.String {
			n.conv = pcEnum
			vals := f.Enum().Values()
			for i := 0; i < vals.Len(); i++ {
				v := vals.Get(i)
				name := []byte(v.Name())
				switch num := int32(v.Number()); {
				case num >= 0 && num < 1024:
					if int(num) >= len(n.names) {
						n.names = append(n.names, make([][]byte, int(num)+1-len(n.names))...)
					}
					if n.names[num] == nil { // aliases: the first name declared
						n.names[num] = name
					}
				default:
					if n.named == nil {
						n.named = map[int32][]byte{}
					}
					if _, dup := n.named[num]; !dup {
						n.named[num] = name
					}
				}
			}
			return n, nil
		}
	case protoreflect.GroupKind:
		return nil, &ProtoSchemaError{Field: path, Msg: "proto2 groups are not supported: declare a message field instead"}
	case protoreflect.MessageKind:
		n.message = true
		md := f.Message()
		switch wellKnown(md) {
		case wkTimestamp:
			if t == table.Timestamp {
				n.conv = pcTimestamp
				return n, nil
			}
		case wkDuration:
			if t == table.Long {
				n.conv = pcDuration
				return n, nil
			}
		case wkDate:
			switch t {
			case table.Date:
				n.conv = pcDate
				return n, nil
			case table.TimestampNTZ:
				n.conv = pcDateMicros
				return n, nil
			}
		case wkJSON:
			if t == table.String {
				n.conv = pcJSON
				switch md.Name() {
				case "Struct":
					n.json = &structpb.Struct{}
				case "Value":
					n.json = &structpb.Value{}
				default:
					n.json = &structpb.ListValue{}
				}
				return n, nil
			}
		case wkWrapper:
			inner, err := c.value(md.Fields().ByNumber(1), t, col, slot, path)
			if err != nil {
				return nil, err
			}
			n.conv, n.inner = pcWrapper, inner
			return n, nil
		default:
			st, ok := t.(*table.StructType)
			if !ok {
				break
			}
			msg, err := c.message(md, path, structTargets(st))
			if err != nil {
				return nil, err
			}
			n.conv, n.msg = pcStruct, msg
			return n, nil
		}
	}
	return nil, c.mismatch(f, t, path)
}
