package writer

// part holds the buffered rows of one partition, column by column.
type part struct {
	values []*string // partition values, in partition order
	rows   int
	cols   []colData // by column index; partition columns stay empty
}

// colData holds one column's values. Nulls take no value slot; defs records, per
// row, whether the value is present (1) or null (0), for nullable columns only.
type colData struct {
	defs  []uint8
	i32   []int32
	i64   []int64
	f32   []float32
	f64   []float64
	bools []bool
	data  []byte   // concatenated byte values
	offs  []uint32 // end offset of each byte value in data
	nulls int
}

// append adds the staged value and returns the bytes it took.
func (d *colData) append(c *Column, s *staged) int64 {
	if c.Nullable {
		if s.state != stateSet {
			d.defs = append(d.defs, 0)
			d.nulls++
			return 1
		}
		d.defs = append(d.defs, 1)
	}
	switch c.kind {
	case kindInt32:
		d.i32 = append(d.i32, int32(s.i))
		return 5
	case kindInt64:
		d.i64 = append(d.i64, s.i)
		return 9
	case kindFloat:
		d.f32 = append(d.f32, float32(s.f))
		return 5
	case kindDouble:
		d.f64 = append(d.f64, s.f)
		return 9
	case kindBool:
		d.bools = append(d.bools, s.i != 0)
		return 2
	case kindBytes:
		d.data = append(d.data, s.b...)
		d.offs = append(d.offs, uint32(len(d.data)))
		return int64(len(s.b)) + 5
	}
	return 0
}

// bytesAt returns the j-th byte value.
func (d *colData) bytesAt(j int) []byte {
	start := uint32(0)
	if j > 0 {
		start = d.offs[j-1]
	}
	return d.data[start:d.offs[j]]
}
