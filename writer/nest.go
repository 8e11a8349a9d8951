package writer

import (
	"fmt"
	"math"

	"github.com/sluicelake/sluice/table"
)

// Nest builds the value of one struct, list or map column for the current row, in the
// order a decoder meets it:
//
//	n := buf.Nested(col)
//	n.BeginStruct()
//	n.Field(0); n.Int(42)
//	n.Field(1); n.BeginList(); n.Bytes(a); n.Bytes(b); n.EndList()
//	n.EndStruct()
//
// Struct fields may come in any order and may be left out (they are null then). Map
// entries alternate key and value. Misuse and values that break the schema (a null in
// a non-nullable field, a value of the wrong kind) are recorded and returned by
// EndRow, which then discards the row. The builder reuses its memory row after row.
type Nest struct {
	b      *Buffer
	col    int
	nodes  []node
	kids   []int32 // struct field slots and finished list/map children
	stack  []int32 // children of open lists and maps
	frames []frame
	data   []byte // byte values of the row
}

type nodeKind uint8

const (
	nodeNull nodeKind = iota
	nodeInt
	nodeFloat
	nodeBytes
	nodeStruct
	nodeList
	nodeMap
)

type node struct {
	kind  nodeKind
	i     int64 // int value, bool as 0/1; bytes: offset in data
	f     float64
	n     int32 // bytes: length; struct/list/map: number of kids
	first int32 // struct/list/map: first kid in kids
}

type frame struct {
	sn    *snode
	node  int32
	field int   // struct: selected field, -1 before Field
	start int32 // list/map: first child in stack
}

func (n *Nest) start(col int) {
	c := n.b.cols[col]
	n.col = col
	n.frames = n.frames[:0]
	if c.Primitive() {
		n.b.fail(c.Name, "Nested called on a primitive column")
	}
	st := &n.b.stage[col]
	st.state, st.root = stateNested, -1
}

func (n *Nest) reset() {
	n.nodes, n.kids, n.stack, n.frames, n.data = n.nodes[:0], n.kids[:0], n.stack[:0], n.frames[:0], n.data[:0]
}

func (n *Nest) depth() int { return len(n.frames) }

// expected returns the schema node the next value fills, and where it goes.
func (n *Nest) expected() *snode {
	if len(n.frames) == 0 {
		return n.b.cols[n.col].node
	}
	f := &n.frames[len(n.frames)-1]
	switch f.sn.typ.(type) {
	case *table.StructType:
		if f.field < 0 {
			n.b.fail(f.sn.path, "value without Field")
			return nil
		}
		return f.sn.fields[f.field]
	case *table.ArrayType:
		return f.sn.elem
	case *table.MapType:
		if (int32(len(n.stack))-f.start)%2 == 0 {
			return f.sn.key
		}
		return f.sn.val
	}
	return nil
}

// place puts a finished node where the innermost open value expects it.
func (n *Nest) place(id int32) {
	if len(n.frames) == 0 {
		n.b.stage[n.col].root = id
		return
	}
	f := &n.frames[len(n.frames)-1]
	if _, ok := f.sn.typ.(*table.StructType); ok {
		n.kids[n.nodes[f.node].first+int32(f.field)] = id
		f.field = -1
		return
	}
	n.stack = append(n.stack, id)
}

func (n *Nest) leafFor(want kind, what string) *snode {
	sn := n.expected()
	if sn == nil {
		return nil
	}
	if sn.leaf == nil || sn.leaf.kind != want {
		n.b.fail(sn.path, "a %s value cannot be stored in a %s field", what, sn.typ)
		return nil
	}
	return sn
}

// Null sets the next value to null.
func (n *Nest) Null() {
	sn := n.expected()
	if sn == nil {
		return
	}
	if !sn.nullable {
		n.b.fail(sn.path, "null in a non-nullable %s field", sn.typ)
		return
	}
	n.nodes = append(n.nodes, node{kind: nodeNull})
	n.place(int32(len(n.nodes) - 1))
}

// Int sets the next value of an integer-valued field (see Buffer.SetInt).
func (n *Nest) Int(v int64) {
	sn := n.expected()
	if sn == nil {
		return
	}
	if sn.leaf == nil || (sn.leaf.kind != kindInt32 && sn.leaf.kind != kindInt64) {
		n.b.fail(sn.path, "an integer cannot be stored in a %s field", sn.typ)
		return
	}
	if v < sn.leaf.minInt || v > sn.leaf.maxInt {
		n.b.fail(sn.path, "%d is out of range for %s", v, sn.typ)
		return
	}
	n.nodes = append(n.nodes, node{kind: nodeInt, i: v})
	n.place(int32(len(n.nodes) - 1))
}

// Float sets the next value of a float or double field.
func (n *Nest) Float(v float64) {
	sn := n.expected()
	if sn == nil {
		return
	}
	if sn.leaf == nil || (sn.leaf.kind != kindFloat && sn.leaf.kind != kindDouble) {
		n.b.fail(sn.path, "a floating-point number cannot be stored in a %s field", sn.typ)
		return
	}
	if sn.leaf.kind == kindFloat && !math.IsInf(v, 0) && math.Abs(v) > math.MaxFloat32 {
		n.b.fail(sn.path, "%g is out of range for float", v)
		return
	}
	n.nodes = append(n.nodes, node{kind: nodeFloat, f: v})
	n.place(int32(len(n.nodes) - 1))
}

// Bool sets the next value of a boolean field.
func (n *Nest) Bool(v bool) {
	if n.leafFor(kindBool, "boolean") == nil {
		return
	}
	var i int64
	if v {
		i = 1
	}
	n.nodes = append(n.nodes, node{kind: nodeInt, i: i})
	n.place(int32(len(n.nodes) - 1))
}

// Bytes sets the next value of a string, binary or decimal(p>18) field; v is copied.
func (n *Nest) Bytes(v []byte) {
	sn := n.leafFor(kindBytes, "string or binary")
	if sn == nil {
		return
	}
	off := len(n.data)
	n.data = append(n.data, v...)
	if l := sn.leaf; l != nil && l.fixedLen > 0 {
		ext, ok := signExtend(n.data[off:], l.fixedLen)
		if !ok {
			n.b.fail(sn.path, "value does not fit %s", l.typ)
			return
		}
		n.data = append(n.data[:off], ext...)
	}
	n.nodes = append(n.nodes, node{kind: nodeBytes, i: int64(off), n: int32(len(n.data) - off)})
	n.place(int32(len(n.nodes) - 1))
}

// BeginStruct opens a struct value; select each field with Field before its value.
func (n *Nest) BeginStruct() {
	sn := n.expected()
	if sn == nil {
		return
	}
	st, ok := sn.typ.(*table.StructType)
	if !ok {
		n.b.fail(sn.path, "a struct cannot be stored in a %s field", sn.typ)
		return
	}
	first := int32(len(n.kids))
	for range st.Fields {
		n.kids = append(n.kids, -1)
	}
	n.nodes = append(n.nodes, node{kind: nodeStruct, first: first, n: int32(len(st.Fields))})
	id := int32(len(n.nodes) - 1)
	n.place(id)
	n.frames = append(n.frames, frame{sn: sn, node: id, field: -1})
}

// Field selects the struct field (by position in the struct type) the next value
// fills. A field set twice keeps the last value.
func (n *Nest) Field(i int) {
	if len(n.frames) == 0 {
		n.b.fail(n.b.cols[n.col].Name, "Field outside a struct")
		return
	}
	f := &n.frames[len(n.frames)-1]
	if _, ok := f.sn.typ.(*table.StructType); !ok || i < 0 || i >= len(f.sn.fields) {
		n.b.fail(f.sn.path, "Field(%d) outside a struct or out of range", i)
		return
	}
	f.field = i
}

// EndStruct closes the innermost struct. Fields left out are null; a left-out
// non-nullable field fails the row.
func (n *Nest) EndStruct() {
	f, ok := n.pop(func(t table.DataType) bool { _, ok := t.(*table.StructType); return ok }, "EndStruct")
	if !ok {
		return
	}
	nd := n.nodes[f.node]
	for i, fs := range f.sn.fields {
		if n.kids[nd.first+int32(i)] < 0 && !fs.nullable {
			n.b.fail(fs.path, "missing value for a non-nullable %s field", fs.typ)
		}
	}
}

// BeginList opens a list value; each following value is an element.
func (n *Nest) BeginList() { n.beginRepeated(nodeList, "a list") }

// EndList closes the innermost list.
func (n *Nest) EndList() {
	n.endRepeated(func(t table.DataType) bool { _, ok := t.(*table.ArrayType); return ok }, "EndList")
}

// BeginMap opens a map value; the following values alternate key, value.
func (n *Nest) BeginMap() { n.beginRepeated(nodeMap, "a map") }

// EndMap closes the innermost map.
func (n *Nest) EndMap() {
	f, ok := n.peek(func(t table.DataType) bool { _, ok := t.(*table.MapType); return ok }, "EndMap")
	if ok && (int32(len(n.stack))-f.start)%2 != 0 {
		n.b.fail(f.sn.path, "map entry without a value")
		n.stack = n.stack[:len(n.stack)-1]
	}
	n.endRepeated(func(t table.DataType) bool { _, ok := t.(*table.MapType); return ok }, "EndMap")
}

func (n *Nest) beginRepeated(k nodeKind, what string) {
	sn := n.expected()
	if sn == nil {
		return
	}
	switch sn.typ.(type) {
	case *table.ArrayType:
		if k != nodeList {
			n.b.fail(sn.path, "%s cannot be stored in a %s field", what, sn.typ)
			return
		}
	case *table.MapType:
		if k != nodeMap {
			n.b.fail(sn.path, "%s cannot be stored in a %s field", what, sn.typ)
			return
		}
	default:
		n.b.fail(sn.path, "%s cannot be stored in a %s field", what, sn.typ)
		return
	}
	n.nodes = append(n.nodes, node{kind: k})
	id := int32(len(n.nodes) - 1)
	n.place(id)
	n.frames = append(n.frames, frame{sn: sn, node: id, field: -1, start: int32(len(n.stack))})
}

func (n *Nest) endRepeated(is func(table.DataType) bool, what string) {
	f, ok := n.pop(is, what)
	if !ok {
		return
	}
	nd := &n.nodes[f.node]
	nd.first = int32(len(n.kids))
	nd.n = int32(len(n.stack)) - f.start
	n.kids = append(n.kids, n.stack[f.start:]...)
	n.stack = n.stack[:f.start]
}

func (n *Nest) peek(is func(table.DataType) bool, what string) (frame, bool) {
	if len(n.frames) == 0 || !is(n.frames[len(n.frames)-1].sn.typ) {
		n.b.fail(n.b.cols[n.col].Name, "%s without a matching Begin", what)
		return frame{}, false
	}
	return n.frames[len(n.frames)-1], true
}

func (n *Nest) pop(is func(table.DataType) bool, what string) (frame, bool) {
	f, ok := n.peek(is, what)
	if ok {
		n.frames = n.frames[:len(n.frames)-1]
	}
	return f, ok
}

// String describes the builder position, for debugging.
func (n *Nest) String() string {
	if sn := n.expected(); sn != nil {
		return fmt.Sprintf("next value: %s (%s)", sn.path, sn.typ)
	}
	return "misused"
}
