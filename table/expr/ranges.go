package expr

// MayBeTrue reports whether the expression can be TRUE for a row whose column values
// each lie between lo and hi (inclusive, column by column; a NULL bound is unknown).
// false proves that no such row makes it TRUE, so that a reader may skip a file whose
// statistics are lo and hi. It reasons through AND, OR, and comparisons of a column
// with constants (BETWEEN and IN included); for anything else it answers true. A
// float column may hold NaN, which statistics leave out and which compares above every
// number, so > , >= and <> on floats are always possible.
func (p *Program) MayBeTrue(lo, hi Row) bool { return mayBeTrue(p.root, lo, hi) }

func mayBeTrue(n node, lo, hi Row) bool {
	switch n := n.(type) {
	case boolAdapter:
		return mayBeTrue(n.node, lo, hi)
	case *andNode:
		return mayBeTrue(n.l, lo, hi) && mayBeTrue(n.r, lo, hi)
	case *orNode:
		return mayBeTrue(n.l, lo, hi) || mayBeTrue(n.r, lo, hi)
	case *cmpColConstNode:
		l, h, ok := bounds(n.col, lo, hi)
		if !ok {
			return true
		}
		if n.class == ccFloat && (n.op == opGt || n.op == opGe || n.op == opNe) {
			return true
		}
		cl, ch := compare(n.class, l, n.k, n.lt, n.rt), compare(n.class, h, n.k, n.lt, n.rt)
		switch n.op {
		case opEq:
			return cl <= 0 && ch >= 0
		case opNe:
			return cl != 0 || ch != 0
		case opLt:
			return cl < 0
		case opLe:
			return cl <= 0
		case opGt:
			return ch > 0
		case opGe:
			return ch >= 0
		}
	case *inNode:
		col, ok := n.x.(*colNode)
		if !ok {
			return true
		}
		l, h, ok := bounds(col, lo, hi)
		if !ok {
			return true
		}
		for _, e := range n.list {
			k, ok := e.(*litNode)
			if !ok {
				return true
			}
			if !k.v.Null && compare(n.class, l, k.v, n.t, n.t) <= 0 && compare(n.class, h, k.v, n.t, n.t) >= 0 {
				return true
			}
		}
		return false
	}
	return true
}

// bounds returns a column's lower and upper bound, when both are known values of its
// kind.
func bounds(c *colNode, lo, hi Row) (Value, Value, bool) {
	l, h := lo.Value(c.idx), hi.Value(c.idx)
	if l.Null || h.Null || l.Kind != c.t.Kind || h.Kind != c.t.Kind {
		return l, h, false
	}
	return l, h, true
}
