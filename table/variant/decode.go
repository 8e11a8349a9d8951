package variant

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// AppendJSON decodes a variant (metadata, value) to JSON text appended to dst. It exists
// so that variant columns can be shown, compared in tests and checked against Spark's
// to_json without a Spark; the text format of each type is in the package documentation.
// Appending lets a caller reuse one buffer across rows. On error dst is returned
// unchanged and the error is a *MalformedError.
func AppendJSON(dst, metadata, value []byte) ([]byte, error) {
	var d decoder
	if err := d.init(metadata, value); err != nil {
		return dst, err
	}
	out, err := d.value(dst, 0, len(value), 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

type decoder struct {
	meta, val []byte
	keys      uint64 // dictionary size
	offSize   int    // width of the dictionary offsets
	offStart  int    // position of the first dictionary offset in meta
	strStart  int    // position of the dictionary strings in meta
	// budget is how many value bytes may still be visited. A well-formed value visits
	// each of its bytes once; elements whose offsets overlap could make the output
	// exponential in the input, so running out is an error.
	budget int
}

func (d *decoder) metaErr(at int, format string, args ...any) error {
	return &MalformedError{InMetadata: true, Offset: at, Reason: fmt.Sprintf(format, args...)}
}

func (d *decoder) valErr(at int, format string, args ...any) error {
	return &MalformedError{Offset: at, Reason: fmt.Sprintf(format, args...)}
}

func (d *decoder) init(meta, val []byte) error {
	d.meta, d.val, d.budget = meta, val, len(val)
	if len(meta) == 0 {
		return d.metaErr(0, "empty metadata")
	}
	if v := meta[0] & 0x0F; v != metadataVersion {
		return d.metaErr(0, "unsupported version %d", v)
	}
	d.offSize = int(meta[0]>>6) + 1
	d.offStart = 1 + d.offSize
	if len(meta) < d.offStart {
		return d.metaErr(1, "truncated: no room for the dictionary size")
	}
	d.keys = readUint(meta[1:], d.offSize)
	need := (d.keys + 1) * uint64(d.offSize)
	if need > uint64(len(meta)-d.offStart) {
		return d.metaErr(d.offStart, "truncated: %d dictionary offsets need %d bytes, %d are left",
			d.keys+1, need, len(meta)-d.offStart)
	}
	d.strStart = d.offStart + int(need)
	return nil
}

// key returns dictionary string id, which the field id at value offset at refers to,
// checked to be UTF-8.
func (d *decoder) key(id uint64, at int) ([]byte, error) {
	if id >= d.keys {
		return nil, d.valErr(at, "field id %d is beyond the dictionary's %d keys", id, d.keys)
	}
	p := d.offStart + int(id)*d.offSize
	start := readUint(d.meta[p:], d.offSize)
	end := readUint(d.meta[p+d.offSize:], d.offSize)
	if start > end || end > uint64(len(d.meta)-d.strStart) {
		return nil, d.metaErr(p, "dictionary string %d spans bytes %d to %d of %d", id, start, end, len(d.meta)-d.strStart)
	}
	k := d.meta[d.strStart+int(start) : d.strStart+int(end)]
	if !utf8.Valid(k) {
		return nil, d.metaErr(d.strStart+int(start), "dictionary string %d is not valid UTF-8", id)
	}
	return k, nil
}

// need checks that n bytes from pos lie before end.
func (d *decoder) need(pos, end int, n uint64, what string) error {
	if n > uint64(end-pos) {
		return d.valErr(pos, "truncated %s: needs %d bytes, %d are left", what, n, end-pos)
	}
	if d.budget -= int(n); d.budget < 0 {
		return d.valErr(pos, "elements overlap: more bytes visited than the value has")
	}
	return nil
}

// value appends the JSON for the variant value at val[pos], which must end by end, at
// depth containers deep.
func (d *decoder) value(dst []byte, pos, end, depth int) ([]byte, error) {
	v := d.val
	if pos >= end {
		return dst, d.valErr(pos, "truncated: value header missing")
	}
	h := v[pos]
	info := h >> 2
	switch h & 3 {
	case basicShortString:
		n := uint64(info)
		if err := d.need(pos, end, 1+n, "short string"); err != nil {
			return dst, err
		}
		return d.appendString(dst, v[pos+1:pos+1+int(n)], pos)
	case basicObject, basicArray:
		return d.container(dst, pos, end, depth)
	}
	switch info {
	case typeNull:
		return d.literal(dst, pos, end, "null")
	case typeTrue:
		return d.literal(dst, pos, end, "true")
	case typeFalse:
		return d.literal(dst, pos, end, "false")
	case typeInt8:
		if err := d.need(pos, end, 2, "int8"); err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, int64(int8(v[pos+1])), 10), nil
	case typeInt16:
		if err := d.need(pos, end, 3, "int16"); err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(v[pos+1:]))), 10), nil
	case typeInt32:
		if err := d.need(pos, end, 5, "int32"); err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(v[pos+1:]))), 10), nil
	case typeInt64:
		if err := d.need(pos, end, 9, "int64"); err != nil {
			return dst, err
		}
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(v[pos+1:])), 10), nil
	case typeDouble:
		if err := d.need(pos, end, 9, "double"); err != nil {
			return dst, err
		}
		return appendFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(v[pos+1:])), 64), nil
	case typeFloat:
		if err := d.need(pos, end, 5, "float"); err != nil {
			return dst, err
		}
		return appendFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(v[pos+1:]))), 32), nil
	case typeDecimal4, typeDecimal8, typeDecimal16:
		width := 4 << (info - typeDecimal4) // 4, 8, 16
		if err := d.need(pos, end, 2+uint64(width), "decimal"); err != nil {
			return dst, err
		}
		scale := int(v[pos+1])
		if scale > maxDecimalScale {
			return dst, d.valErr(pos+1, "decimal scale %d is beyond %d", scale, maxDecimalScale)
		}
		b := v[pos+2:]
		var lo, hi uint64
		switch width {
		case 4:
			lo = uint64(int64(int32(binary.LittleEndian.Uint32(b))))
			hi = uint64(int64(lo) >> 63)
		case 8:
			lo = binary.LittleEndian.Uint64(b)
			hi = uint64(int64(lo) >> 63)
		default:
			lo = binary.LittleEndian.Uint64(b)
			hi = binary.LittleEndian.Uint64(b[8:])
		}
		return appendDecimal(dst, lo, hi, scale), nil
	case typeDate:
		if err := d.need(pos, end, 5, "date"); err != nil {
			return dst, err
		}
		days := int64(int32(binary.LittleEndian.Uint32(v[pos+1:])))
		dst = appendDate(append(dst, '"'), days)
		return append(dst, '"'), nil
	case typeTimestamp, typeTimestampNTZ, typeTimestampNanos, typeTimestampNanosNTZ:
		if err := d.need(pos, end, 9, "timestamp"); err != nil {
			return dst, err
		}
		t := int64(binary.LittleEndian.Uint64(v[pos+1:]))
		perSecond, digits := int64(1e6), 6
		if info == typeTimestampNanos || info == typeTimestampNanosNTZ {
			perSecond, digits = 1e9, 9
		}
		secs, frac := floorDiv(t, perSecond)
		days, sod := floorDiv(secs, 86400)
		dst = appendDate(append(dst, '"'), days)
		dst = appendClock(append(dst, 'T'), sod, frac, digits)
		if info == typeTimestamp || info == typeTimestampNanos {
			dst = append(dst, "+00:00"...)
		}
		return append(dst, '"'), nil
	case typeTime:
		if err := d.need(pos, end, 9, "time"); err != nil {
			return dst, err
		}
		t := int64(binary.LittleEndian.Uint64(v[pos+1:]))
		if t < 0 || t >= 86400*1e6 {
			return dst, d.valErr(pos+1, "time %d µs is outside one day", t)
		}
		dst = appendClock(append(dst, '"'), t/1e6, t%1e6, 6)
		return append(dst, '"'), nil
	case typeBinary, typeString:
		if err := d.need(pos, end, 5, "binary or string length"); err != nil {
			return dst, err
		}
		n := uint64(binary.LittleEndian.Uint32(v[pos+1:]))
		if err := d.need(pos+5, end, n, "binary or string"); err != nil {
			return dst, err
		}
		b := v[pos+5 : pos+5+int(n)]
		if info == typeString {
			return d.appendString(dst, b, pos)
		}
		dst = base64.StdEncoding.AppendEncode(append(dst, '"'), b)
		return append(dst, '"'), nil
	case typeUUID:
		if err := d.need(pos, end, 17, "uuid"); err != nil {
			return dst, err
		}
		return appendUUID(dst, v[pos+1:pos+17]), nil
	}
	return dst, d.valErr(pos, "unknown primitive type %d", info)
}

func (d *decoder) literal(dst []byte, pos, end int, text string) ([]byte, error) {
	if err := d.need(pos, end, 1, text); err != nil {
		return dst, err
	}
	return append(dst, text...), nil
}

func (d *decoder) appendString(dst, s []byte, pos int) ([]byte, error) {
	out, ok := appendQuoted(dst, s)
	if !ok {
		return dst, d.valErr(pos, "string is not valid UTF-8")
	}
	return out, nil
}

// container appends the JSON for the object or array at val[pos].
func (d *decoder) container(dst []byte, pos, end, depth int) ([]byte, error) {
	v := d.val
	h := v[pos]
	object := h&3 == basicObject
	info := h >> 2
	offSize := int(info&3) + 1
	idSize, large := 0, info&(1<<2) != 0
	if object {
		idSize, large = int(info>>2&3)+1, info&(1<<4) != 0
	}
	countSize := 1
	if large {
		countSize = 4
	}
	if pos+1+countSize > end {
		return dst, d.valErr(pos, "truncated: no room for the element count")
	}
	n := readUint(v[pos+1:], countSize)
	idStart := pos + 1 + countSize
	// The ids and n+1 offsets; n < 2^32, so this cannot overflow.
	rest := n*uint64(idSize) + (n+1)*uint64(offSize)
	if err := d.need(pos, end, uint64(1+countSize)+rest, "object or array header"); err != nil {
		return dst, err
	}
	if depth >= MaxDepth {
		return dst, d.valErr(pos, "arrays and objects nest deeper than %d", MaxDepth)
	}
	offStart := idStart + int(n)*idSize
	dataStart := offStart + int(n+1)*offSize
	dataSize := readUint(v[offStart+int(n)*offSize:], offSize)
	if dataSize > uint64(end-dataStart) {
		return dst, d.valErr(offStart+int(n)*offSize, "element data of %d bytes overruns the %d bytes left", dataSize, end-dataStart)
	}
	dataEnd := dataStart + int(dataSize)
	open, close := byte('['), byte(']')
	if object {
		open, close = '{', '}'
	}
	dst = append(dst, open)
	for i := 0; i < int(n); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		if object {
			at := idStart + i*idSize
			k, err := d.key(readUint(v[at:], idSize), at)
			if err != nil {
				return dst, err
			}
			dst, _ = appendQuoted(dst, k) // key checked k
			dst = append(dst, ':')
		}
		at := offStart + i*offSize
		off := readUint(v[at:], offSize)
		if off >= dataSize {
			return dst, d.valErr(at, "element %d at offset %d is outside the %d bytes of element data", i, off, dataSize)
		}
		var err error
		if dst, err = d.value(dst, dataStart+int(off), dataEnd, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, close), nil
}

// appendQuoted appends s as a JSON string, escaping what JSON requires (as Jackson does:
// quotes, backslashes and control characters, nothing else), and reports false when s is
// not valid UTF-8.
func appendQuoted(dst, s []byte) ([]byte, bool) {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				return dst, false
			}
			i += size
			continue
		}
		if plain[c] {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), true
}

// appendFloat appends f as the shortest JSON number that reads back to it (as float32
// when bitSize is 32), in encoding/json's style. NaN and the infinities have no JSON
// number, so they become the strings Jackson writes for them.
func appendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bitSize)
	if format == 'e' {
		// e-09 to e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendDecimal appends the decimal with the 128-bit two's complement unscaled value
// (hi, lo) and the scale as plain text with exactly scale fractional digits, as Java's
// BigDecimal.toPlainString does.
func appendDecimal(dst []byte, lo, hi uint64, scale int) []byte {
	if int64(hi) < 0 {
		dst = append(dst, '-')
		var borrow uint64
		lo, borrow = bits.Sub64(0, lo, 0)
		hi, _ = bits.Sub64(0, hi, borrow)
	}
	var buf [40]byte // 2^128 has 39 digits
	digits := appendUint128(buf[:0], hi, lo)
	if scale == 0 {
		return append(dst, digits...)
	}
	if len(digits) > scale {
		dst = append(dst, digits[:len(digits)-scale]...)
		dst = append(dst, '.')
		return append(dst, digits[len(digits)-scale:]...)
	}
	dst = append(dst, '0', '.')
	for range scale - len(digits) {
		dst = append(dst, '0')
	}
	return append(dst, digits...)
}

// appendUint128 appends the decimal digits of the unsigned 128-bit (hi, lo).
func appendUint128(dst []byte, hi, lo uint64) []byte {
	if hi == 0 {
		return strconv.AppendUint(dst, lo, 10)
	}
	const base = 1e19 // the largest power of ten below 2^64
	var parts [3]uint64
	n := 0
	for hi != 0 || lo != 0 {
		qhi := hi / base
		var r uint64
		lo, r = bits.Div64(hi%base, lo, base)
		hi = qhi
		parts[n] = r
		n++
	}
	dst = strconv.AppendUint(dst, parts[n-1], 10)
	for i := n - 2; i >= 0; i-- {
		dst = appendPadded(dst, parts[i], 19)
	}
	return dst
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(dst []byte, v uint64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v > 0 || len(buf)-i < width {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[i:]...)
}

// floorDiv returns q and r with a = q*b + r and 0 <= r < b, for b > 0.
func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// appendDate appends the proleptic Gregorian date days after 1970-01-01 as java.time
// prints it: at least four year digits, '+' before years beyond 9999, '-' before
// negative years.
func appendDate(dst []byte, days int64) []byte {
	// Howard Hinnant's civil_from_days.
	z := days + 719468
	era, doe := floorDiv(z, 146097)
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	year := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if month > 12 {
		month -= 12
	}
	if month <= 2 {
		year++
	}
	switch {
	case year < 0:
		dst = append(dst, '-')
		year = -year
	case year > 9999:
		dst = append(dst, '+')
	}
	dst = appendPadded(dst, uint64(year), 4)
	dst = appendPadded(append(dst, '-'), uint64(month), 2)
	return appendPadded(append(dst, '-'), uint64(day), 2)
}

// appendClock appends HH:MM:SS.fff… for sod seconds into the day and frac, a fraction of
// a second with digits digits.
func appendClock(dst []byte, sod, frac int64, digits int) []byte {
	dst = appendPadded(dst, uint64(sod/3600), 2)
	dst = appendPadded(append(dst, ':'), uint64(sod/60%60), 2)
	dst = appendPadded(append(dst, ':'), uint64(sod%60), 2)
	return appendPadded(append(dst, '.'), uint64(frac), digits)
}

func appendUUID(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xF])
	}
	return append(dst, '"')
}
