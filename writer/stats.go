package writer

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluicelake/sluice/table"
)

// stats renders the add.stats JSON of one file, whose entries of each leaf lie
// between start and end: numRecords, and minValues, maxValues and nullCount for the
// first NumIndexedCols fields in depth-first order, as Spark computes them:
//   - structs are nested objects;
//   - primitive fields outside lists and maps get nullCount, and min/max unless they
//     are boolean or binary or have no non-null value;
//   - a list or map field counts as one field and gets only nullCount (null lists);
//   - fields inside lists and maps get nothing;
//   - timestamps are truncated to milliseconds, strings to StringPrefixLength
//     characters (the max rounded up so it still bounds the values).
func (p *Pending) stats(rows int, start, end []cursor) string {
	w := statsWriter{p: p, start: start, end: end, budget: p.buf.cfg.NumIndexedCols}
	if w.budget < 0 {
		w.budget = math.MaxInt
	}
	w.min = append(w.min, '{')
	w.max = append(w.max, '{')
	w.nulls = append(w.nulls, '{')
	for _, sn := range p.buf.roots {
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
	p               *Pending
	start, end      []cursor
	budget          int
	min, max, nulls []byte
}

func (w *statsWriter) field(sn *snode) {
	if w.budget <= 0 || sn.inRepeat || sn.void {
		return
	}
	switch {
	case sn.fields != nil:
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
	case sn.leaf != nil:
		w.budget--
		l := sn.leaf
		d := &w.p.part.leaves[l.index]
		s, e := w.start[l.index], w.end[l.index]
		nulls := d.nulls(l, s.entry, e.entry)
		w.nulls = appendKey(w.nulls, sn.name)
		w.nulls = strconv.AppendInt(w.nulls, int64(nulls), 10)
		lo, hi, ok := minMax(l, d, s.val, e.val, w.p.buf.cfg.StringPrefixLength)
		if ok {
			w.min = append(appendKey(w.min, sn.name), lo...)
			w.max = append(appendKey(w.max, sn.name), hi...)
		}
	default: // list or map: null count of the value itself, from its first leaf
		w.budget--
		l := w.p.buf.leaves[sn.leafLo]
		d := &w.p.part.leaves[l.index]
		s, e := w.start[l.index], w.end[l.index]
		nulls := 0
		for i := s.entry; i < e.entry; i++ {
			if d.rep(l, i) == 0 && d.def(l, i) < sn.def {
				nulls++
			}
		}
		w.nulls = appendKey(w.nulls, sn.name)
		w.nulls = strconv.AppendInt(w.nulls, int64(nulls), 10)
	}
}

func appendKey(b []byte, name string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = appendJSONString(b, name)
	return append(b, ':')
}

// minMax returns the JSON-encoded min and max of values [from, to) of a leaf, and
// false when there is none to report.
func minMax(l *leaf, d *leafData, from, to int, prefixLen int) (string, string, bool) {
	if from >= to {
		return "", "", false
	}
	switch l.kind {
	case kindInt32:
		vs := d.i32[from:to]
		lo, hi := vs[0], vs[0]
		for _, v := range vs[1:] {
			lo, hi = min(lo, v), max(hi, v)
		}
		return formatIntStat(l.typ, int64(lo)), formatIntStat(l.typ, int64(hi)), true
	case kindInt64:
		vs := d.i64[from:to]
		lo, hi := vs[0], vs[0]
		for _, v := range vs[1:] {
			lo, hi = min(lo, v), max(hi, v)
		}
		return formatIntStat(l.typ, lo), formatIntStat(l.typ, hi), true
	case kindFloat:
		lo, hi, ok := floatRange(d.f32[from:to])
		if !ok {
			return "", "", false
		}
		return strconv.FormatFloat(lo, 'g', -1, 32), strconv.FormatFloat(hi, 'g', -1, 32), true
	case kindDouble:
		lo, hi, ok := floatRange(d.f64[from:to])
		if !ok {
			return "", "", false
		}
		return strconv.FormatFloat(lo, 'g', -1, 64), strconv.FormatFloat(hi, 'g', -1, 64), true
	case kindBytes:
		if l.fixedLen > 0 {
			lo, hi := d.bytesAt(from), d.bytesAt(from)
			for j := from + 1; j < to; j++ {
				v := d.bytesAt(j)
				if compareTwosComplement(v, lo) < 0 {
					lo = v
				}
				if compareTwosComplement(v, hi) > 0 {
					hi = v
				}
			}
			scale := l.typ.(*table.DecimalType).Scale
			return formatBigDecimal(lo, scale), formatBigDecimal(hi, scale), true
		}
		if l.typ != table.String {
			return "", "", false
		}
		lo, hi := d.bytesAt(from), d.bytesAt(from)
		for j := from + 1; j < to; j++ {
			v := d.bytesAt(j)
			if bytes.Compare(v, lo) < 0 {
				lo = v
			}
			if bytes.Compare(v, hi) > 0 {
				hi = v
			}
		}
		return string(appendJSONString(nil, truncateMin(lo, prefixLen))), string(appendJSONString(nil, truncateMax(hi, prefixLen))), true
	}
	return "", "", false
}

// floatRange skips NaN; it reports no range when a bound is infinite or no value is left,
// since JSON cannot carry those and a missing bound is safe for readers.
func floatRange[T float32 | float64](vs []T) (float64, float64, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range vs {
		v := float64(x)
		if v != v { // NaN
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return 0, 0, false
	}
	return lo, hi, true
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
