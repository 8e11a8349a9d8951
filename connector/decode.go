package connector

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// needEvolution is returned by a decoder when a message's schema has columns the table
// lacks, makes optional columns the table requires, or (with type widening) needs a
// wider column type; the worker holds the message until the table has evolved.
type needEvolution struct {
	incoming *table.StructType // the message schema (no derived or Kafka columns)
}

func (e *needEvolution) Error() string { return "the message needs a table schema change" }

// msgDecoder turns message values into the current row of one worker's buffer.
type msgDecoder struct {
	dest  *ingestTable
	spec  *schemaSpec
	buf   *writer.Buffer
	cols  []*writer.Column // the columns messages fill
	json  *schema.JSONDecoder
	keys  *keyDecoder // the message key's decoder, for deletes by key (mode upsert)
	avro  map[int32]*schema.AvroDecoder
	proto map[int32]*protoPlans // format protobuf: by writer schema id
	// envelopes are the Debezium Avro envelopes by writer schema id, with the decoders
	// of their row records; cur is the one of the change being decoded.
	envelopes map[int32]*avroEnvelope
	cur       *schema.AvroDecoder
	connect   map[uint64]bool // hashes of JsonConverter schema blocks that fit the table
	seed      maphash.Seed
	known     map[int32]bool  // json_schema ids already checked for evolution
	failed    map[int32]error // schema ids whose plan cannot be built
}

func newMsgDecoder(t *ingestTable, spec *schemaSpec, buf *writer.Buffer) (*msgDecoder, error) {
	d := &msgDecoder{dest: t, spec: spec, buf: buf, avro: map[int32]*schema.AvroDecoder{}, proto: map[int32]*protoPlans{}, known: map[int32]bool{}, failed: map[int32]error{},
		envelopes: map[int32]*avroEnvelope{}, seed: maphash.MakeSeed()}
	for _, c := range buf.Columns() {
		if spec.msg.Field(c.Name) != nil {
			d.cols = append(d.cols, c)
		}
	}
	if t.cfg.Format == FormatJSON || t.cfg.Format == FormatJSONSchema {
		var err error
		opts := schema.JSONOptions{UnknownFields: t.cfg.JSON.UnknownFields, EpochUnit: t.cfg.JSON.EpochUnit,
			TypeWidening: t.cfg.Evolution == EvolutionAddColumns && spec.evolveOptions().TypeWidening, MessageColumn: t.cfg.messageColumn()}
		if t.cfg.Envelope == EnvelopeDebezium {
			opts.IgnorePrefix = "__" // ExtractNewRecordState's fields of a flattened row
		}
		if d.json, err = schema.NewJSONDecoder(buf, d.cols, opts); err != nil {
			return nil, err
		}
	}
	if t.cfg.Mode == ModeUpsert {
		var err error
		if d.keys, err = newKeyDecoder(t, spec, buf); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// decode fills the row from a message value. It returns the stage that failed with
// the error: "decode" for the payload, "schema" for the writer schema.
func (d *msgDecoder) decode(ctx context.Context, value []byte) (string, error) {
	switch d.dest.cfg.Format {
	case FormatJSON:
		err := d.json.Decode(value)
		return "decode", d.jsonEvolution(err)
	case FormatJSONSchema:
		id, payload, err := schema.ParseWire(value)
		if err != nil {
			return "decode", err
		}
		if !d.known[id] {
			if err := d.jsonSchemaChanged(ctx, id); err != nil {
				return "schema", err
			}
		}
		return "decode", d.jsonEvolution(d.json.Decode(payload))
	case FormatProtobuf:
		id, raw, msg, err := splitProto(value)
		if err != nil {
			return "decode", err
		}
		dec, err := d.protoPlan(ctx, id, raw)
		if err != nil {
			return "schema", err
		}
		return "decode", dec.Decode(msg)
	default:
		id, payload, err := schema.ParseWire(value)
		if err != nil {
			return "decode", err
		}
		dec := d.avro[id]
		if dec == nil {
			if dec, err = d.avroPlan(ctx, id); err != nil {
				return "schema", err
			}
		}
		return "decode", dec.Decode(payload)
	}
}

// change splits a message value into a change event: a Debezium envelope's, or for
// envelope none, the message as the row after an upsert.
func (d *msgDecoder) change(ctx context.Context, value []byte, c *schema.Change) (string, error) {
	if d.dest.cfg.Envelope != EnvelopeDebezium {
		*c = schema.Change{Op: schema.OpUpsert, After: value}
		return "", nil
	}
	if d.dest.cfg.Format != FormatAvro {
		if err := schema.ParseDebeziumJSON(value, c); err != nil {
			return "decode", err
		}
		if c.Schema != nil && d.dest.cfg.Evolution == EvolutionAddColumns {
			return "schema", d.connectEvolution(c.Schema)
		}
		return "", nil
	}
	id, payload, err := schema.ParseWire(value)
	if err != nil {
		return "decode", err
	}
	env := d.envelopes[id]
	if env == nil {
		if env, err = d.avroEnvelope(ctx, id); err != nil {
			return "schema", err
		}
	}
	d.cur = env.row
	return "decode", env.env.Split(payload, c)
}

// connectEvolution asks for evolution when a JsonConverter schema block has columns the
// table lacks (or makes required ones optional, or widens them). Blocks already seen
// are known by their hash; most messages of a table repeat one block. A block that
// does not map to columns is logged once and left aside.
func (d *msgDecoder) connectEvolution(block []byte) error {
	h := maphash.Bytes(d.seed, block)
	if d.connect[h] {
		return nil
	}
	if d.connect == nil {
		d.connect = map[uint64]bool{}
	}
	mapped, err := schema.ConnectRowSchema(block)
	if err != nil {
		// The block only drives evolution; the payload still decodes as json says.
		d.connect[h] = true
		d.dest.log.Warn("a message's Connect schema is not used for schema evolution (the payload decodes as the json settings say)", "error", err)
		return nil
	}
	if incoming, changed := schema.Widen(d.spec.msg, mapped, d.spec.evolveOptions()); changed {
		return &needEvolution{incoming: incoming}
	}
	d.connect[h] = true
	return nil
}

// avroEnvelope is a Debezium Avro envelope and its row decoder.
type avroEnvelope struct {
	env *schema.AvroEnvelope
	row *schema.AvroDecoder
}

// avroEnvelope fetches an envelope's writer schema, asks for evolution when its row
// record brings what the table lacks, and compiles the row's decoder.
func (d *msgDecoder) avroEnvelope(ctx context.Context, id int32) (*avroEnvelope, error) {
	as, err := d.writerSchema(ctx, id)
	if err != nil {
		return nil, err
	}
	env, err := schema.NewAvroEnvelope(as, id)
	if err != nil {
		d.failed[id] = err
		return nil, err
	}
	row, err := d.compileAvro(env.RowSchema(), id)
	if err != nil {
		return nil, err
	}
	e := &avroEnvelope{env: env, row: row}
	d.envelopes[id] = e
	return e, nil
}

// writerSchema fetches and parses an Avro writer schema; a schema that does not parse
// is remembered as failed, a registry that does not answer is not.
func (d *msgDecoder) writerSchema(ctx context.Context, id int32) (avro.Schema, error) {
	if err := d.failed[id]; err != nil {
		return nil, err
	}
	s, err := d.dest.conn.schemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	as, err := schema.ParseAvro(s) // not avroSchema: only a parse failure is remembered
	if err != nil {
		d.failed[id] = err
	}
	return as, err
}

// compileAvro asks for evolution when a writer record brings fields the table lacks,
// makes optional (or drops) fields the table requires, or widens a column's type on a
// table that enables type widening, and compiles its decoding plan (which resolves the
// rest: promotions, fields the writer lacks).
func (d *msgDecoder) compileAvro(rec avro.Schema, id int32) (*schema.AvroDecoder, error) {
	if d.dest.cfg.Evolution == EvolutionAddColumns {
		if mapped, err := schema.AvroTableSchema(rec); err == nil {
			if incoming, changed := schema.Widen(d.spec.msg, mapped, d.spec.evolveOptions()); changed {
				return nil, &needEvolution{incoming: incoming}
			}
		}
	}
	dec, err := schema.NewAvroDecoder(rec, id, d.buf, d.cols, schema.AvroOptions{})
	if err != nil {
		err = fmt.Errorf("writer schema %d does not fit the table: %w", id, err)
		d.failed[id] = err
		return nil, err
	}
	if u := dec.Unmapped(); len(u) > 0 {
		d.dest.log.Debug("writer schema fields without a column are ignored", "schema_id", id, "fields", u)
	}
	return dec, nil
}

// row fills the row from one row of a change: the whole message for envelope none,
// else the JSON object of the envelope's before or after.
func (d *msgDecoder) row(ctx context.Context, data []byte) (string, error) {
	switch {
	case d.dest.cfg.Envelope != EnvelopeDebezium:
		return d.decode(ctx, data)
	case d.dest.cfg.Format == FormatAvro:
		return "decode", d.cur.Decode(data)
	}
	return "decode", d.jsonEvolution(d.json.Decode(data))
}

// jsonEvolution turns new JSON fields, and values that need a wider column type, into
// an evolution request.
func (d *msgDecoder) jsonEvolution(err error) error {
	var nf *schema.NewFieldsError
	if !errors.As(err, &nf) {
		return err
	}
	incoming := d.spec.msg.Clone()
	for _, f := range nf.Fields {
		if len(f.Path) == 1 && d.spec.full.Field(f.Path[0]) != nil {
			// A Kafka, change or derived column's name: the message cannot fill it.
			return &schema.FieldError{Field: f.Path[0], Msg: "the message has a field named as a column Sluice fills (Kafka metadata, change or derived column)"}
		}
		addField(incoming, f.Path, f.Type)
	}
	for _, f := range nf.Widened {
		setType(incoming, f.Path, f.Type)
	}
	return &needEvolution{incoming: incoming}
}

// avroPlan fetches a writer schema and compiles its decoding plan (compileAvro).
func (d *msgDecoder) avroPlan(ctx context.Context, id int32) (*schema.AvroDecoder, error) {
	as, err := d.writerSchema(ctx, id)
	if err != nil {
		return nil, err
	}
	dec, err := d.compileAvro(as, id)
	if err != nil {
		return nil, err
	}
	d.avro[id] = dec
	return dec, nil
}

// jsonSchemaChanged checks a JSON Schema id once for fields the table lacks.
func (d *msgDecoder) jsonSchemaChanged(ctx context.Context, id int32) error {
	if err := d.failed[id]; err != nil {
		return err
	}
	s, err := d.dest.conn.schemaByID(ctx, id)
	if err != nil {
		return err
	}
	if d.dest.cfg.Evolution == EvolutionAddColumns {
		mapped, err := schema.JSONSchemaTableSchema(s.Text)
		if err != nil {
			d.failed[id] = err
			return err
		}
		if incoming, changed := schema.Widen(d.spec.msg, mapped, d.spec.evolveOptions()); changed {
			return &needEvolution{incoming: incoming}
		}
	}
	d.known[id] = true
	return nil
}

// schemaByID fetches a writer schema. A schema the registry does not have is the
// message's fault; an unreachable registry is not, so that is retried until it answers
// or the connector stops.
func (c *Connector) schemaByID(ctx context.Context, id int32) (*schema.Schema, error) {
	if c.registry == nil {
		return nil, errors.New("no schema_registry configured")
	}
	delay := 5 * c.retryBase
	for {
		s, err := c.registry.SchemaByID(ctx, id)
		var re *schema.RegistryError
		switch {
		case err == nil:
			return s, nil
		case errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 && re.StatusCode != 429:
			return nil, fmt.Errorf("schema id %d: %w", id, err)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("schema id %d: %w", id, errShutdown)
		}
		c.log.Warn("schema registry unavailable; retrying", "schema_id", id, "error", err, "delay", delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, fmt.Errorf("schema id %d: %w", id, errShutdown)
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// avroSchema fetches an Avro schema from the registry by id and parses it.
func (c *Connector) avroSchema(ctx context.Context, id int32) (avro.Schema, error) {
	s, err := c.schemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	return schema.ParseAvro(s)
}

// setType returns dt with the type at path (the JSON decoder's path: struct field
// names, "element", "key" and "value" inside arrays and maps) set to t, changing dt in
// place; a path dt lacks changes nothing.
func setType(dt table.DataType, path []string, t table.DataType) table.DataType {
	if len(path) == 0 {
		return t
	}
	switch x := dt.(type) {
	case *table.StructType:
		if f := x.Field(path[0]); f != nil {
			f.Type = setType(f.Type, path[1:], t)
		}
	case *table.ArrayType:
		if path[0] == "element" {
			x.ElementType = setType(x.ElementType, path[1:], t)
		}
	case *table.MapType:
		switch path[0] {
		case "key":
			x.KeyType = setType(x.KeyType, path[1:], t)
		case "value":
			x.ValueType = setType(x.ValueType, path[1:], t)
		}
	}
	return dt
}

// addField adds a nullable field at path (the JSON decoder's path: struct field names,
// with "element" after a list and "value" after a map). Parents must exist.
func addField(s *table.StructType, path []string, t table.DataType) {
	for i := 0; i < len(path); i++ {
		name := path[i]
		if i == len(path)-1 {
			if s.Field(name) == nil {
				s.Fields = append(s.Fields, &table.StructField{Name: name, Type: t, Nullable: true})
			}
			return
		}
		f := s.Field(name)
		if f == nil {
			return
		}
		ft := f.Type
		for {
			switch x := ft.(type) {
			case *table.ArrayType:
				if i+1 < len(path) && path[i+1] == "element" {
					i++
				}
				ft = x.ElementType
				continue
			case *table.MapType:
				if i+1 < len(path) && path[i+1] == "value" {
					i++
				}
				ft = x.ValueType
				continue
			}
			break
		}
		st, ok := ft.(*table.StructType)
		if !ok {
			return
		}
		s = st
	}
}
