package schema

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/hamba/avro/v2"
)

// AvroEnvelope reads Debezium change events in Avro (the AvroConverter's Envelope
// record: before and after as a union of null and the row record, source, op, ts_ms,
// transaction). It splits an event into its rows, still encoded, for an AvroDecoder
// compiled on RowSchema to decode.
type AvroEnvelope struct {
	row    *avro.RecordSchema
	fields []*avro.Field
	id     int32
}

// NewAvroEnvelope checks that a writer schema is a Debezium envelope: a record with
// before and after fields of the same optional record type, and an op string.
func NewAvroEnvelope(s avro.Schema, id int32) (*AvroEnvelope, error) {
	rec, ok := deref(s).(*avro.RecordSchema)
	if !ok {
		return nil, &AvroSchemaError{SchemaID: id, Msg: "a Debezium envelope is a record, found " + describeAvro(s)}
	}
	e := &AvroEnvelope{fields: rec.Fields(), id: id}
	var hasOp bool
	for _, f := range rec.Fields() {
		switch f.Name() {
		case "before", "after":
			r := optionalRecord(f.Type())
			if r == nil {
				return nil, &AvroSchemaError{SchemaID: id, Msg: fmt.Sprintf("a Debezium envelope's %s must be a union of null and the row record, found %s", f.Name(), describeAvro(f.Type()))}
			}
			if e.row != nil && e.row.Fingerprint() != r.Fingerprint() {
				return nil, &AvroSchemaError{SchemaID: id, Msg: "a Debezium envelope's before and after must be the same record"}
			}
			e.row = r
		case "op":
			p, ok := deref(f.Type()).(*avro.PrimitiveSchema)
			hasOp = ok && p.Type() == avro.String
		}
	}
	if e.row == nil || !hasOp {
		return nil, &AvroSchemaError{SchemaID: id, Msg: "not a Debezium envelope: want before, after (optional records) and op (a string)"}
	}
	return e, nil
}

// optionalRecord returns the record of a [null, record] union.
func optionalRecord(s avro.Schema) *avro.RecordSchema {
	u, ok := deref(s).(*avro.UnionSchema)
	if !ok || len(u.Types()) != 2 || u.Types()[0].Type() != avro.Null {
		return nil
	}
	r, _ := deref(u.Types()[1]).(*avro.RecordSchema)
	return r
}

// RowSchema is the row record: what the table's columns come from.
func (e *AvroEnvelope) RowSchema() *avro.RecordSchema { return e.row }

// Split reads one event (the payload after the Confluent header) into c; Before and
// After alias payload.
func (e *AvroEnvelope) Split(payload []byte, c *Change) error {
	*c = Change{}
	r := avroReader{data: payload, id: e.id}
	var op string
	var ts int64
	var hasTS bool
	for _, f := range e.fields {
		start := r.pos
		switch f.Name() {
		case "before", "after":
			branch, err := r.long()
			if err != nil {
				return r.fail(f.Name(), err)
			}
			if branch == 0 {
				continue
			}
			if branch != 1 {
				return r.fail(f.Name(), fmt.Errorf("union branch %d", branch))
			}
			start = r.pos
			if err := r.skip(e.row); err != nil {
				return r.fail(f.Name(), err)
			}
			if f.Name() == "before" {
				c.Before = payload[start:r.pos]
			} else {
				c.After = payload[start:r.pos]
			}
		case "op":
			b, err := r.bytes()
			if err != nil {
				return r.fail("op", err)
			}
			op = string(b)
		case "ts_ms":
			v, ok, err := r.optionalLong(f.Type())
			if err != nil {
				return r.fail("ts_ms", err)
			}
			ts, hasTS = v, ok
		case "source":
			if err := r.source(f.Type(), c); err != nil {
				return r.fail("source", err)
			}
		default:
			if err := r.skip(f.Type()); err != nil {
				return r.fail(f.Name(), err)
			}
		}
	}
	if r.pos != len(payload) {
		return &AvroError{SchemaID: e.id, Offset: r.pos, Msg: fmt.Sprintf("%d bytes left after the envelope", len(payload)-r.pos)}
	}
	if len(op) != 1 || !opValid(op[0]) {
		return &AvroError{SchemaID: e.id, Msg: fmt.Sprintf("op: want one of c, u, d, r, t, found %q", op)}
	}
	c.Op = op[0]
	if !c.HasTs && hasTS {
		c.TsMs, c.HasTs = ts, true
	}
	return c.checkRows()
}

// avroReader walks Avro binary data by schema.
type avroReader struct {
	data []byte
	pos  int
	id   int32
}

func (r *avroReader) fail(field string, err error) error {
	return &AvroError{SchemaID: r.id, Offset: r.pos, Msg: "envelope field " + field + ": " + err.Error()}
}

var errAvroShort = fmt.Errorf("truncated data")

func (r *avroReader) long() (int64, error) {
	u, n := binary.Uvarint(r.data[r.pos:])
	if n <= 0 {
		return 0, errAvroShort
	}
	r.pos += n
	return int64(u>>1) ^ -int64(u&1), nil
}

func (r *avroReader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || int64(len(r.data)-r.pos) < n {
		return nil, errAvroShort
	}
	b := r.data[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

func (r *avroReader) advance(n int) error {
	if len(r.data)-r.pos < n {
		return errAvroShort
	}
	r.pos += n
	return nil
}

// skip steps over one value of schema s.
func (r *avroReader) skip(s avro.Schema) error {
	switch x := deref(s).(type) {
	case *avro.RecordSchema:
		for _, f := range x.Fields() {
			if err := r.skip(f.Type()); err != nil {
				return err
			}
		}
		return nil
	case *avro.UnionSchema:
		b, err := r.long()
		if err != nil {
			return err
		}
		if b < 0 || int(b) >= len(x.Types()) {
			return fmt.Errorf("union branch %d of %d", b, len(x.Types()))
		}
		return r.skip(x.Types()[b])
	case *avro.ArraySchema:
		return r.blocks(func() error { return r.skip(x.Items()) })
	case *avro.MapSchema:
		return r.blocks(func() error {
			if _, err := r.bytes(); err != nil {
				return err
			}
			return r.skip(x.Values())
		})
	case *avro.NullSchema:
		return nil
	case *avro.EnumSchema:
		_, err := r.long()
		return err
	case *avro.FixedSchema:
		return r.advance(x.Size())
	case *avro.PrimitiveSchema:
		switch x.Type() {
		case avro.Null:
			return nil
		case avro.Boolean:
			return r.advance(1)
		case avro.Int, avro.Long:
			_, err := r.long()
			return err
		case avro.Float:
			return r.advance(4)
		case avro.Double:
			return r.advance(8)
		case avro.String, avro.Bytes:
			_, err := r.bytes()
			return err
		}
	}
	return fmt.Errorf("cannot read a value of %s", describeAvro(s))
}

// blocks reads an array's or map's blocks, calling item for each item.
func (r *avroReader) blocks(item func() error) error {
	for {
		n, err := r.long()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n < 0 {
			n = -n
			if _, err := r.long(); err != nil { // the block's size in bytes
				return err
			}
		}
		for ; n > 0; n-- {
			if err := item(); err != nil {
				return err
			}
		}
	}
}

// optionalLong reads a long or a [null, long] union.
func (r *avroReader) optionalLong(s avro.Schema) (int64, bool, error) {
	if u, ok := deref(s).(*avro.UnionSchema); ok {
		b, err := r.long()
		if err != nil {
			return 0, false, err
		}
		if b < 0 || int(b) >= len(u.Types()) {
			return 0, false, fmt.Errorf("union branch %d", b)
		}
		if u.Types()[b].Type() != avro.Long && u.Types()[b].Type() != avro.Int {
			return 0, false, r.skip(u.Types()[b])
		}
	} else if s.Type() != avro.Long && s.Type() != avro.Int {
		return 0, false, r.skip(s)
	}
	v, err := r.long()
	return v, err == nil, err
}

// source reads the source block's commit time and log position (see parseSource).
func (r *avroReader) source(s avro.Schema, c *Change) error {
	rec, ok := deref(s).(*avro.RecordSchema)
	if !ok {
		return r.skip(s)
	}
	var file, pos, row string
	rank := 0
	for _, f := range rec.Fields() {
		t := deref(f.Type())
		if u, ok := t.(*avro.UnionSchema); ok {
			b, err := r.long()
			if err != nil {
				return err
			}
			if b < 0 || int(b) >= len(u.Types()) {
				return fmt.Errorf("%s: union branch %d", f.Name(), b)
			}
			t = deref(u.Types()[b])
		}
		var text string
		switch t.Type() {
		case avro.Long, avro.Int:
			v, err := r.long()
			if err != nil {
				return err
			}
			text = strconv.FormatInt(v, 10)
			if f.Name() == "ts_ms" {
				c.TsMs, c.HasTs = v, true
			}
		case avro.String:
			b, err := r.bytes()
			if err != nil {
				return err
			}
			text = string(b)
		default:
			if err := r.skip(t); err != nil {
				return err
			}
			continue
		}
		switch f.Name() {
		case "file":
			file = text
		case "pos":
			pos = text
		case "row":
			row = text
		}
		if n := positionRank(f.Name()); n > rank {
			rank, c.Position = n, text
		}
	}
	if rank == 0 && file != "" && pos != "" {
		c.Position = binlogPosition(file, pos, row)
	}
	return nil
}
