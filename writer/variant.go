package writer

// Variant columns (table.Variant): the decoder hands in a value as JSON text with
// SetBytes; the Buffer encodes it in the Parquet Variant binary encoding when the row
// ends, and the data file holds it unshredded, as a VARIANT-annotated group of two
// binaries, metadata then value (PROTOCOL.md, "Variant data in Parquet"). Statistics
// hold only its null count: a variant is not comparable.

import (
	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table"
)

// buildVariant makes n, at path, the node of a variant value: two required binary
// leaves below it, metadata and value, in the order Parquet's VARIANT group lists them.
func (st *schemaTree) buildVariant(n *snode, path string) {
	for _, name := range []string{"metadata", "value"} {
		l := &leaf{index: len(st.leaves), path: path + "." + name, typ: table.Binary, kind: kindBytes, maxDef: n.def, maxRep: n.rep}
		l.bitDefs = l.maxDef == 1 && l.maxRep == 0
		st.leaves = append(st.leaves, l)
	}
	n.variant = true
}

// variantNode is the Parquet node of a variant value.
func variantNode() parquet.Node { return parquet.Variant() }

// encodeVariant encodes the JSON text staged for a variant column into s.vmeta and
// s.vvalue; bad JSON fails the row, naming the column.
func (b *Buffer) encodeVariant(c *Column, s *staged) error {
	var err error
	s.vmeta, s.vvalue, err = b.variant.AppendJSON(s.vmeta[:0], s.vvalue[:0], s.b)
	if err != nil {
		return &ValueError{Path: c.Name, Msg: "not a JSON value for a variant column: " + err.Error()}
	}
	return nil
}

// appendVariant appends a staged variant value (or a null) to its two leaves.
func (b *Buffer) appendVariant(p *part, n *snode, s *staged) int64 {
	meta, val := b.leaves[n.leafLo], b.leaves[n.leafLo+1]
	if s.state != stateSet {
		return p.leaves[meta.index].appendNull(meta, 0, 0) + p.leaves[val.index].appendNull(val, 0, 0)
	}
	scratch := &b.variantStage // not nodeStage: its b may alias the row's nested bytes
	scratch.b = append(scratch.b[:0], s.vmeta...)
	size := p.leaves[meta.index].appendValue(meta, 0, n.def, scratch)
	scratch.b = append(scratch.b[:0], s.vvalue...)
	return size + p.leaves[val.index].appendValue(val, 0, n.def, scratch)
}
