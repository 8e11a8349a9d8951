package writer

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluicelake/sluice/table"
)

// fileStats accumulates the add.stats of one data file over the segments of rows it
// holds (one Pending's rows, or, through a FileWriter, several Pendings'), and renders
// them: numRecords, and minValues, maxValues and nullCount for the first
// NumIndexedCols fields in depth-first order, as Spark computes them:
//   - structs are nested objects;
//   - primitive fields outside lists and maps get nullCount, and min/max unless they
//     are boolean or binary or have no non-null value;
//   - a list, map or variant field counts as one field and gets only nullCount;
//   - fields inside lists and maps get nothing;
//   - timestamps are truncated to milliseconds, strings to StringPrefixLength
//     characters (the max rounded up so it still bounds the values).
type fileStats struct {
	b    *Buffer
	aggs []statAgg // parallel to b.statNodes
}

// statAgg is one field's statistics so far.
type statAgg struct {
	nulls    int64
	seen     bool // lo and hi hold a value
	lo, hi   int64
	flo, fhi float64
	blo, bhi []byte
}

// statNodes lists the fields that get statistics, in depth-first order, at most
// NumIndexedCols of them: leaves, and lists, maps and variants as one field each. The
// first call (NewBuffer's) builds the list.
func (b *Buffer) statNodes() []*snode {
	if b.statNodeList != nil {
		return b.statNodeList
	}
	budget := b.cfg.NumIndexedCols
	if budget < 0 {
		budget = math.MaxInt
	}
	list := []*snode{}
	var walk func(sn *snode)
	walk = func(sn *snode) {
		if budget <= 0 || sn.inRepeat || sn.void {
			return
		}
		if sn.fields != nil {
			for _, f := range sn.fields {
				walk(f)
			}
			return
		}
		budget--
		list = append(list, sn)
	}
	for _, sn := range b.roots {
		walk(sn)
	}
	b.statNodeList = list
	b.statIndex = make(map[*snode]int, len(list))
	for i, sn := range list {
		b.statIndex[sn] = i
	}
	return list
}

func (b *Buffer) newFileStats() *fileStats {
	return &fileStats{b: b, aggs: make([]statAgg, len(b.statNodes()))}
}

// gather adds the rows of p whose entries of each leaf lie between start and end.
func (fs *fileStats) gather(p *Pending, start, end []cursor) {
	for i, sn := range fs.b.statNodes() {
		a := &fs.aggs[i]
		if sn.leaf == nil { // list, map or variant: its null count, from its first leaf
			l := fs.b.leaves[sn.leafLo]
			d := &p.part.leaves[l.index]
			for j := start[l.index].entry; j < end[l.index].entry; j++ {
				if d.rep(l, j) == 0 && d.def(l, j) < sn.def {
					a.nulls++
				}
			}
			continue
		}
		l := sn.leaf
		d := &p.part.leaves[l.index]
		s, e := start[l.index], end[l.index]
		a.nulls += int64(d.nulls(l, s.entry, e.entry))
		a.add(l, d, s.val, e.val)
	}
}

// add takes values [from, to) of a leaf into the min and max.
func (a *statAgg) add(l *leaf, d *leafData, from, to int) {
	if from >= to {
		return
	}
	switch l.kind {
	case kindInt32:
		lo, hi := sliceRange(d.i32[from:to])
		a.addInt(int64(lo))
		a.addInt(int64(hi))
	case kindInt64:
		lo, hi := sliceRange(d.i64[from:to])
		a.addInt(lo)
		a.addInt(hi)
	case kindFloat:
		if lo, hi, ok := floatRange(d.f32[from:to]); ok {
			a.addFloat(lo)
			a.addFloat(hi)
		}
	case kindDouble:
		if lo, hi, ok := floatRange(d.f64[from:to]); ok {
			a.addFloat(lo)
			a.addFloat(hi)
		}
	case kindBytes:
		cmp := bytes.Compare
		switch {
		case l.fixedLen > 0:
			cmp = compareTwosComplement
		case l.typ != table.String:
			return // binary: no min/max
		}
		lo, hi := d.bytesAt(from), d.bytesAt(from)
		for j := from + 1; j < to; j++ {
			v := d.bytesAt(j)
			if cmp(v, lo) < 0 {
				lo = v
			}
			if cmp(v, hi) > 0 {
				hi = v
			}
		}
		if !a.seen || cmp(lo, a.blo) < 0 {
			a.blo = append(a.blo[:0], lo...)
		}
		if !a.seen || cmp(hi, a.bhi) > 0 {
			a.bhi = append(a.bhi[:0], hi...)
		}
		a.seen = true
	}
}

// sliceRange is the min and max of a non-empty slice.
func sliceRange[T int32 | int64](vs []T) (T, T) {
	lo, hi := vs[0], vs[0]
	for _, v := range vs[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// floatRange is the min and max of the values that are not NaN; false when none is.
func floatRange[T float32 | float64](vs []T) (float64, float64, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	seen := false
	for _, x := range vs {
		v := float64(x)
		if v != v { // NaN
			continue
		}
		lo, hi, seen = min(lo, v), max(hi, v), true
	}
	return lo, hi, seen
}

func (a *statAgg) addInt(v int64) {
	if !a.seen {
		a.seen, a.lo, a.hi = true, v, v
		return
	}
	a.lo, a.hi = min(a.lo, v), max(a.hi, v)
}

func (a *statAgg) addFloat(v float64) {
	if !a.seen {
		a.seen, a.flo, a.fhi = true, v, v
		return
	}
	a.flo, a.fhi = min(a.flo, v), max(a.fhi, v)
}

// minMax renders a field's min and max as JSON; false when there is none to report
// (no value, a type without them, or an infinite bound, which JSON cannot carry and
// which a reader does without).
func (a *statAgg) minMax(l *leaf, prefixLen int) (string, string, bool) {
	if !a.seen {
		return "", "", false
	}
	switch l.kind {
	case kindInt32, kindInt64:
		return formatIntStat(l.typ, a.lo), formatIntStat(l.typ, a.hi), true
	case kindFloat, kindDouble:
		if math.IsInf(a.flo, 0) || math.IsInf(a.fhi, 0) {
			return "", "", false
		}
		bits := 64
		if l.kind == kindFloat {
			bits = 32
		}
		return strconv.FormatFloat(a.flo, 'g', -1, bits), strconv.FormatFloat(a.fhi, 'g', -1, bits), true
	case kindBytes:
		if l.fixedLen > 0 {
			scale := l.typ.(*table.DecimalType).Scale
			return formatBigDecimal(a.blo, scale), formatBigDecimal(a.bhi, scale), true
		}
		return string(appendJSONString(nil, truncateMin(a.blo, prefixLen))), string(appendJSONString(nil, truncateMax(a.bhi, prefixLen))), true
	}
	return "", "", false
}

// render is the add.stats JSON of a file of rows rows.
func (fs *fileStats) render(rows int) string {
	w := statsWriter{fs: fs}
	w.min = append(w.min, '{')
	w.max = append(w.max, '{')
	w.nulls = append(w.nulls, '{')
	for _, sn := range fs.b.roots {
		w.field(sn)
	}
	var out bytes.Buffer
	out.WriteString(`{"numRecords":`)
	out.WriteString(strconv.Itoa(rows))
	out.WriteString(`,"minValues":`)
	out.Write(w.min)
	out.WriteString(`},"maxValues":`)
	out.Write(w.max)
	out.WriteString(`},"nullCount":`)
	out.Write(w.nulls)
	out.WriteString(`}}`)
	return out.String()
}

type statsWriter struct {
	fs              *fileStats
	min, max, nulls []byte
}

func (w *statsWriter) field(sn *snode) {
	if sn.inRepeat || sn.void {
		return
	}
	if sn.fields != nil {
		marks := [3]int{len(w.min), len(w.max), len(w.nulls)}
		w.min = appendKey(w.min, sn.name)
		w.max = appendKey(w.max, sn.name)
		w.nulls = appendKey(w.nulls, sn.name)
		inner := [3]int{len(w.min), len(w.max), len(w.nulls)}
		w.min, w.max, w.nulls = append(w.min, '{'), append(w.max, '{'), append(w.nulls, '{')
		for _, f := range sn.fields {
			w.field(f)
		}
		// Close each object, or drop it when nothing went in.
		for i, buf := range []*[]byte{&w.min, &w.max, &w.nulls} {
			if len(*buf) == inner[i]+1 {
				*buf = (*buf)[:marks[i]]
			} else {
				*buf = append(*buf, '}')
			}
		}
		return
	}
	i, ok := w.fs.b.statIndex[sn]
	if !ok {
		return // past NumIndexedCols
	}
	a := &w.fs.aggs[i]
	w.nulls = appendKey(w.nulls, sn.name)
	w.nulls = strconv.AppendInt(w.nulls, a.nulls, 10)
	if sn.leaf != nil {
		if lo, hi, ok := a.minMax(sn.leaf, w.fs.b.cfg.StringPrefixLength); ok {
			w.min = append(appendKey(w.min, sn.name), lo...)
			w.max = append(appendKey(w.max, sn.name), hi...)
		}
	}
}

func appendKey(b []byte, name string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = appendJSONString(b, name)
	return append(b, ':')
}

func formatIntStat(t table.DataType, v int64) string {
	switch t := t.(type) {
	case *table.DecimalType:
		return formatDecimal(v, t.Scale)
	case table.PrimitiveType:
		switch t {
		case table.Date:
			return `"` + formatDate(v) + `"`
		case table.Timestamp:
			return `"` + time.UnixMilli(FloorDiv(v, 1000)).UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`
		case table.TimestampNTZ:
			return `"` + time.UnixMilli(FloorDiv(v, 1000)).UTC().Format("2006-01-02T15:04:05.000") + `"`
		}
	}
	return strconv.FormatInt(v, 10)
}

// truncateMin keeps the first n characters: a prefix is never greater than the value.
func truncateMin(v []byte, n int) string {
	if utf8.RuneCount(v) <= n {
		return string(v)
	}
	return string(v[:runeOffset(v, n)])
}

// truncateMax keeps the first n characters and appends the largest code point, so the
// result is still not smaller than any value with that prefix.
func truncateMax(v []byte, n int) string {
	if utf8.RuneCount(v) <= n {
		return string(v)
	}
	return string(v[:runeOffset(v, n)]) + string(utf8.MaxRune)
}

func runeOffset(v []byte, n int) int {
	off := 0
	for range n {
		_, size := utf8.DecodeRune(v[off:])
		off += size
	}
	return off
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
