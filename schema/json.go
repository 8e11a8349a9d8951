package schema

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// UnknownFields says what a JSON decoder does with a field the table has no column for.
type UnknownFields string

// UnknownFields policies.
const (
	UnknownIgnore UnknownFields = "ignore" // skip the field (default)
	UnknownFail   UnknownFields = "fail"   // the message is an error
)

// EpochUnit is the unit of numbers decoded into timestamp columns.
type EpochUnit string

// Epoch units.
const (
	EpochSeconds EpochUnit = "s"
	EpochMillis  EpochUnit = "ms" // default
	EpochMicros  EpochUnit = "us"
	EpochNanos   EpochUnit = "ns"
)

// JSONOptions configure a JSONDecoder.
type JSONOptions struct {
	// UnknownFields defaults to UnknownIgnore.
	UnknownFields UnknownFields
	// EpochUnit is the unit of a number in a timestamp column. Defaults to EpochMillis.
	EpochUnit EpochUnit
}

// FieldError is a value that does not fit its column.
type FieldError struct {
	Field  string
	Offset int // byte position of the value in the message
	Msg    string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("field %q (byte %d): %s", e.Field, e.Offset, e.Msg)
}

// JSONDecoder decodes JSON objects into the current row of a writer.Buffer. The plan
// (field name → column, conversion) is built once; Decode allocates nothing.
type JSONDecoder struct {
	buf    *writer.Buffer
	opts   JSONOptions
	fields map[string]*jsonField
	sc     scanner
	bin    []byte
}

type jsonField struct {
	col  *writer.Column
	conv conv
}

type conv uint8

const (
	convInt conv = iota + 1
	convFloat
	convBool
	convString
	convBinary
	convDate
	convTimestamp
	convDecimal
)

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
	case UnknownIgnore, UnknownFail:
	default:
		return nil, fmt.Errorf("json: unknown_fields %q: want ignore or fail", opts.UnknownFields)
	}
	switch opts.EpochUnit {
	case EpochSeconds, EpochMillis, EpochMicros, EpochNanos:
	default:
		return nil, fmt.Errorf("json: epoch unit %q: want s, ms, us or ns", opts.EpochUnit)
	}
	d := &JSONDecoder{buf: buf, opts: opts, fields: make(map[string]*jsonField, len(columns))}
	for _, c := range columns {
		f := &jsonField{col: c}
		switch t := c.Type.(type) {
		case *table.DecimalType:
			f.conv = convDecimal
		case table.PrimitiveType:
			switch t {
			case table.Long, table.Integer, table.Short, table.Byte:
				f.conv = convInt
			case table.Float, table.Double:
				f.conv = convFloat
			case table.Boolean:
				f.conv = convBool
			case table.String:
				f.conv = convString
			case table.Binary:
				f.conv = convBinary
			case table.Date:
				f.conv = convDate
			case table.Timestamp, table.TimestampNTZ:
				f.conv = convTimestamp
			}
		}
		if f.conv == 0 {
			return nil, fmt.Errorf("json: column %q: type %s cannot be decoded from JSON yet", c.Name, c.Type)
		}
		d.fields[c.Name] = f
	}
	return d, nil
}

// Decode sets the current row's columns from one JSON object. On error the caller
// aborts the row (writer.Buffer.AbortRow); the error is a *SyntaxError or *FieldError.
func (d *JSONDecoder) Decode(msg []byte) error {
	s := &d.sc
	s.reset(msg)
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return d.end()
	}
	for {
		if s.peek() != '"' {
			return s.errorf("want object key")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		f := d.fields[string(key)]
		if f == nil && d.opts.UnknownFields == UnknownFail {
			return &FieldError{Field: string(key), Offset: s.pos, Msg: "the table has no such column (unknown_fields: fail)"}
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if f == nil {
			if _, err := s.skipValue(0); err != nil {
				return err
			}
		} else if err := d.value(f); err != nil {
			return err
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
	return nil
}

func (d *JSONDecoder) value(f *jsonField) error {
	s := &d.sc
	c := s.peek()
	at := s.pos
	fail := func(format string, args ...any) error {
		return &FieldError{Field: f.col.Name, Offset: at, Msg: fmt.Sprintf(format, args...)}
	}
	idx := f.col.Index
	if c == 'n' {
		if err := s.literal("null"); err != nil {
			return err
		}
		if !f.col.Nullable {
			return fail("null in non-nullable column of type %s", f.col.Type)
		}
		d.buf.SetNull(idx)
		return nil
	}
	switch f.conv {
	case convInt:
		if !isNumberStart(c) {
			return d.wrongType(f, at)
		}
		num, err := s.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return fail("%s is not a whole number in the range of %s", num, f.col.Type)
		}
		if lo, hi := f.col.IntRange(); v < lo || v > hi {
			return fail("%d is out of range for %s", v, f.col.Type)
		}
		d.buf.SetInt(idx, v)
	case convFloat:
		if !isNumberStart(c) {
			return d.wrongType(f, at)
		}
		num, err := s.number()
		if err != nil {
			return err
		}
		v, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return fail("%s is out of range for %s", num, f.col.Type)
		}
		if f.col.Type == table.Float && math.Abs(v) > math.MaxFloat32 {
			return fail("%s is out of range for float", num)
		}
		d.buf.SetFloat(idx, v)
	case convBool:
		switch c {
		case 't':
			if err := s.literal("true"); err != nil {
				return err
			}
			d.buf.SetBool(idx, true)
		case 'f':
			if err := s.literal("false"); err != nil {
				return err
			}
			d.buf.SetBool(idx, false)
		default:
			return d.wrongType(f, at)
		}
	case convString:
		if c == '"' {
			v, err := s.str()
			if err != nil {
				return err
			}
			d.buf.SetBytes(idx, v)
			return nil
		}
		// Any other JSON value is kept as its JSON text.
		raw, err := s.skipValue(0)
		if err != nil {
			return err
		}
		d.buf.SetBytes(idx, raw)
	case convBinary:
		if c != '"' {
			return d.wrongType(f, at)
		}
		v, err := s.str()
		if err != nil {
			return err
		}
		n := base64.StdEncoding.DecodedLen(len(v))
		if cap(d.bin) < n {
			d.bin = make([]byte, n)
		}
		m, err := base64.StdEncoding.Decode(d.bin[:n], v)
		if err != nil {
			return fail("binary values must be base64: %v", err)
		}
		d.buf.SetBytes(idx, d.bin[:m])
	case convDate:
		switch {
		case c == '"':
			v, err := s.str()
			if err != nil {
				return err
			}
			days, n, ok := parseDate(v)
			if !ok {
				return fail("%q is not a date (want YYYY-MM-DD)", v)
			}
			if n != len(v) {
				micros, err := parseISOTime(v)
				if err != nil {
					return fail("%q is not a date (want YYYY-MM-DD)", v)
				}
				days = floorDiv(micros, 86_400_000_000)
			}
			d.buf.SetInt(idx, days)
		case isNumberStart(c):
			num, err := s.number()
			if err != nil {
				return err
			}
			v, err := strconv.ParseInt(string(num), 10, 32)
			if err != nil {
				return fail("%s is not a day number", num)
			}
			d.buf.SetInt(idx, v)
		default:
			return d.wrongType(f, at)
		}
	case convTimestamp:
		switch {
		case c == '"':
			v, err := s.str()
			if err != nil {
				return err
			}
			micros, err := parseISOTime(v)
			if err != nil {
				return fail("%q is not an ISO-8601 timestamp", v)
			}
			d.buf.SetInt(idx, micros)
		case isNumberStart(c):
			num, err := s.number()
			if err != nil {
				return err
			}
			v, err := strconv.ParseInt(string(num), 10, 64)
			if err != nil {
				return fail("%s is not an integer epoch timestamp", num)
			}
			micros, ok := epochToMicros(v, d.opts.EpochUnit)
			if !ok {
				return fail("%s %s since the epoch is out of range", num, d.opts.EpochUnit)
			}
			d.buf.SetInt(idx, micros)
		default:
			return d.wrongType(f, at)
		}
	case convDecimal:
		dt := f.col.Type.(*table.DecimalType)
		var num []byte
		var err error
		switch {
		case isNumberStart(c):
			num, err = s.number()
		case c == '"':
			num, err = s.str()
		default:
			return d.wrongType(f, at)
		}
		if err != nil {
			return err
		}
		v, ok := parseDecimal(num, dt.Scale)
		lo, hi := f.col.IntRange()
		if !ok || v < lo || v > hi {
			return fail("%s does not fit %s exactly", num, dt)
		}
		d.buf.SetInt(idx, v)
	}
	return nil
}

func (d *JSONDecoder) wrongType(f *jsonField, at int) error {
	kind := "value"
	switch c := d.sc.peek(); {
	case c == '"':
		kind = "string"
	case c == '{':
		kind = "object"
	case c == '[':
		kind = "array"
	case c == 't' || c == 'f':
		kind = "boolean"
	case isNumberStart(c):
		kind = "number"
	}
	return &FieldError{Field: f.col.Name, Offset: at, Msg: fmt.Sprintf("a JSON %s cannot be stored in a %s column", kind, f.col.Type)}
}

func isNumberStart(c byte) bool { return c == '-' || (c >= '0' && c <= '9') }

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
		return floorDiv(v, 1000), true
	}
	return v, true
}

// parseDecimal parses a plain decimal number (no exponent) into an unscaled integer
// with the given scale; it fails when digits would be lost or the value overflows.
func parseDecimal(b []byte, scale int) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var v int64
	fracDigits := -1
	for _, c := range b {
		switch {
		case c == '.' && fracDigits < 0:
			fracDigits = 0
		case c >= '0' && c <= '9':
			if fracDigits >= 0 {
				if fracDigits == scale {
					if c != '0' {
						return 0, false // would lose digits
					}
					continue
				}
				fracDigits++
			}
			if v > (math.MaxInt64-int64(c-'0'))/10 {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		default:
			return 0, false
		}
	}
	for range scale - max(fracDigits, 0) {
		if v > math.MaxInt64/10 {
			return 0, false
		}
		v *= 10
	}
	if neg {
		v = -v
	}
	return v, true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
