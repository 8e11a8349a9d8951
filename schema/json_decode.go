package schema

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// JSONDecoder decodes JSON objects into the current row of a writer.Buffer. The plan
// (field names → columns and struct fields, conversions) is built once per table
// schema; Decode allocates nothing.
//
// Coercions, by column type:
//
//	long, integer, short, byte   whole numbers in range
//	float, double                numbers
//	boolean                      true, false
//	string                       strings; any other JSON value as its JSON text
//	binary                       base64 strings
//	date                         "YYYY-MM-DD", an ISO-8601 timestamp (its UTC date), a day number
//	timestamp, timestamp_ntz     ISO-8601 / RFC 3339 strings (no zone: UTC), epoch numbers in EpochUnit
//	decimal(p,s)                 numbers or numeric strings that fit exactly
//	struct                       objects (fields by name; missing fields are null)
//	array                        arrays
//	map                          objects (keys converted to the key type)
//	void                         null only: any other value is a *FieldError
type JSONDecoder struct {
	buf       *writer.Buffer
	opts      JSONOptions
	fields    map[string]*jsonField
	sc        scanner
	bin       []byte
	zero      [1]byte // a wide decimal's placeholder while a widening is reported
	newFields []NewField
	widened   []NewField
	path      []string
	msgCol    int // the column that takes the whole message (JSONOptions.MessageColumn), or -1
	// order is the field found at each place of the last message's top level (nil
	// where it was unknown), tried before the map.
	order []*jsonField
}

// maxOrder bounds the places remembered in JSONDecoder.order.
const maxOrder = 1024

// NewJSONDecoder builds a decoder filling the given columns of buf from the top-level
// fields of the same names. Columns not listed (Kafka metadata, derived columns) are
// left to the caller.
func NewJSONDecoder(buf *writer.Buffer, columns []*writer.Column, opts JSONOptions) (*JSONDecoder, error) {
	if opts.UnknownFields == "" {
		opts.UnknownFields = UnknownIgnore
	}
	if opts.EpochUnit == "" {
		opts.EpochUnit = EpochMillis
	}
	switch opts.UnknownFields {
	case UnknownIgnore, UnknownFail, UnknownEvolve:
	default:
		return nil, fmt.Errorf("json: unknown_fields %q: want ignore, fail or evolve", opts.UnknownFields)
	}
	switch opts.EpochUnit {
	case EpochSeconds, EpochMillis, EpochMicros, EpochNanos:
	default:
		return nil, fmt.Errorf("json: epoch unit %q: want s, ms, us or ns", opts.EpochUnit)
	}
	d := &JSONDecoder{buf: buf, opts: opts, fields: make(map[string]*jsonField, len(columns)), msgCol: -1}
	for _, c := range columns {
		if c.Name == opts.MessageColumn {
			if c.Type != table.Variant && c.Type != table.String {
				return nil, fmt.Errorf("json: column %q takes the whole message, so it must be a variant or string column, not %s", c.Name, c.Type)
			}
			d.msgCol = c.Index
			continue
		}
		n, err := planJSON(c.Name, c.Type)
		if err != nil {
			return nil, fmt.Errorf("json: column %q: %w", c.Name, err)
		}
		d.fields[c.Name] = &jsonField{col: c, node: n}
	}
	return d, nil
}

// Decode sets the current row's columns from one JSON object. On error the caller
// aborts the row (writer.Buffer.AbortRow); the error is a *SyntaxError, *FieldError or
// *NewFieldsError.
func (d *JSONDecoder) Decode(msg []byte) error {
	s := &d.sc
	s.reset(msg)
	d.newFields, d.widened = d.newFields[:0], d.widened[:0]
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return d.end()
	}
	for i := 0; ; {
		if s.peek() != '"' {
			return s.errorf("want object key")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		// Messages of one producer list their fields in one order: the field at this
		// place last time is checked first, by name, before the map.
		var f *jsonField
		if i < len(d.order) && d.order[i] != nil && string(key) == d.order[i].col.Name {
			f = d.order[i]
		} else if f = d.fields[string(key)]; f != nil && i < maxOrder {
			for len(d.order) <= i {
				d.order = append(d.order, nil)
			}
			d.order[i] = f
		}
		i++
		if err := s.expect(':'); err != nil {
			return err
		}
		if f == nil {
			var err error
			if d.opts.IgnorePrefix != "" && bytes.HasPrefix(key, []byte(d.opts.IgnorePrefix)) {
				_, err = s.skipValue(0)
			} else {
				err = d.unknown(key, nil)
			}
			if err != nil {
				return err
			}
		} else {
			d.path = append(d.path[:0], f.col.Name)
			var err error
			if f.col.Primitive() {
				err = d.value(target{buf: d.buf, col: f.col.Index}, f.node, f.col.Nullable)
			} else {
				err = d.value(target{nest: d.buf.Nested(f.col.Index)}, f.node, f.col.Nullable)
			}
			if err != nil {
				return err
			}
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return d.end()
		case 0:
			return s.errorf("unexpected end of input in object")
		default:
			return s.errorf("want ',' or '}'")
		}
	}
}

func (d *JSONDecoder) end() error {
	if d.sc.peek() != 0 {
		return d.sc.errorf("data after the JSON object")
	}
	if d.msgCol >= 0 {
		d.buf.SetBytes(d.msgCol, bytes.TrimSpace(d.sc.data))
	}
	if len(d.newFields) > 0 || len(d.widened) > 0 {
		return &NewFieldsError{Fields: slices.Clone(d.newFields), Widened: slices.Clone(d.widened)}
	}
	return nil
}

// widen records that the value at the current path needs its column widened to wider,
// when the options let the table widen it; the caller then writes a placeholder and
// goes on, and Decode returns *NewFieldsError.
func (d *JSONDecoder) widen(n *jsonNode, wider table.DataType) bool {
	if !d.opts.TypeWidening || d.opts.UnknownFields != UnknownEvolve || !evolvable(n.typ, wider) {
		return false
	}
	d.widened = append(d.widened, NewField{Path: slices.Clone(d.path), Type: wider})
	return true
}

// unknown handles a field with no column at path (parent path, then key).
func (d *JSONDecoder) unknown(key []byte, parent []string) error {
	s := &d.sc
	switch d.opts.UnknownFields {
	case UnknownFail:
		path := append(append([]string{}, parent...), string(key))
		return &FieldError{Field: dottedPath(path), Offset: s.pos, Msg: "the table has no such column (unknown_fields: fail)"}
	case UnknownEvolve:
		raw, err := s.skipValue(0)
		if err != nil {
			return err
		}
		if t := inferJSONType(raw); t != nil {
			path := append(append([]string{}, parent...), string(key))
			d.newFields = append(d.newFields, NewField{Path: path, Type: t})
		}
		return nil
	}
	_, err := s.skipValue(0)
	return err
}

func dottedPath(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += "."
		}
		out += s
	}
	return out
}

// target is where a value goes: a top-level primitive column or the next value of a
// nested builder.
type target struct {
	buf  *writer.Buffer
	col  int
	nest *writer.Nest
}

func (t target) null() {
	if t.nest != nil {
		t.nest.Null()
	} else {
		t.buf.SetNull(t.col)
	}
}

func (t target) int(v int64) {
	if t.nest != nil {
		t.nest.Int(v)
	} else {
		t.buf.SetInt(t.col, v)
	}
}

func (t target) float(v float64) {
	if t.nest != nil {
		t.nest.Float(v)
	} else {
		t.buf.SetFloat(t.col, v)
	}
}

func (t target) bool(v bool) {
	if t.nest != nil {
		t.nest.Bool(v)
	} else {
		t.buf.SetBool(t.col, v)
	}
}

func (t target) bytes(v []byte) {
	if t.nest != nil {
		t.nest.Bytes(v)
	} else {
		t.buf.SetBytes(t.col, v)
	}
}

func (d *JSONDecoder) fail(at int, format string, args ...any) error {
	return &FieldError{Field: dottedPath(d.path), Offset: at, Msg: fmt.Sprintf(format, args...)}
}

// value decodes the next JSON value into t according to the plan node n.
func (d *JSONDecoder) value(t target, n *jsonNode, nullable bool) error {
	s := &d.sc
	c := s.peek()
	at := s.pos
	if c == 'n' {
		if err := s.literal("null"); err != nil {
			return err
		}
		if !nullable && n.conv != convVoid {
			return d.fail(at, "null in a non-nullable %s field", n.typ)
		}
		t.null()
		return nil
	}
	switch n.conv {
	case convVoid:
		// Dropping the value would lose it silently: the column holds only null.
		return d.fail(at, "a JSON %s cannot be stored in a void field (it holds only null)", kindOf(c))
	case convVariant:
		// The value's text as it is; a JSON null never gets here (it is the column's
		// SQL NULL, as for every other type).
		raw, err := s.skipValue(len(d.path))
		if err != nil {
			return err
		}
		t.bytes(raw)
	case convInt:
		if !isNumberStart(c) {
			return d.wrongType(n, at)
		}
		num, err := s.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return d.fail(at, "%s is not a whole number in the range of %s", num, n.typ)
		}
		if v < n.lo || v > n.hi {
			if d.widen(n, table.Long) {
				t.int(0)
				return nil
			}
			return d.fail(at, "%d is out of range for %s", v, n.typ)
		}
		t.int(v)
	case convFloat:
		if !isNumberStart(c) {
			return d.wrongType(n, at)
		}
		num, err := s.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return d.fail(at, "%s is out of range for %s", num, n.typ)
		}
		if n.typ == table.Float && math.Abs(v) > math.MaxFloat32 {
			if d.widen(n, table.Double) {
				t.float(0)
				return nil
			}
			return d.fail(at, "%s is out of range for float", num)
		}
		t.float(v)
	case convBool:
		switch c {
		case 't':
			if err := s.literal("true"); err != nil {
				return err
			}
			t.bool(true)
		case 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
			t.bool(false)
		default:
			return d.wrongType(n, at)
		}
	case convString:
		if c == '"' {
			v, err := s.str()
			if err != nil {
				return err
			}
			t.bytes(v)
			return nil
		}
		raw, err := s.skipValue(0) // any other JSON value is kept as its JSON text
		if err != nil {
			return err
		}
		t.bytes(raw)
	case convBinary:
		if c != '"' {
			return d.wrongType(n, at)
		}
		v, err := s.str()
		if err != nil {
			return err
		}
		m := base64.StdEncoding.DecodedLen(len(v))
		if cap(d.bin) < m {
			d.bin = make([]byte, m)
		}
		k, err := base64.StdEncoding.Decode(d.bin[:m], v)
		if err != nil {
			return d.fail(at, "binary values must be base64: %v", err)
		}
		t.bytes(d.bin[:k])
	case convDate:
		days, err := d.date(c, at)
		if err != nil {
			return err
		}
		t.int(days)
	case convTimestamp:
		micros, err := d.timestamp(c, at, n)
		if err != nil {
			return err
		}
		t.int(micros)
	case convDecimal, convBigDecimal:
		dt := n.typ.(*table.DecimalType)
		var num []byte
		var err error
		switch {
		case isNumberStart(c):
			num, err = s.number()
		case c == '"':
			num, err = s.str()
		default:
			return d.wrongType(n, at)
		}
		if err != nil {
			return err
		}
		if n.conv == convBigDecimal {
			b, ok := n.wide.Parse(num)
			if !ok {
				if wider, ok := writer.WiderDecimal(num, dt); ok && d.widen(n, wider) {
					t.bytes(d.zero[:])
					return nil
				}
				return d.fail(at, "%s does not fit %s exactly", num, dt)
			}
			t.bytes(b)
			return nil
		}
		v, ok := writer.ParseDecimal(num, dt.Scale)
		if !ok || v < n.lo || v > n.hi {
			if wider, ok := writer.WiderDecimal(num, dt); ok && d.widen(n, wider) {
				t.int(0)
				return nil
			}
			return d.fail(at, "%s does not fit %s exactly", num, dt)
		}
		t.int(v)
	case convStruct:
		return d.object(t.nest, n)
	case convArray:
		return d.array(t.nest, n)
	case convMap:
		return d.mapEntries(t.nest, n)
	}
	return nil
}

// object decodes a JSON object into a struct value.
func (d *JSONDecoder) object(nest *writer.Nest, n *jsonNode) error {
	s := &d.sc
	at := s.pos
	if s.peek() != '{' {
		return d.wrongType(n, at)
	}
	s.pos++
	nest.BeginStruct()
	st := n.typ.(*table.StructType)
	if s.peek() == '}' {
		s.pos++
		nest.EndStruct()
		return nil
	}
	depth := len(d.path)
	for {
		if s.peek() != '"' {
			return s.errorf("want object key")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		i, ok := n.fields[string(key)]
		if err := s.expect(':'); err != nil {
			return err
		}
		if !ok {
			if err := d.unknown(key, d.path[:depth]); err != nil {
				return err
			}
		} else {
			d.path = append(d.path[:depth], st.Fields[i].Name)
			nest.Field(i)
			if err := d.value(target{nest: nest}, n.kids[i], st.Fields[i].Nullable); err != nil {
				return err
			}
			d.path = d.path[:depth]
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			nest.EndStruct()
			return nil
		default:
			return s.errorf("want ',' or '}'")
		}
	}
}

// array decodes a JSON array into a list value.
func (d *JSONDecoder) array(nest *writer.Nest, n *jsonNode) error {
	s := &d.sc
	at := s.pos
	if s.peek() != '[' {
		return d.wrongType(n, at)
	}
	s.pos++
	nest.BeginList()
	et := n.typ.(*table.ArrayType)
	if s.peek() == ']' {
		s.pos++
		nest.EndList()
		return nil
	}
	depth := len(d.path)
	for {
		d.path = append(d.path[:depth], "element")
		if err := d.value(target{nest: nest}, n.elem, et.ContainsNull); err != nil {
			return err
		}
		d.path = d.path[:depth]
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			nest.EndList()
			return nil
		default:
			return s.errorf("want ',' or ']'")
		}
	}
}

// mapEntries decodes a JSON object into a map value, its keys converted by mapKey.
func (d *JSONDecoder) mapEntries(nest *writer.Nest, n *jsonNode) error {
	s := &d.sc
	at := s.pos
	if s.peek() != '{' {
		return d.wrongType(n, at)
	}
	s.pos++
	nest.BeginMap()
	mt := n.typ.(*table.MapType)
	if s.peek() == '}' {
		s.pos++
		nest.EndMap()
		return nil
	}
	depth := len(d.path)
	for {
		if s.peek() != '"' {
			return s.errorf("want object key")
		}
		kat := s.pos
		key, err := s.str()
		if err != nil {
			return err
		}
		d.path = append(d.path[:depth], "key")
		if err := d.mapKey(nest, n.key, key, kat); err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		d.path = append(d.path[:depth], "value")
		if err := d.value(target{nest: nest}, n.val, mt.ValueContainsNull); err != nil {
			return err
		}
		d.path = d.path[:depth]
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			nest.EndMap()
			return nil
		default:
			return s.errorf("want ',' or '}'")
		}
	}
}

// mapKey converts a JSON object key to the map's key type.
func (d *JSONDecoder) mapKey(nest *writer.Nest, n *jsonNode, key []byte, at int) error {
	switch n.conv {
	case convString:
		nest.Bytes(key)
	case convInt:
		v, err := strconv.ParseInt(string(key), 10, 64)
		if err == nil && (v < n.lo || v > n.hi) && d.widen(n, table.Long) {
			nest.Int(0)
			return nil
		}
		if err != nil || v < n.lo || v > n.hi {
			return d.fail(at, "map key %q is not a %s", key, n.typ)
		}
		nest.Int(v)
	case convBool:
		v, err := strconv.ParseBool(string(key))
		if err != nil {
			return d.fail(at, "map key %q is not a boolean", key)
		}
		nest.Bool(v)
	case convDate:
		days, _, ok := parseDate(key)
		if !ok || len(key) != 10 {
			return d.fail(at, "map key %q is not a date", key)
		}
		nest.Int(days)
	case convTimestamp:
		micros, err := parseISOTime(key)
		if err != nil {
			return d.fail(at, "map key %q is not a timestamp", key)
		}
		nest.Int(micros)
	}
	return nil
}

func (d *JSONDecoder) date(c byte, at int) (int64, error) {
	s := &d.sc
	switch {
	case c == '"':
		v, err := s.str()
		if err != nil {
			return 0, err
		}
		days, n, ok := parseDate(v)
		if !ok {
			return 0, d.fail(at, "%q is not a date (want YYYY-MM-DD)", v)
		}
		if n != len(v) {
			micros, err := parseISOTime(v)
			if err != nil {
				return 0, d.fail(at, "%q is not a date (want YYYY-MM-DD)", v)
			}
			days = writer.FloorDiv(micros, 86_400_000_000)
		}
		return days, nil
	case isNumberStart(c):
		num, err := s.number()
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseInt(string(num), 10, 32)
		if err != nil {
			return 0, d.fail(at, "%s is not a day number", num)
		}
		return v, nil
	}
	return 0, d.fail(at, "a JSON %s cannot be stored in a date field", kindOf(c))
}

func (d *JSONDecoder) timestamp(c byte, at int, n *jsonNode) (int64, error) {
	s := &d.sc
	switch {
	case c == '"':
		v, err := s.str()
		if err != nil {
			return 0, err
		}
		micros, err := parseISOTime(v)
		if err != nil {
			return 0, d.fail(at, "%q is not an ISO-8601 timestamp", v)
		}
		return micros, nil
	case isNumberStart(c):
		num, err := s.number()
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return 0, d.fail(at, "%s is not an integer epoch timestamp", num)
		}
		micros, ok := epochToMicros(v, d.opts.EpochUnit)
		if !ok {
			return 0, d.fail(at, "%s %s since the epoch is out of range", num, d.opts.EpochUnit)
		}
		return micros, nil
	}
	return 0, d.fail(at, "a JSON %s cannot be stored in a %s field", kindOf(c), n.typ)
}

func (d *JSONDecoder) wrongType(n *jsonNode, at int) error {
	return d.fail(at, "a JSON %s cannot be stored in a %s field", kindOf(d.sc.peek()), n.typ)
}

func kindOf(c byte) string {
	switch {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case isNumberStart(c):
		return "number"
	}
	return "value"
}

func epochToMicros(v int64, unit EpochUnit) (int64, bool) {
	switch unit {
	case EpochSeconds:
		if v > math.MaxInt64/1_000_000 || v < math.MinInt64/1_000_000 {
			return 0, false
		}
		return v * 1_000_000, true
	case EpochMillis:
		if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
			return 0, false
		}
		return v * 1000, true
	case EpochNanos:
		return writer.FloorDiv(v, 1000), true
	}
	return v, true
}

// JSONField returns the value of a top-level field of a JSON object: a string's
// decoded text, or any other value's JSON text. found is false when the object has no
// such field. The result is valid until the next call with the same scanner state; it
// may alias msg.
func JSONField(msg []byte, name string) (value []byte, found bool, err error) {
	var s scanner
	s.reset(msg)
	if err := s.expect('{'); err != nil {
		return nil, false, err
	}
	if s.peek() == '}' {
		return nil, false, nil
	}
	for {
		if s.peek() != '"' {
			return nil, false, s.errorf("want object key")
		}
		key, err := s.str()
		if err != nil {
			return nil, false, err
		}
		match := string(key) == name
		if err := s.expect(':'); err != nil {
			return nil, false, err
		}
		if match {
			if s.peek() == '"' {
				v, err := s.str()
				return v, err == nil, err
			}
			v, err := s.skipValue(0)
			return v, err == nil, err
		}
		if _, err := s.skipValue(0); err != nil {
			return nil, false, err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			return nil, false, nil
		default:
			return nil, false, s.errorf("want ',' or '}'")
		}
	}
}
