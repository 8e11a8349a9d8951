package schema

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicelake/sluice/writer"
)

// ProtoDecoder decodes Protobuf binary messages of one message type into the current
// row of a writer.Buffer, through a plan compiled once by NewProtoDecoder. Decode
// allocates nothing once the Buffer's memory has grown, except for Struct, Value and
// ListValue fields (rendered as JSON through protojson). It is not safe for concurrent
// use.
//
// Protobuf lets a message's fields come in any order and any number of times: a scalar
// field set twice keeps the last value, a message field set twice merges, the elements
// of a repeated field may be spread over the message and come packed or not, and the
// member of a oneof set last wins. The decoder follows all of it: a repeated or message
// field is gathered from the rest of the message when it is first met.
type ProtoDecoder struct {
	id       int32
	buf      *writer.Buffer
	root     *protoMsg
	nest     *writer.Nest
	unmapped []string

	payload []byte // the message being decoded
	top     [1][]byte
	scratch [24]byte // a uint64's unscaled decimal, an enum number's digits
	json    []byte
}

// protoVal is one occurrence of a field on the wire.
type protoVal struct {
	typ protowire.Type
	u   uint64 // varint, fixed32, fixed64
	b   []byte // length-delimited
	at  int    // where its tag starts in the message
}

// NewProtoDecoder compiles the plan that decodes messages of type md into the given
// columns of buf; columns not listed (Kafka metadata, derived columns) are left to the
// caller. Fields match columns by name at every depth (a oneof by its own name, its
// members inside its struct):
//   - a declared field with no column is skipped (see ProtoOptions);
//   - a column with no field is null, and must be nullable;
//   - a value converts to its mapped type (see ProtoTableSchema), or widens: a 32-bit
//     integer to long, any integer to float or double, float to double, a uint64 to
//     long when it fits (per message); string and bytes convert to each other, a string
//     checked for UTF-8.
//
// Anything else is a *ProtoSchemaError naming the field and both types. schemaID only
// labels errors.
func NewProtoDecoder(md protoreflect.MessageDescriptor, schemaID int32, buf *writer.Buffer, columns []*writer.Column, opts ProtoOptions) (*ProtoDecoder, error) {
	if opts.UnknownFields == "" {
		opts.UnknownFields = UnknownIgnore
	}
	switch opts.UnknownFields {
	case UnknownIgnore, UnknownFail:
	default:
		return nil, fmt.Errorf("protobuf: unknown_fields %q: want ignore or fail", opts.UnknownFields)
	}
	targets := make([]protoTarget, len(columns))
	for i, col := range columns {
		targets[i] = protoTarget{col: col.Index, slot: -1, t: col.Type, nullable: col.Nullable, name: col.Name}
	}
	c := protoCompiler{opts: opts}
	root, err := c.message(md, "", targets)
	if err != nil {
		if e, ok := err.(*ProtoSchemaError); ok {
			e.SchemaID = schemaID
		}
		return nil, err
	}
	return &ProtoDecoder{id: schemaID, buf: buf, root: root, unmapped: c.unmapped}, nil
}

// SchemaID is the writer schema id the decoder was built for.
func (d *ProtoDecoder) SchemaID() int32 { return d.id }

// Unmapped lists the declared fields (dotted paths) the table has no column or struct
// field for, which Decode skips.
func (d *ProtoDecoder) Unmapped() []string { return d.unmapped }

// Decode decodes one Protobuf message (the payload after the Confluent header and the
// message indexes) into the current row. It never finishes the row: the caller sets its
// own columns and calls EndRow, or AbortRow when Decode fails, which it does with a
// *ProtoError.
func (d *ProtoDecoder) Decode(msg []byte) error {
	d.payload = msg
	d.top[0] = msg
	defer func() { d.payload, d.top[0] = nil, nil }() // do not keep the message alive
	return d.message(d.root, d.top[:], "")
}

func (d *ProtoDecoder) fail(path string, at int, format string, args ...any) error {
	return &ProtoError{SchemaID: d.id, Field: path, Offset: at, Msg: fmt.Sprintf(format, args...)}
}

// offset is where b, a subslice of the message, starts in it.
func (d *ProtoDecoder) offset(b []byte) int { return cap(d.payload) - cap(b) }

// next reads the field that starts at span[pos:]; a group is skipped whole.
func (d *ProtoDecoder) next(span []byte, pos int, path string) (protowire.Number, protoVal, int, error) {
	num, typ, n := protowire.ConsumeTag(span[pos:])
	if n < 0 {
		return 0, protoVal{}, 0, d.fail(path, d.offset(span[pos:]), "malformed field tag: %v", protowire.ParseError(n))
	}
	if num > protowire.MaxValidNumber {
		return 0, protoVal{}, 0, d.fail(path, d.offset(span[pos:]), "malformed field tag: field number %d is beyond the largest valid one", num)
	}
	v := protoVal{typ: typ, at: d.offset(span[pos:])}
	pos += n
	switch typ {
	case protowire.VarintType:
		v.u, n = protowire.ConsumeVarint(span[pos:])
	case protowire.Fixed32Type:
		var u uint32
		u, n = protowire.ConsumeFixed32(span[pos:])
		v.u = uint64(u)
	case protowire.Fixed64Type:
		v.u, n = protowire.ConsumeFixed64(span[pos:])
	case protowire.BytesType:
		v.b, n = protowire.ConsumeBytes(span[pos:])
	case protowire.StartGroupType:
		_, n = protowire.ConsumeGroup(num, span[pos:])
	default:
		return 0, protoVal{}, 0, d.fail(path, v.at, "field %d: unexpected wire type %d", num, typ)
	}
	if n < 0 {
		return 0, protoVal{}, 0, d.fail(path, v.at, "field %d: malformed value: %v", num, protowire.ParseError(n))
	}
	return num, v, pos + n, nil
}

// message decodes a message given as its occurrences (spans, merged in order) into the
// targets of m's fields.
func (d *ProtoDecoder) message(m *protoMsg, spans [][]byte, path string) error {
	clear(m.seen)
	clear(m.oneDone)
	for si, span := range spans {
		for pos := 0; pos < len(span); {
			start := pos
			num, v, next, err := d.next(span, pos, path)
			if err != nil {
				return err
			}
			pos = next
			f, i := m.field(num)
			if f == nil {
				continue
			}
			switch {
			case f.oneof >= 0:
				if !m.oneDone[f.oneof] {
					m.oneDone[f.oneof] = true
					if err := d.oneof(m, f.oneof, spans, si, start, path); err != nil {
						return err
					}
				}
			case f.skip:
			case f.card == cardSingle && !f.val.message:
				m.seen[i] = true
				if err := d.scalar(f.val, v); err != nil {
					return err
				}
			case !m.seen[i]:
				m.seen[i] = true
				vals, err := d.gather(f, spans, si, start, path)
				if err != nil {
					return err
				}
				if f.card == cardSingle {
					err = d.messageValue(f.val, vals)
				} else {
					err = d.repeated(f, vals)
				}
				if err != nil {
					return err
				}
			}
		}
	}
	for i, f := range m.fields {
		if m.seen[i] || f.skip || f.oneof >= 0 {
			continue
		}
		switch f.card {
		case cardList:
			d.at(f.col, f.slot)
			d.nest.BeginList()
			d.nest.EndList()
		case cardMap:
			d.at(f.col, f.slot)
			d.nest.BeginMap()
			d.nest.EndMap()
		default:
			if f.implicit {
				if err := d.scalar(f.val, protoVal{typ: f.val.wire, b: d.scratch[:0]}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// gather collects the occurrences of f from spans[si][pos:] on, in order.
func (d *ProtoDecoder) gather(f *protoField, spans [][]byte, si, pos int, path string) ([]protoVal, error) {
	out := f.vals[:0]
	for ; si < len(spans); si, pos = si+1, 0 {
		span := spans[si]
		for pos < len(span) {
			num, v, next, err := d.next(span, pos, path)
			if err != nil {
				return nil, err
			}
			pos = next
			if num == f.num {
				out = append(out, v)
			}
		}
	}
	f.vals = out
	return out, nil
}

// oneof finds the member of a oneof set last, from spans[si][pos:] on (the first
// member's occurrence), and decodes it into the oneof's struct.
func (d *ProtoDecoder) oneof(m *protoMsg, oi int, spans [][]byte, si, pos int, path string) error {
	o := m.oneofs[oi]
	win := -1
	vals := o.vals[:0]
	for ; si < len(spans); si, pos = si+1, 0 {
		span := spans[si]
		for pos < len(span) {
			num, v, next, err := d.next(span, pos, path)
			if err != nil {
				return err
			}
			pos = next
			f, i := m.field(num)
			if f == nil || f.oneof != oi {
				continue
			}
			if !f.skip && v.typ != f.val.wire {
				return d.wrongWire(f.val, v, f.val.wire) // even in a member a later one replaces
			}
			if i != win {
				win, vals = i, vals[:0]
			}
			vals = append(vals, v)
		}
	}
	o.vals = vals
	d.at(o.col, o.slot)
	d.nest.BeginStruct()
	var err error
	if f := m.fields[win]; !f.skip {
		if f.val.message {
			err = d.messageValue(f.val, vals)
		} else {
			err = d.scalar(f.val, vals[len(vals)-1])
		}
	}
	d.nest.EndStruct()
	return err
}

// at selects where the next nested value goes: a top-level column's builder, or a
// struct field of the open struct.
func (d *ProtoDecoder) at(col, slot int) {
	if col >= 0 {
		d.nest = d.buf.Nested(col)
	} else if slot >= 0 {
		d.nest.Field(slot)
	}
}

// repeated decodes a list or map field from its occurrences.
func (d *ProtoDecoder) repeated(f *protoField, vals []protoVal) error {
	d.at(f.col, f.slot)
	if f.card == cardMap {
		// A key set again replaces its value: only each key's last entry is kept,
		// so the table's map never holds a key twice.
		keys := f.keys[:0]
		for _, v := range vals {
			if v.typ != protowire.BytesType {
				return d.wrongWire(f.val, v, protowire.BytesType)
			}
			k, err := d.mapKey(f, v.b)
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		f.keys = keys
		d.nest.BeginMap()
		for i, v := range vals {
			if f.keyRepeats(i) {
				continue
			}
			if err := d.mapEntry(f, v.b); err != nil {
				return err
			}
		}
		d.nest.EndMap()
		return nil
	}
	d.nest.BeginList()
	e := f.val
	for _, v := range vals {
		var err error
		switch {
		case e.message:
			if v.typ != protowire.BytesType {
				return d.wrongWire(e, v, protowire.BytesType)
			}
			e.spans = append(e.spans[:0], v.b)
			err = d.messageSpans(e, e.spans)
		case v.typ == protowire.BytesType && e.wire != protowire.BytesType:
			err = d.packed(e, v)
		default:
			err = d.scalar(e, v)
		}
		if err != nil {
			return err
		}
	}
	d.nest.EndList()
	return nil
}

// packed decodes the elements of a packed repeated scalar.
func (d *ProtoDecoder) packed(e *protoNode, v protoVal) error {
	for b := v.b; len(b) > 0; {
		el := protoVal{typ: e.wire, at: d.offset(b)}
		var n int
		switch e.wire {
		case protowire.VarintType:
			el.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var u uint32
			u, n = protowire.ConsumeFixed32(b)
			el.u = uint64(u)
		default:
			el.u, n = protowire.ConsumeFixed64(b)
		}
		if n < 0 {
			return d.fail(e.path, el.at, "malformed packed element: %v", protowire.ParseError(n))
		}
		if err := d.scalar(e, el); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// mapKey returns an entry's key, normalized so that equal keys compare equal whatever
// their encoding.
func (d *ProtoDecoder) mapKey(f *protoField, entry []byte) (protoVal, error) {
	key := protoVal{typ: f.key.wire}
	for pos := 0; pos < len(entry); {
		num, v, next, err := d.next(entry, pos, f.path)
		if err != nil {
			return protoVal{}, err
		}
		pos = next
		if num == 1 {
			if v.typ != f.key.wire {
				return protoVal{}, d.wrongWire(f.key, v, f.key.wire)
			}
			key = v
		}
	}
	switch f.key.kind {
	case protoreflect.BoolKind:
		key.u = min(key.u, 1)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind:
		key.u &= math.MaxUint32
	}
	return key, nil
}

// keyRepeats reports whether a later entry of the map has entry i's key.
func (f *protoField) keyRepeats(i int) bool {
	k := f.keys[i]
	if len(f.keys) > 64 {
		if f.lastKey == nil {
			f.lastKey = map[string]int{}
		}
		if i == 0 {
			clear(f.lastKey)
			for j, k := range f.keys {
				f.lastKey[keyString(k)] = j
			}
		}
		return f.lastKey[keyString(k)] != i
	}
	for _, l := range f.keys[i+1:] {
		if l.u == k.u && l.typ == k.typ && bytes.Equal(l.b, k.b) {
			return true
		}
	}
	return false
}

func keyString(k protoVal) string {
	if k.typ == protowire.BytesType {
		return string(k.b)
	}
	return strconv.FormatUint(k.u, 16) + "/" + strconv.Itoa(int(k.typ))
}

// mapEntry decodes one map entry: key 1 and value 2, each its zero value when absent.
func (d *ProtoDecoder) mapEntry(f *protoField, entry []byte) error {
	key := protoVal{typ: f.key.wire, b: d.scratch[:0], at: d.offset(entry)}
	val := protoVal{typ: f.val.wire, b: d.scratch[:0], at: key.at}
	spans := f.val.spans[:0]
	for pos := 0; pos < len(entry); {
		num, v, next, err := d.next(entry, pos, f.path)
		if err != nil {
			return err
		}
		pos = next
		switch num {
		case 1:
			key = v
		case 2:
			if v.typ != f.val.wire {
				return d.wrongWire(f.val, v, f.val.wire)
			}
			if f.val.message {
				spans = append(spans, v.b)
			}
			val = v
		}
	}
	f.val.spans = spans
	if err := d.scalar(f.key, key); err != nil {
		return err
	}
	if f.val.message {
		return d.messageSpans(f.val, spans)
	}
	return d.scalar(f.val, val)
}

func (d *ProtoDecoder) wrongWire(n *protoNode, v protoVal, want protowire.Type) error {
	return d.fail(n.path, v.at, "wire type %s, but the field is declared %s (written with another schema?)", wireName(v.typ), wireName(want))
}

func wireName(t protowire.Type) string {
	switch t {
	case protowire.VarintType:
		return "varint"
	case protowire.Fixed32Type:
		return "fixed32"
	case protowire.Fixed64Type:
		return "fixed64"
	case protowire.BytesType:
		return "length-delimited"
	case protowire.StartGroupType:
		return "group"
	}
	return strconv.Itoa(int(t))
}

// messageValue decodes a message-typed field from its occurrences, merged.
func (d *ProtoDecoder) messageValue(n *protoNode, vals []protoVal) error {
	spans := n.spans[:0]
	for _, v := range vals {
		if v.typ != protowire.BytesType {
			return d.wrongWire(n, v, protowire.BytesType)
		}
		spans = append(spans, v.b)
	}
	n.spans = spans
	return d.messageSpans(n, spans)
}

// messageSpans decodes one message value given as its occurrences.
func (d *ProtoDecoder) messageSpans(n *protoNode, spans [][]byte) error {
	switch n.conv {
	case pcStruct:
		d.at(n.col, n.slot)
		d.nest.BeginStruct()
		err := d.message(n.msg, spans, n.path)
		d.nest.EndStruct()
		return err
	case pcWrapper:
		v := protoVal{typ: n.inner.wire, b: d.scratch[:0]}
		if len(spans) > 0 {
			v.at = d.offset(spans[0])
		}
		var bad error
		if err := d.lastFields(n, spans, func(num protowire.Number, f protoVal) {
			if num != 1 {
				return
			}
			if f.typ != n.inner.wire && bad == nil {
				bad = d.wrongWire(n.inner, f, n.inner.wire)
			}
			v = f
		}); err != nil {
			return err
		}
		if bad != nil {
			return bad
		}
		return d.scalar(n.inner, v)
	case pcJSON:
		d.json = d.json[:0]
		for _, s := range spans {
			d.json = append(d.json, s...)
		}
		proto.Reset(n.json)
		at := 0
		if len(spans) > 0 {
			at = d.offset(spans[0])
		}
		if err := proto.Unmarshal(d.json, n.json); err != nil {
			return d.fail(n.path, at, "%v", err)
		}
		text, err := protojson.Marshal(n.json)
		if err != nil {
			return d.fail(n.path, at, "%v", err)
		}
		var compact bytes.Buffer // protojson spaces its output at random; a table wants one form
		if err := json.Compact(&compact, text); err != nil {
			return d.fail(n.path, at, "%v", err)
		}
		d.emitBytes(n, compact.Bytes())
		return nil
	}
	// Timestamp, Duration, Date: a few varint fields, the last occurrence of each.
	var f [4]int64
	var bad error
	if err := d.lastFields(n, spans, func(num protowire.Number, v protoVal) {
		if num < 1 || num > 3 {
			return
		}
		if v.typ != protowire.VarintType && bad == nil {
			bad = d.wrongWire(n, v, protowire.VarintType)
		}
		f[num] = int64(v.u)
	}); err != nil {
		return err
	}
	if bad != nil {
		return bad
	}
	at := 0
	if len(spans) > 0 {
		at = d.offset(spans[0])
	}
	switch n.conv {
	case pcTimestamp, pcDuration:
		sec, nanos := f[1], int64(int32(f[2]))
		if sec > math.MaxInt64/1_000_000-1 || sec < math.MinInt64/1_000_000+1 {
			return d.fail(n.path, at, "%d seconds is out of range for microseconds", sec)
		}
		var us int64
		if n.conv == pcTimestamp {
			us = sec*1_000_000 + writer.FloorDiv(nanos, 1000)
		} else {
			us = sec*1_000_000 + nanos/1000
		}
		d.emitInt(n, us)
		return nil
	}
	y, mo, dd := int(int32(f[1])), int(int32(f[2])), int(int32(f[3]))
	t := time.Date(y, time.Month(mo), dd, 0, 0, 0, 0, time.UTC)
	if y < 1 || y > 9999 || mo < 1 || mo > 12 || dd < 1 || t.Day() != dd {
		return d.fail(n.path, at, "google.type.Date %04d-%02d-%02d is not a calendar date (a date without year, month or day cannot be stored)", y, mo, dd)
	}
	days := writer.FloorDiv(t.Unix(), 86_400)
	if n.conv == pcDateMicros {
		days *= 86_400_000_000
	}
	d.emitInt(n, days)
	return nil
}

// lastFields calls fn for every field of the message's occurrences, in order.
func (d *ProtoDecoder) lastFields(n *protoNode, spans [][]byte, fn func(protowire.Number, protoVal)) error {
	for _, span := range spans {
		for pos := 0; pos < len(span); {
			num, v, next, err := d.next(span, pos, n.path)
			if err != nil {
				return err
			}
			pos = next
			fn(num, v)
		}
	}
	return nil
}

// scalar decodes one scalar occurrence into n's target.
func (d *ProtoDecoder) scalar(n *protoNode, v protoVal) error {
	if v.typ != n.wire {
		return d.wrongWire(n, v, n.wire)
	}
	var i int64
	switch n.kind {
	case protoreflect.BoolKind:
		d.emitBool(n, v.u != 0)
		return nil
	case protoreflect.FloatKind:
		d.emitFloat(n, float64(math.Float32frombits(uint32(v.u))))
		return nil
	case protoreflect.DoubleKind:
		d.emitFloat(n, math.Float64frombits(v.u))
		return nil
	case protoreflect.StringKind, protoreflect.BytesKind:
		if n.conv == pcString && !utf8.Valid(v.b) {
			return d.fail(n.path, v.at, "the string is not valid UTF-8")
		}
		d.emitBytes(n, v.b)
		return nil
	case protoreflect.EnumKind:
		num := int32(v.u)
		var name []byte
		if num >= 0 && int(num) < len(n.names) {
			name = n.names[num]
		} else {
			name = n.named[num]
		}
		if name == nil { // an open enum's undeclared number
			name = strconv.AppendInt(d.scratch[:0], int64(num), 10)
		}
		d.emitBytes(n, name)
		return nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		switch n.conv {
		case pcUintWide:
			b := append(d.scratch[:0], 0)
			d.emitBytes(n, binary.BigEndian.AppendUint64(b, v.u))
			return nil
		case pcIntFloat:
			d.emitFloat(n, float64(v.u))
			return nil
		}
		if v.u > math.MaxInt64 {
			return d.fail(n.path, v.at, "%d does not fit the long column", v.u)
		}
		i = int64(v.u)
	case protoreflect.Int32Kind:
		i = int64(int32(v.u))
	case protoreflect.Sint32Kind:
		i = int64(int32(protowire.DecodeZigZag(v.u & math.MaxUint32)))
	case protoreflect.Sint64Kind:
		i = protowire.DecodeZigZag(v.u)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		i = int64(uint32(v.u))
	case protoreflect.Sfixed32Kind:
		i = int64(int32(uint32(v.u)))
	default: // int64, sfixed64
		i = int64(v.u)
	}
	if n.conv == pcIntFloat {
		d.emitFloat(n, float64(i))
		return nil
	}
	d.emitInt(n, i)
	return nil
}

func (d *ProtoDecoder) emitInt(n *protoNode, v int64) {
	if n.col >= 0 {
		d.buf.SetInt(n.col, v)
		return
	}
	if n.slot >= 0 {
		d.nest.Field(n.slot)
	}
	d.nest.Int(v)
}

func (d *ProtoDecoder) emitFloat(n *protoNode, v float64) {
	if n.col >= 0 {
		d.buf.SetFloat(n.col, v)
		return
	}
	if n.slot >= 0 {
		d.nest.Field(n.slot)
	}
	d.nest.Float(v)
}

func (d *ProtoDecoder) emitBool(n *protoNode, v bool) {
	if n.col >= 0 {
		d.buf.SetBool(n.col, v)
		return
	}
	if n.slot >= 0 {
		d.nest.Field(n.slot)
	}
	d.nest.Bool(v)
}

func (d *ProtoDecoder) emitBytes(n *protoNode, v []byte) {
	if n.col >= 0 {
		d.buf.SetBytes(n.col, v)
		return
	}
	if n.slot >= 0 {
		d.nest.Field(n.slot)
	}
	d.nest.Bytes(v)
}
