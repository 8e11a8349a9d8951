package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// keyDecoder reads the key columns of an upsert table from a message key, for a
// tombstone (a key without a value) that deletes its row. The key is a JSON object
// (with or without the JsonConverter's schema/payload wrapper) or an Avro record or
// Protobuf message through the registry whose fields are named as the key columns, or, for a table
// with one key column, the key's bytes as that column's value (a string column) or
// its decimal text (an integer column).
type keyDecoder struct {
	dest  *ingestTable
	spec  *schemaSpec
	buf   *writer.Buffer
	names []string // the key columns, nil until known (see ensure)
	cols  []int    // their buffer indexes
	json  *schema.JSONDecoder
	avro  map[int32]*schema.AvroDecoder
	avroF map[int32]error
	proto map[int32]*protoPlans
}

func newKeyDecoder(t *ingestTable, spec *schemaSpec, buf *writer.Buffer) (*keyDecoder, error) {
	k := &keyDecoder{dest: t, spec: spec, buf: buf, avro: map[int32]*schema.AvroDecoder{}, avroF: map[int32]error{}}
	if names := t.keyNames(); names != nil {
		if err := k.resolve(names); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// resolve sets the key columns.
func (k *keyDecoder) resolve(names []string) error {
	var cols []*writer.Column
	k.cols = k.cols[:0]
	for _, name := range names {
		var col *writer.Column
		for _, c := range k.buf.Columns() {
			if c.Name == name {
				col = c
			}
		}
		if col == nil || k.spec.msg.Field(name) == nil {
			return fmt.Errorf("key column %q is not a column the messages fill", name)
		}
		if !writer.KeyType(col.Type) {
			return keyTypeError(name, col.Type)
		}
		k.cols = append(k.cols, col.Index)
		cols = append(cols, col)
	}
	var err error
	k.json, err = schema.NewJSONDecoder(k.buf, cols, schema.JSONOptions{UnknownFields: schema.UnknownIgnore, EpochUnit: k.dest.cfg.JSON.EpochUnit})
	if err == nil {
		k.names = names
	}
	return err
}

// ensure knows the key columns: the configured ones, or (without key: in the
// configuration) the fields of the first message key this table sees: a JSON object's,
// or an Avro record's through the registry. The first worker to learn them sets them
// for the table; every other follows.
func (k *keyDecoder) ensure(ctx context.Context, kafkaKey []byte) error {
	if k.names != nil {
		return nil
	}
	names := k.dest.keyNames()
	if names == nil {
		var err error
		if names, err = k.namesFrom(ctx, kafkaKey); err != nil {
			return fmt.Errorf("key columns from the message key (the table has no key: in the configuration): %w", err)
		}
		names = k.dest.setKeyNames(names)
	}
	return k.resolve(names)
}

// namesFrom returns the field names of a message key.
func (k *keyDecoder) namesFrom(ctx context.Context, key []byte) ([]string, error) {
	trimmed := bytes.TrimSpace(key)
	switch {
	case len(trimmed) == 0:
		return nil, errors.New("the message has no key")
	case key[0] == 0 && len(key) >= 5 && k.protobufKeys():
		id, raw, _, err := splitProto(key)
		if err != nil {
			return nil, err
		}
		fd, err := k.dest.conn.protoFile(ctx, id)
		if err != nil {
			return nil, err
		}
		md, err := schema.ProtoMessage(fd, schema.ProtoIndexes(raw))
		if err != nil {
			return nil, fmt.Errorf("key schema %d: %w", id, err)
		}
		ts, err := schema.ProtoTableSchema(md)
		if err != nil {
			return nil, fmt.Errorf("key schema %d: %w", id, err)
		}
		return fieldNames(ts), nil
	case key[0] == 0 && len(key) >= 5 && k.dest.cfg.Format == FormatAvro:
		id, _, err := schema.ParseWire(key)
		if err != nil {
			return nil, err
		}
		as, err := k.dest.conn.avroSchema(ctx, id)
		if err != nil {
			return nil, err
		}
		ts, err := schema.AvroTableSchema(as)
		if err != nil {
			return nil, fmt.Errorf("key schema %d: %w", id, err)
		}
		return fieldNames(ts), nil
	case trimmed[0] == '{':
		names, err := schema.JSONFieldNames(trimmed)
		if err == nil && len(names) == 0 {
			err = errors.New("the key is an empty object")
		}
		return names, err
	}
	return nil, fmt.Errorf("key %q is not a JSON object, an Avro record or a Protobuf message: set key: [columns]", key)
}

func fieldNames(st *table.StructType) []string {
	names := make([]string, len(st.Fields))
	for i, f := range st.Fields {
		names[i] = f.Name
	}
	return names
}

// rowKey appends the key of the row being built.
func (k *keyDecoder) rowKey(dst []byte) ([]byte, error) {
	dst, nulls, err := k.buf.AppendKey(dst, k.cols)
	if err == nil && nulls {
		err = errNullKey(k.names)
	}
	return dst, err
}

// keyTypeError refuses a key column of a type keys cannot have.
func keyTypeError(name string, t table.DataType) error {
	return fmt.Errorf("key column %q has type %s; keys are integers, strings, binary, dates, timestamps or booleans", name, t)
}

func errNullKey(cols []string) error {
	return fmt.Errorf("a key column (%v) is null: every row of an upsert table needs its key", cols)
}

// messageKey fills the key columns from a message key and appends the key; the row
// is aborted after.
func (k *keyDecoder) messageKey(ctx context.Context, key []byte, dst []byte) ([]byte, error) {
	defer k.buf.AbortRow()
	if err := k.ensure(ctx, key); err != nil {
		return dst, err
	}
	if err := k.fill(ctx, key); err != nil {
		return dst, fmt.Errorf("message key: %w", err)
	}
	return k.rowKey(dst)
}

func (k *keyDecoder) fill(ctx context.Context, key []byte) error {
	trimmed := bytes.TrimSpace(key)
	switch {
	case len(key) == 0:
		return errors.New("the message has no key")
	case key[0] == 0 && len(key) >= 5 && k.protobufKeys():
		id, raw, msg, err := splitProto(key)
		if err != nil {
			return err
		}
		dec, err := k.protoKey(ctx, id, raw)
		if err != nil {
			return err
		}
		return dec.Decode(msg)
	case key[0] == 0 && len(key) >= 5 && k.dest.cfg.Format == FormatAvro:
		id, payload, err := schema.ParseWire(key)
		if err != nil {
			return err
		}
		dec, err := k.avroKey(ctx, id)
		if err != nil {
			return err
		}
		return dec.Decode(payload)
	case trimmed[0] == '{':
		obj := trimmed
		// The JsonConverter wraps keys as it wraps values, {"schema": …, "payload": {…}};
		// ParseDebeziumJSON unwraps it.
		var c schema.Change
		if schema.ParseDebeziumJSON(trimmed, &c) == nil && c.Flattened && c.After != nil {
			obj = c.After
		}
		return k.json.Decode(obj)
	case len(k.cols) == 1:
		col := k.buf.Columns()[k.cols[0]]
		switch col.Type {
		case table.String, table.Binary:
			k.buf.SetBytes(col.Index, key)
		default:
			v, err := strconv.ParseInt(string(trimmed), 10, 64)
			if err != nil {
				return fmt.Errorf("key %q is not a JSON object, and not a whole number for key column %q", key, col.Name)
			}
			k.buf.SetInt(col.Index, v)
		}
		return nil
	}
	return fmt.Errorf("key %q is not a JSON object with the key columns %v", key, k.names)
}

// protobufKeys reports whether wire-format keys are Protobuf: the values are, or
// key_format says so.
func (k *keyDecoder) protobufKeys() bool {
	return k.dest.cfg.Format == FormatProtobuf || k.dest.cfg.KeyFormat == "protobuf"
}

// protoKey compiles the decoder of a Protobuf key's message type into the key columns.
func (k *keyDecoder) protoKey(ctx context.Context, id int32, raw []byte) (*schema.ProtoDecoder, error) {
	p := k.proto[id]
	if dec, found, err := p.lookup(raw); found {
		return dec, err
	}
	if p == nil {
		fd, err := k.dest.conn.protoFile(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("key schema %d: %w", id, err)
		}
		p = newProtoPlans(fd)
		if k.proto == nil {
			k.proto = map[int32]*protoPlans{}
		}
		k.proto[id] = p
	}
	md, err := schema.ProtoMessage(p.file, schema.ProtoIndexes(raw))
	var dec *schema.ProtoDecoder
	if err == nil {
		dec, err = schema.NewProtoDecoder(md, id, k.buf, k.keyColumns(), schema.ProtoOptions{})
	}
	if err != nil {
		err = fmt.Errorf("key schema %d: %w", id, err)
	}
	return p.keep(raw, dec, err)
}

// keyColumns are the buffer's key columns.
func (k *keyDecoder) keyColumns() []*writer.Column {
	var cols []*writer.Column
	for _, i := range k.cols {
		cols = append(cols, k.buf.Columns()[i])
	}
	return cols
}

// avroKey compiles the decoder of an Avro key schema into the key columns.
func (k *keyDecoder) avroKey(ctx context.Context, id int32) (*schema.AvroDecoder, error) {
	if dec := k.avro[id]; dec != nil {
		return dec, nil
	}
	if err := k.avroF[id]; err != nil {
		return nil, err
	}
	as, err := k.dest.conn.avroSchema(ctx, id)
	if err == nil {
		var dec *schema.AvroDecoder
		if dec, err = schema.NewAvroDecoder(as, id, k.buf, k.keyColumns(), schema.AvroOptions{}); err == nil {
			k.avro[id] = dec
			return dec, nil
		}
	}
	err = fmt.Errorf("key schema %d: %w", id, err)
	k.avroF[id] = err
	return nil, err
}
