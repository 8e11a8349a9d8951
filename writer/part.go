package writer

// part holds the buffered rows of one partition, leaf column by leaf column.
type part struct {
	values []*string // partition values, in partition order
	rows   int
	leaves []leafData
	// bytes is the estimate of the memory the rows take; floor the capacity the part
	// came with from the reuse pool. Its memory is the larger of the two.
	bytes, floor int64
}

// reset empties the part for reuse, keeping its memory.
func (p *part) reset(values []*string) {
	p.values, p.rows, p.bytes, p.floor = values, 0, 0, 0
	for i := range p.leaves {
		d := &p.leaves[i]
		d.valid, d.defs, d.reps, d.n = d.valid[:0], d.defs[:0], d.reps[:0], 0
		d.i32, d.i64, d.f32, d.f64, d.bools = d.i32[:0], d.i64[:0], d.f32[:0], d.f64[:0], d.bools[:0]
		d.data, d.offs = d.data[:0], d.offs[:0]
	}
}

// capacity is the memory the part's buffers hold.
func (p *part) capacity() int64 {
	var n int
	for i := range p.leaves {
		d := &p.leaves[i]
		n += 8*cap(d.valid) + cap(d.defs) + cap(d.reps) + 4*cap(d.i32) + 8*cap(d.i64) + 4*cap(d.f32) + 8*cap(d.f64) + cap(d.bools) + cap(d.data) + 4*cap(d.offs)
	}
	return int64(n)
}

// leafData holds one leaf column: one entry per value slot with its definition and
// repetition level (Parquet's own model), and the non-null values densely. Levels are
// kept only where they carry information: a nullable top-level column (maxDef 1, no
// repetition) keeps one validity bit per entry, other nullable leaves a definition
// level byte, and leaves under a list or map a repetition level byte.
type leafData struct {
	valid []uint64 // bit per entry, for bitDefs leaves
	defs  []uint8
	reps  []uint8
	n     int // entries
	i32   []int32
	i64   []int64
	f32   []float32
	f64   []float64
	bools []bool
	data  []byte   // concatenated byte values
	offs  []uint32 // end offset of each byte value in data
}

// appendValue adds a present value and returns the bytes it took.
func (d *leafData) appendValue(l *leaf, rep, def uint8, s *staged) int64 {
	d.levels(l, rep, def)
	switch l.kind {
	case kindInt32:
		d.i32 = append(d.i32, int32(s.i))
		return 6
	case kindInt64:
		d.i64 = append(d.i64, s.i)
		return 10
	case kindFloat:
		d.f32 = append(d.f32, float32(s.f))
		return 6
	case kindDouble:
		d.f64 = append(d.f64, s.f)
		return 10
	case kindBool:
		d.bools = append(d.bools, s.i != 0)
		return 3
	default:
		d.data = append(d.data, s.b...)
		d.offs = append(d.offs, uint32(len(d.data)))
		return int64(len(s.b)) + 6
	}
}

// appendNull adds a null slot (def < maxDef).
func (d *leafData) appendNull(l *leaf, rep, def uint8) int64 {
	d.levels(l, rep, def)
	return 2
}

func (d *leafData) levels(l *leaf, rep, def uint8) {
	switch {
	case l.bitDefs:
		if d.n&63 == 0 {
			d.valid = append(d.valid, 0)
		}
		if def != 0 {
			d.valid[d.n>>6] |= 1 << (d.n & 63)
		}
	case l.maxDef > 0:
		d.defs = append(d.defs, def)
	}
	if l.maxRep > 0 {
		d.reps = append(d.reps, rep)
	}
	d.n++
}

// def returns the definition level of entry i.
func (d *leafData) def(l *leaf, i int) uint8 {
	switch {
	case l.bitDefs:
		return uint8(d.valid[i>>6] >> (i & 63) & 1)
	case l.maxDef == 0:
		return 0
	}
	return d.defs[i]
}

// nulls counts the null entries in [from, to) of a leaf outside lists and maps.
func (d *leafData) nulls(l *leaf, from, to int) int {
	n := 0
	switch {
	case l.bitDefs:
		for i := from; i < to; i++ {
			n += int(d.valid[i>>6]>>(i&63)&1 ^ 1)
		}
	case l.maxDef > 0:
		for _, def := range d.defs[from:to] {
			if def < l.maxDef {
				n++
			}
		}
	}
	return n
}

// rep returns the repetition level of entry i.
func (d *leafData) rep(l *leaf, i int) uint8 {
	if l.maxRep == 0 {
		return 0
	}
	return d.reps[i]
}

// bytesAt returns the j-th byte value.
func (d *leafData) bytesAt(j int) []byte {
	start := uint32(0)
	if j > 0 {
		start = d.offs[j-1]
	}
	return d.data[start:d.offs[j]]
}
