package writer

// shred writes one row's value tree for a data column into the part's leaves, with
// Parquet definition and repetition levels (Dremel encoding). id is the root node, or
// -1 for a null value; rep is the repetition level the first entry of every leaf gets;
// def is the definition level of the enclosing value (what a null here records).
func (b *Buffer) shred(p *part, sn *snode, id int32, rep, def uint8) {
	nest := &b.nest
	if id < 0 || nest.nodes[id].kind == nodeNull {
		for li := sn.leafLo; li < sn.leafHi; li++ {
			b.bytes += p.leaves[li].appendNull(b.leaves[li], rep, def)
		}
		return
	}
	nd := &nest.nodes[id]
	switch {
	case sn.leaf != nil:
		l := sn.leaf
		s := &b.nodeStage
		switch nd.kind {
		case nodeInt:
			s.i = nd.i
		case nodeFloat:
			s.f = nd.f
		case nodeBytes:
			// Capped, so that nothing appending to the scratch can write into the
			// row's later bytes.
			s.b = nest.data[nd.i : nd.i+int64(nd.n) : nd.i+int64(nd.n)]
		}
		b.bytes += p.leaves[l.index].appendValue(l, rep, sn.def, s)
	case sn.fields != nil:
		for i, f := range sn.fields {
			b.shred(p, f, nest.kids[nd.first+int32(i)], rep, sn.def)
		}
	case sn.elem != nil:
		if nd.n == 0 {
			for li := sn.leafLo; li < sn.leafHi; li++ {
				b.bytes += p.leaves[li].appendNull(b.leaves[li], rep, sn.def)
			}
			return
		}
		for j := range nd.n {
			r := rep
			if j > 0 {
				r = sn.rep
			}
			b.shred(p, sn.elem, nest.kids[nd.first+j], r, sn.def+1)
		}
	case sn.key != nil:
		if nd.n == 0 {
			for li := sn.leafLo; li < sn.leafHi; li++ {
				b.bytes += p.leaves[li].appendNull(b.leaves[li], rep, sn.def)
			}
			return
		}
		for j := int32(0); j < nd.n; j += 2 {
			r := rep
			if j > 0 {
				r = sn.rep
			}
			b.shred(p, sn.key, nest.kids[nd.first+j], r, sn.def+1)
			b.shred(p, sn.val, nest.kids[nd.first+j+1], r, sn.def+1)
		}
	}
}
