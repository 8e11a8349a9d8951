package schema

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/writer"
)

// AvroDecoder decodes Avro binary messages of one writer schema into the current row of
// a writer.Buffer, through a plan compiled once by NewAvroDecoder. Decode allocates
// nothing once the Buffer's memory has grown. It is not safe for concurrent use.
type AvroDecoder struct {
	id     int32
	buf    *writer.Buffer
	fields []*avroNode // the top-level record's fields, in writer order
	nest   *writer.Nest
	// unmapped lists the writer fields no column holds.
	unmapped []string

	payload []byte // the message being decoded
	pos     int
	zero    int // zero-width array/map items this message may still hold
	depth   int

	scratch  [36]byte // a UUID's text
	zeroByte [1]byte
}

// NewAvroDecoder compiles the plan that decodes messages written with writerSchema (a
// record) into the given columns of buf; columns not listed (Kafka metadata, derived
// columns) are left to the caller. Fields match columns by name at every depth, as in
// Avro schema resolution with the table as the reader's schema:
//   - a writer field with no column is decoded and discarded (see AvroOptions);
//   - a column with no writer field is null, and must be nullable;
//   - a value converts to its mapped type (see AvroTableSchema) or, as Avro promotes,
//     int to long, float or double; long to float or double; float to double; string to
//     binary and bytes to string; a decimal to one of the same scale and a precision at
//     least as large;
//   - a writer union matches through its members: a null member needs a nullable
//     column (or is refused per message), a union of several non-null members needs
//     the struct the mapping gives it.
//
// Anything else is an *AvroSchemaError naming the field and both types. schemaID only
// labels errors.
func NewAvroDecoder(writerSchema avro.Schema, schemaID int32, buf *writer.Buffer, columns []*writer.Column, opts AvroOptions) (*AvroDecoder, error) {
	if opts.UnknownFields == "" {
		opts.UnknownFields = UnknownIgnore
	}
	switch opts.UnknownFields {
	case UnknownIgnore, UnknownFail:
	default:
		return nil, fmt.Errorf("avro: unknown_fields %q: want ignore or fail", opts.UnknownFields)
	}
	rec, ok := deref(writerSchema).(*avro.RecordSchema)
	if !ok {
		return nil, &AvroSchemaError{SchemaID: schemaID, Msg: fmt.Sprintf("the writer schema is %s, not a record", describeAvro(writerSchema))}
	}
	c := avroCompiler{opts: opts, skips: map[string]*avroNode{}}
	byName := make(map[string]*writer.Column, len(columns))
	for _, col := range columns {
		byName[col.Name] = col
	}
	d := &AvroDecoder{id: schemaID, buf: buf}
	seen := make(map[string]bool, len(rec.Fields()))
	for _, f := range rec.Fields() {
		col := byName[f.Name()]
		if col == nil {
			if opts.UnknownFields == UnknownFail {
				return nil, &AvroSchemaError{SchemaID: schemaID, Field: f.Name(), Msg: "the table has no such column (unknown_fields: fail)"}
			}
			d.fields = append(d.fields, c.skip(f.Type(), f.Name()))
			c.unmapped = append(c.unmapped, f.Name())
			continue
		}
		seen[col.Name] = true
		n, err := c.compile(f.Type(), col.Type, col.Nullable, f.Name(), col.Index)
		if err != nil {
			return nil, withSchemaID(err, schemaID)
		}
		d.fields = append(d.fields, n)
	}
	for _, col := range columns {
		if !seen[col.Name] && !col.Nullable {
			return nil, &AvroSchemaError{SchemaID: schemaID, Field: col.Name, Msg: fmt.Sprintf("the column is a non-nullable %s but the writer schema has no such field", col.Type)}
		}
	}
	d.unmapped = c.unmapped
	return d, nil
}

// Unmapped lists the writer fields (dotted paths) the table has no column or struct
// field for, which Decode reads and discards. A writer schema with such fields is newer
// than the table: the connector offers it to Evolve before decoding with it.
func (d *AvroDecoder) Unmapped() []string { return d.unmapped }

func withSchemaID(err error, id int32) error {
	if e, ok := err.(*AvroSchemaError); ok {
		e.SchemaID = id
	}
	return err
}

// SchemaID is the writer schema id the decoder was built for.
func (d *AvroDecoder) SchemaID() int32 { return d.id }

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
	d.payload, d.pos, d.zero, d.depth = payload, 0, maxZeroWidthItems, 0
	defer func() { d.payload = nil }() // do not keep the message alive
	for _, f := range d.fields {
		if err := d.value(f); err != nil {
			return err
		}
	}
	if d.pos != len(d.payload) {
		return &AvroError{SchemaID: d.id, Offset: d.pos, Msg: fmt.Sprintf("%d bytes left after the record: the payload does not match writer schema %d (wrong schema id, or extra framing?)", len(d.payload)-d.pos, d.id)}
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
	return d.fail(nd, at, "the message ends inside this value (the payload is %d bytes)", len(d.payload))
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
	p, i := d.payload, d.pos
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
	if n > int64(len(d.payload)-d.pos) {
		return nil, d.fail(nd, at, "length %d exceeds the %d bytes left in the message", n, len(d.payload)-d.pos)
	}
	b := d.payload[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return b, nil
}

func (d *AvroDecoder) fixed(nd *avroNode, at int) ([]byte, error) {
	if nd.size > len(d.payload)-d.pos {
		return nil, d.readFail(nd, at, readTruncated)
	}
	b := d.payload[d.pos : d.pos+nd.size]
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
		if d.pos >= len(d.payload) {
			return d.readFail(nd, at, readTruncated)
		}
		b := d.payload[d.pos]
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
		if len(d.payload)-d.pos < 4 {
			return d.readFail(nd, at, readTruncated)
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(d.payload[d.pos:]))
		d.pos += 4
		d.emitFloat(nd, float64(v))
		return nil
	case wireDouble:
		if len(d.payload)-d.pos < 8 {
			return d.readFail(nd, at, readTruncated)
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(d.payload[d.pos:]))
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
			if size < 0 || size > int64(len(d.payload)-d.pos) {
				return d.fail(nd, at, "block size %d bytes does not fit the %d bytes left in the message", size, len(d.payload)-d.pos)
			}
			if skip {
				d.pos += int(size)
				continue
			}
		}
		left := int64(len(d.payload) - d.pos)
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
		if d.pos >= len(d.payload) {
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
		if len(d.payload)-d.pos < n {
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
	case acDaysToMicros:
		v *= 86_400_000_000 // an int's days stay far from overflow
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
		v, ok := writer.TwosComplementInt64(b)
		if !ok || v < nd.lo || v > nd.hi {
			return d.fail(nd, at, "the decimal's unscaled value 0x%x does not fit %d digits", b, nd.precision)
		}
		v *= nd.factor
		if nd.col >= 0 {
			d.buf.SetInt(nd.col, v)
		} else {
			d.nest.Int(v)
		}
		return nil
	case acDecimalWide:
		if nd.scaleUp > 0 {
			b = writer.ScaleTwosComplement(b, nd.scaleUp) // rare: a widened column's older writers; allocates
		}
		b = writer.TrimTwosComplement(b)
		if len(b) == 0 {
			b = d.zeroByte[:] // stays zero: it is only ever read
		}
		if !nd.wide.Fits(b) {
			return d.fail(nd, at, "the decimal's unscaled value 0x%x does not fit the column's precision", b)
		}
	case acUUID:
		b = appendUUID(d.scratch[:0], b)
	}
	d.emitRaw(nd, b)
	return nil
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
