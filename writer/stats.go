package writer

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluicelake/sluice/table"
)

// stats renders the add.stats JSON of a pending file: numRecords, and minValues,
// maxValues and nullCount for the first NumIndexedCols data columns. Columns with
// no non-null value, binary and boolean columns get no min/max (as Spark does).
// Timestamps are truncated to milliseconds, as the protocol says.
func (p *Pending) stats() string {
	b := p.buf
	var mins, maxs, nulls bytes.Buffer
	n := len(b.dataIdx)
	if b.cfg.NumIndexedCols >= 0 {
		n = min(n, b.cfg.NumIndexedCols)
	}
	for _, i := range b.dataIdx[:n] {
		c := b.cols[i]
		d := &p.part.cols[i]
		appendKey(&nulls, c.Name)
		nulls.WriteString(strconv.Itoa(d.nulls))
		lo, hi, ok := minMax(c, d, b.cfg.StringPrefixLength)
		if !ok {
			continue
		}
		appendKey(&mins, c.Name)
		mins.WriteString(lo)
		appendKey(&maxs, c.Name)
		maxs.WriteString(hi)
	}
	var out bytes.Buffer
	out.WriteString(`{"numRecords":`)
	out.WriteString(strconv.Itoa(p.Rows))
	for _, s := range []struct {
		key string
		buf *bytes.Buffer
	}{{"minValues", &mins}, {"maxValues", &maxs}, {"nullCount", &nulls}} {
		out.WriteString(`,"` + s.key + `":{`)
		out.Write(s.buf.Bytes())
		out.WriteByte('}')
	}
	out.WriteByte('}')
	return out.String()
}

func appendKey(b *bytes.Buffer, name string) {
	if b.Len() > 0 {
		b.WriteByte(',')
	}
	b.Write(appendJSONString(nil, name))
	b.WriteByte(':')
}

// minMax returns the JSON-encoded min and max of a column, and false when there is none.
func minMax(c *Column, d *colData, prefixLen int) (string, string, bool) {
	switch c.kind {
	case kindInt32:
		if len(d.i32) == 0 {
			return "", "", false
		}
		lo, hi := d.i32[0], d.i32[0]
		for _, v := range d.i32[1:] {
			lo, hi = min(lo, v), max(hi, v)
		}
		return formatIntStat(c, int64(lo)), formatIntStat(c, int64(hi)), true
	case kindInt64:
		if len(d.i64) == 0 {
			return "", "", false
		}
		lo, hi := d.i64[0], d.i64[0]
		for _, v := range d.i64[1:] {
			lo, hi = min(lo, v), max(hi, v)
		}
		return formatIntStat(c, lo), formatIntStat(c, hi), true
	case kindFloat:
		lo, hi, ok := floatRange(len(d.f32), func(i int) float64 { return float64(d.f32[i]) })
		if !ok {
			return "", "", false
		}
		return strconv.FormatFloat(lo, 'g', -1, 32), strconv.FormatFloat(hi, 'g', -1, 32), true
	case kindDouble:
		lo, hi, ok := floatRange(len(d.f64), func(i int) float64 { return d.f64[i] })
		if !ok {
			return "", "", false
		}
		return strconv.FormatFloat(lo, 'g', -1, 64), strconv.FormatFloat(hi, 'g', -1, 64), true
	case kindBytes:
		if c.Type != table.String || len(d.offs) == 0 {
			return "", "", false
		}
		lo, hi := d.bytesAt(0), d.bytesAt(0)
		for j := 1; j < len(d.offs); j++ {
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
func floatRange(n int, at func(int) float64) (float64, float64, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range n {
		v := at(i)
		if math.IsNaN(v) {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return 0, 0, false
	}
	return lo, hi, true
}

func formatIntStat(c *Column, v int64) string {
	switch t := c.Type.(type) {
	case *table.DecimalType:
		return formatDecimal(v, t.Scale)
	case table.PrimitiveType:
		switch t {
		case table.Date:
			return `"` + formatDate(v) + `"`
		case table.Timestamp:
			return `"` + time.UnixMilli(floorDiv(v, 1000)).UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`
		case table.TimestampNTZ:
			return `"` + time.UnixMilli(floorDiv(v, 1000)).UTC().Format("2006-01-02T15:04:05.000") + `"`
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
			dst = append(dst, "\\ufffd"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
