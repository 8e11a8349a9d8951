package schema

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/sluicelake/sluice/writer"
)

// Avro binary, as the specification lays it out: int and long are zig-zag varints (at
// most 5 and 10 bytes), float and double 4 and 8 bytes little-endian, bytes and string a
// long length then the bytes, fixed its declared length, enum and union a long index,
// arrays and maps a series of blocks, each a long count (negative: its absolute value,
// followed by the block's size in bytes) and that many items, ending with count 0.
//
// Nothing in a message is trusted: every length and count is checked against the bytes
// left, so garbage can neither allocate nor loop beyond the message's own size.

const (
	// maxZeroWidthItems bounds the array and map items of types that take no bytes on
	// the wire (null, a record of nulls) in one message: their count is the only thing
	// the message says about them, and a few bytes could otherwise ask for 2^63 of them.
	maxZeroWidthItems = 1 << 16
	// maxAvroDepth bounds the nesting of records the decoder walks through. Only a
	// recursive writer type, skipped because the table does not hold it, can nest
	// deeper than the plan, one level per byte or so; a plan of finite depth never
	// reaches this.
	maxAvroDepth = 1000
)

// readErr is what went wrong reading the wire format; 0 is success. Codes, not errors,
// keep the success path free of interface conversions.
type readErr uint8

const (
	readOK readErr = iota
	readTruncated
	readOverlong
)

// Decode decodes one Avro binary message (the payload after the 5-byte Confluent
// header) into the current row. It never finishes the row: the caller sets its own
// columns and calls EndRow, or AbortRow when Decode fails, which it does with an
// *AvroError for any payload that is not exactly one value of the writer schema.
func (d *AvroDecoder) Decode(payload []byte) error {
	d.p, d.pos, d.zero, d.depth = payload, 0, maxZeroWidthItems, 0
	defer func() { d.p = nil }() // do not keep the message alive
	for _, f := range d.fields {
		if err := d.value(f); err != nil {
			return err
		}
	}
	if d.pos != len(d.p) {
		return &AvroError{SchemaID: d.id, Offset: d.pos, Msg: fmt.Sprintf("%d bytes left after the record: the payload does not match writer schema %d (wrong schema id, or extra framing?)", len(d.p)-d.pos, d.id)}
	}
	return nil
}

func (d *AvroDecoder) fail(nd *avroNode, at int, format string, args ...any) error {
	return &AvroError{SchemaID: d.id, Field: nd.path, Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (d *AvroDecoder) readFail(nd *avroNode, at int, e readErr) error {
	if e == readOverlong {
		return d.fail(nd, at, "a varint runs longer than 10 bytes (garbage, or not Avro binary)")
	}
	return d.fail(nd, at, "the message ends inside this value (the payload is %d bytes)", len(d.p))
}

// enumIndex reads an enum's symbol index and checks it against the writer's symbols.
func (d *AvroDecoder) enumIndex(nd *avroNode, at int) (int64, error) {
	i, e := d.varint()
	if e != readOK {
		return 0, d.readFail(nd, at, e)
	}
	if i < 0 || i >= int64(len(nd.symbols)) {
		return 0, d.fail(nd, at, "enum index %d is out of range (the enum has %d symbols)", i, len(nd.symbols))
	}
	return i, nil
}

// varint reads a zig-zag encoded long.
func (d *AvroDecoder) varint() (int64, readErr) {
	p, i := d.p, d.pos
	if i < len(p) && p[i] < 0x80 {
		d.pos = i + 1
		u := uint64(p[i])
		return int64(u>>1) ^ -int64(u&1), readOK
	}
	var u uint64
	for s := uint(0); s < 70; s += 7 {
		if i >= len(p) {
			return 0, readTruncated
		}
		b := p[i]
		i++
		if s == 63 && b > 1 {
			return 0, readOverlong
		}
		u |= uint64(b&0x7f) << s
		if b < 0x80 {
			d.pos = i
			return int64(u>>1) ^ -int64(u&1), readOK
		}
	}
	return 0, readOverlong
}

// lenBytes reads a length-prefixed byte string; the result aliases the payload.
func (d *AvroDecoder) lenBytes(nd *avroNode, at int) ([]byte, error) {
	n, e := d.varint()
	if e != readOK {
		return nil, d.readFail(nd, at, e)
	}
	if n < 0 {
		return nil, d.fail(nd, at, "negative length %d", n)
	}
	if n > int64(len(d.p)-d.pos) {
		return nil, d.fail(nd, at, "length %d exceeds the %d bytes left in the message", n, len(d.p)-d.pos)
	}
	b := d.p[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *AvroDecoder) fixed(nd *avroNode, at int) ([]byte, error) {
	if nd.size > len(d.p)-d.pos {
		return nil, d.readFail(nd, at, readTruncated)
	}
	b := d.p[d.pos : d.pos+nd.size]
	d.pos += nd.size
	return b, nil
}

// value decodes one value of a mapped node into its target.
func (d *AvroDecoder) value(nd *avroNode) error {
	if nd.conv == acSkip {
		return d.skip(nd)
	}
	at := d.pos
	switch nd.wire {
	case wireNull:
		return d.emitNull(nd, at)
	case wireBool:
		if d.pos >= len(d.p) {
			return d.readFail(nd, at, readTruncated)
		}
		b := d.p[d.pos]
		d.pos++
		if b > 1 {
			return d.fail(nd, at, "a boolean is 0x%02x, not 0 or 1", b)
		}
		if nd.col >= 0 {
			d.buf.SetBool(nd.col, b == 1)
		} else {
			d.nest.Bool(b == 1)
		}
		return nil
	case wireInt, wireLong:
		v, e := d.varint()
		if e != readOK {
			return d.readFail(nd, at, e)
		}
		if nd.wire == wireInt && v != int64(int32(v)) {
			return d.fail(nd, at, "int value %d does not fit 32 bits", v)
		}
		return d.emitInt(nd, at, v)
	case wireFloat:
		if len(d.p)-d.pos < 4 {
			return d.readFail(nd, at, readTruncated)
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(d.p[d.pos:]))
		d.pos += 4
		d.emitFloat(nd, float64(v))
		return nil
	case wireDouble:
		if len(d.p)-d.pos < 8 {
			return d.readFail(nd, at, readTruncated)
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.p[d.pos:]))
		d.pos += 8
		d.emitFloat(nd, v)
		return nil
	case wireBytes:
		b, err := d.lenBytes(nd, at)
		if err != nil {
			return err
		}
		return d.emitBytes(nd, at, b)
	case wireFixed:
		b, err := d.fixed(nd, at)
		if err != nil {
			return err
		}
		return d.emitBytes(nd, at, b)
	case wireEnum:
		i, err := d.enumIndex(nd, at)
		if err != nil {
			return err
		}
		d.emitRaw(nd, nd.symbols[i])
		return nil
	case wireRecord:
		if nd.col >= 0 {
			d.nest = d.buf.Nested(nd.col)
		}
		n := d.nest
		n.BeginStruct()
		for _, f := range nd.fields {
			if f.conv == acSkip {
				if err := d.skip(f); err != nil {
					return err
				}
				continue
			}
			n.Field(f.slot)
			if err := d.value(f); err != nil {
				return err
			}
		}
		n.EndStruct()
		return nil
	case wireArray, wireMap:
		if nd.col >= 0 {
			d.nest = d.buf.Nested(nd.col)
		}
		if nd.wire == wireArray {
			d.nest.BeginList()
		} else {
			d.nest.BeginMap()
		}
		if err := d.blocks(nd, false); err != nil {
			return err
		}
		if nd.wire == wireArray {
			d.nest.EndList()
		} else {
			d.nest.EndMap()
		}
		return nil
	case wireUnion:
		b, err := d.branch(nd, at)
		if err != nil {
			return err
		}
		if b.conv == acNull {
			return d.emitNull(b, at) // at the union, for either kind of union
		}
		if nd.conv == acBranch {
			return d.value(b)
		}
		// A union mapped to a struct: the member's field set, the others null.
		if nd.col >= 0 {
			d.nest = d.buf.Nested(nd.col)
		}
		d.nest.BeginStruct()
		d.nest.Field(b.slot)
		if err := d.value(b); err != nil {
			return err
		}
		d.nest.EndStruct()
		return nil
	}
	return d.fail(nd, at, "internal error: no decoder for wire kind %d", nd.wire)
}

func (d *AvroDecoder) branch(nd *avroNode, at int) (*avroNode, error) {
	i, e := d.varint()
	if e != readOK {
		return nil, d.readFail(nd, at, e)
	}
	if i < 0 || i >= int64(len(nd.branches)) {
		return nil, d.fail(nd, at, "union index %d is out of range (the union has %d members)", i, len(nd.branches))
	}
	return nd.branches[i], nil
}

// blocks reads the blocks of an array or map, decoding or skipping their items.
func (d *AvroDecoder) blocks(nd *avroNode, skip bool) error {
	itemMin := nd.elem.minSize
	if nd.wire == wireMap {
		itemMin = addSize(itemMin, 1) // the key's length
	}
	for {
		at := d.pos
		count, e := d.varint()
		if e != readOK {
			return d.readFail(nd, at, e)
		}
		if count == 0 {
			return nil
		}
		size := int64(-1)
		if count < 0 {
			if count == math.MinInt64 {
				return d.fail(nd, at, "block count %d is out of range", count)
			}
			count = -count
			if size, e = d.varint(); e != readOK {
				return d.readFail(nd, at, e)
			}
			if size < 0 || size > int64(len(d.p)-d.pos) {
				return d.fail(nd, at, "block size %d bytes does not fit the %d bytes left in the message", size, len(d.p)-d.pos)
			}
			if skip {
				d.pos += int(size)
				continue
			}
		}
		left := int64(len(d.p) - d.pos)
		if itemMin > 0 {
			if count > left/itemMin {
				return d.fail(nd, at, "a block of %d items cannot fit in the %d bytes left in the message", count, left)
			}
		} else {
			if count > int64(d.zero) {
				return d.fail(nd, at, "a block of %d items that take no bytes exceeds the limit of %d such items per message", count, maxZeroWidthItems)
			}
			d.zero -= int(count)
		}
		start := d.pos
		for range count {
			if nd.wire == wireMap {
				kat := d.pos
				key, err := d.lenBytes(nd, kat)
				if err != nil {
					return err
				}
				if !skip {
					if !utf8.Valid(key) {
						return d.fail(nd, kat, "a map key is not valid UTF-8")
					}
					d.nest.Bytes(key)
				}
			}
			var err error
			if skip {
				err = d.skip(nd.elem)
			} else {
				err = d.value(nd.elem)
			}
			if err != nil {
				return err
			}
		}
		if size >= 0 && int64(d.pos-start) != size {
			return d.fail(nd, at, "the block says it is %d bytes but its %d items take %d", size, count, d.pos-start)
		}
	}
}

// skip reads a value and discards it.
func (d *AvroDecoder) skip(nd *avroNode) error {
	at := d.pos
	switch nd.wire {
	case wireNull:
		return nil
	case wireBool:
		if d.pos >= len(d.p) {
			return d.readFail(nd, at, readTruncated)
		}
		d.pos++
		return nil
	case wireInt, wireLong:
		if _, e := d.varint(); e != readOK {
			return d.readFail(nd, at, e)
		}
		return nil
	case wireFloat, wireDouble:
		n := 4
		if nd.wire == wireDouble {
			n = 8
		}
		if len(d.p)-d.pos < n {
			return d.readFail(nd, at, readTruncated)
		}
		d.pos += n
		return nil
	case wireBytes:
		_, err := d.lenBytes(nd, at)
		return err
	case wireFixed:
		_, err := d.fixed(nd, at)
		return err
	case wireEnum:
		_, err := d.enumIndex(nd, at)
		return err
	case wireRecord:
		if d.depth++; d.depth > maxAvroDepth {
			return d.fail(nd, at, "records nest deeper than %d levels", maxAvroDepth)
		}
		for _, f := range nd.fields {
			if err := d.skip(f); err != nil {
				return err
			}
		}
		d.depth--
		return nil
	case wireArray, wireMap:
		return d.blocks(nd, true)
	case wireUnion:
		b, err := d.branch(nd, at)
		if err != nil {
			return err
		}
		return d.skip(b)
	}
	return d.fail(nd, at, "internal error: no decoder for wire kind %d", nd.wire)
}

func (d *AvroDecoder) emitNull(nd *avroNode, at int) error {
	if !nd.null {
		return d.fail(nd, at, "null, but the column is not nullable")
	}
	if nd.col >= 0 {
		d.buf.SetNull(nd.col)
	} else {
		d.nest.Null()
	}
	return nil
}

func (d *AvroDecoder) emitInt(nd *avroNode, at int, v int64) error {
	switch nd.conv {
	case acIntToFloat:
		d.emitFloat(nd, float64(v))
		return nil
	case acMillis:
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return d.fail(nd, at, "%d milliseconds is out of range for microseconds", v)
		}
		v *= 1000
	case acNanos:
		v = writer.FloorDiv(v, 1000)
	}
	if nd.col >= 0 {
		d.buf.SetInt(nd.col, v)
	} else {
		d.nest.Int(v)
	}
	return nil
}

func (d *AvroDecoder) emitFloat(nd *avroNode, v float64) {
	if nd.col >= 0 {
		d.buf.SetFloat(nd.col, v)
	} else {
		d.nest.Float(v)
	}
}

func (d *AvroDecoder) emitRaw(nd *avroNode, b []byte) {
	if nd.col >= 0 {
		d.buf.SetBytes(nd.col, b)
	} else {
		d.nest.Bytes(b)
	}
}

func (d *AvroDecoder) emitBytes(nd *avroNode, at int, b []byte) error {
	switch nd.conv {
	case acString:
		if !utf8.Valid(b) {
			return d.fail(nd, at, "the string is not valid UTF-8")
		}
	case acDecimalInt:
		v, ok := decimalInt(b)
		if !ok || v < nd.lo || v > nd.hi {
			return d.fail(nd, at, "the decimal's unscaled value 0x%x does not fit %d digits", b, decimalDigits(nd.hi))
		}
		if nd.col >= 0 {
			d.buf.SetInt(nd.col, v)
		} else {
			d.nest.Int(v)
		}
		return nil
	case acDecimalWide:
		b = trimSign(b)
		if len(b) == 0 {
			b = d.zeroByte[:] // stays zero: it is only ever read
		}
		if !d.wideFits(nd, b) {
			return d.fail(nd, at, "the decimal's unscaled value 0x%x does not fit the column's precision", b)
		}
	case acUUID:
		b = appendUUID(d.scratch[:0], b)
	}
	d.emitRaw(nd, b)
	return nil
}

// trimSign drops leading bytes of a big-endian two's complement integer that only
// repeat its sign.
func trimSign(b []byte) []byte {
	for len(b) > 1 && ((b[0] == 0 && b[1]&0x80 == 0) || (b[0] == 0xff && b[1]&0x80 != 0)) {
		b = b[1:]
	}
	return b
}

// decimalInt reads a big-endian two's complement integer of up to 8 significant bytes;
// no bytes is zero.
func decimalInt(b []byte) (int64, bool) {
	b = trimSign(b)
	if len(b) == 0 {
		return 0, true
	}
	if len(b) > 8 {
		return 0, false
	}
	v := int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, true
}

// wideFits reports whether a sign-trimmed two's complement integer lies within the
// node's decimal bounds.
func (d *AvroDecoder) wideFits(nd *avroNode, b []byte) bool {
	if len(b) > wideDecimalLen {
		return false
	}
	s := d.scratch[:wideDecimalLen]
	pad := byte(0)
	if b[0]&0x80 != 0 {
		pad = 0xff
	}
	k := wideDecimalLen - len(b)
	for i := range k {
		s[i] = pad
	}
	copy(s[k:], b)
	s[0] ^= 0x80
	return bytes.Compare(s, nd.decLo) >= 0 && bytes.Compare(s, nd.decHi) <= 0
}

func decimalDigits(v int64) int {
	n := 0
	for ; v > 0; v /= 10 {
		n++
	}
	return n
}

// appendUUID renders 16 bytes as the canonical 8-4-4-4-12 lowercase hex form.
func appendUUID(dst, u []byte) []byte {
	const hex = "0123456789abcdef"
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return dst
}
