package connector

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table"
)

// Protobuf values (format: protobuf) and keys. A writer schema id names a .proto file;
// the message indexes after the Confluent header name the message type in it, so one
// worker keeps a decoder per id and message type. Nearly every producer writes the
// file's first type, whose indexes are the single byte 0: that lookup is a field read,
// the others a map lookup by the raw index bytes, neither allocating.

// protoPlans are one worker's decoders of one writer schema id, by message type.
type protoPlans struct {
	file   protoreflect.FileDescriptor
	first  *schema.ProtoDecoder            // indexes [0]
	other  map[string]*schema.ProtoDecoder // by raw indexes
	failed map[string]error                // message types that do not fit the table
}

func firstMessage(raw []byte) bool { return len(raw) == 1 && raw[0] == 0 }

func newProtoPlans(fd protoreflect.FileDescriptor) *protoPlans {
	return &protoPlans{file: fd, other: map[string]*schema.ProtoDecoder{}, failed: map[string]error{}}
}

// lookup returns what is known of a message type: its decoder, or why it has none;
// found is false for a type not tried yet. p may be nil.
func (p *protoPlans) lookup(raw []byte) (dec *schema.ProtoDecoder, found bool, err error) {
	if p == nil {
		return nil, false, nil
	}
	if dec := p.get(raw); dec != nil {
		return dec, true, nil
	}
	err, found = p.failed[string(raw)]
	return nil, found, err
}

// keep remembers a message type's decoder, or the error that it has none, and returns
// them.
func (p *protoPlans) keep(raw []byte, dec *schema.ProtoDecoder, err error) (*schema.ProtoDecoder, error) {
	switch {
	case err != nil:
		p.failed[string(raw)] = err
	case firstMessage(raw):
		p.first = dec
	default:
		p.other[string(raw)] = dec
	}
	return dec, err
}

func (p *protoPlans) get(raw []byte) *schema.ProtoDecoder {
	if firstMessage(raw) {
		return p.first
	}
	return p.other[string(raw)]
}

// compiledProto is a writer schema id's compiled file, or why it does not compile.
type compiledProto struct {
	fd  protoreflect.FileDescriptor
	err error
}

// protoFile fetches and compiles a Protobuf writer schema, once per connector: an id's
// schema never changes and a compiled file is read-only, so every worker, key decoder
// and table shares it. A schema that does not compile is remembered too; a registry that
// does not answer is asked again next time.
func (c *Connector) protoFile(ctx context.Context, id int32) (protoreflect.FileDescriptor, error) {
	if v, ok := c.protoFiles.Load(id); ok {
		r := v.(compiledProto)
		return r.fd, r.err
	}
	s, err := c.schemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	fd, err := compileProto(id, s)
	c.protoFiles.Store(id, compiledProto{fd, err})
	return fd, err
}

func compileProto(id int32, s *schema.Schema) (protoreflect.FileDescriptor, error) {
	if s.Type != schema.TypeProtobuf {
		return nil, &schema.ProtoSchemaError{SchemaID: id, Msg: fmt.Sprintf("the registry has it as a %s schema: the message was not written by a Protobuf serializer", s.Type)}
	}
	return schema.ParseProtobuf(s)
}

// splitProto splits a wire-format Protobuf message into its schema id, raw message
// indexes and message.
func splitProto(value []byte) (id int32, raw, msg []byte, err error) {
	id, payload, err := schema.ParseWire(value)
	if err != nil {
		return 0, nil, nil, err
	}
	raw, msg, err = schema.SplitProtoIndexes(payload)
	return id, raw, msg, err
}

// protoPlan returns the decoder of a message type, compiling it the first time: after
// asking for evolution when the type brings what the table lacks, as compileAvro does.
func (d *msgDecoder) protoPlan(ctx context.Context, id int32, raw []byte) (*schema.ProtoDecoder, error) {
	p := d.proto[id]
	if dec, found, err := p.lookup(raw); found {
		return dec, err
	}
	if p == nil {
		fd, err := d.dest.conn.protoFile(ctx, id)
		if err != nil {
			return nil, err
		}
		p = newProtoPlans(fd)
		d.proto[id] = p
	}
	md, err := schema.ProtoMessage(p.file, schema.ProtoIndexes(raw))
	if err != nil {
		return p.keep(raw, nil, fmt.Errorf("writer schema %d: %w", id, err))
	}
	if d.dest.cfg.Evolution == EvolutionAddColumns {
		if mapped, err := schema.ProtoTableSchema(md); err == nil {
			if incoming, changed := schema.Widen(d.spec.msg, mapped, d.spec.evolveOptions()); changed {
				return nil, &needEvolution{incoming: incoming}
			}
		}
	}
	dec, err := schema.NewProtoDecoder(md, id, d.buf, d.cols, schema.ProtoOptions{})
	if err != nil {
		return p.keep(raw, nil, fmt.Errorf("writer schema %d message %s does not fit the table: %w", id, md.FullName(), err))
	}
	if u := dec.Unmapped(); len(u) > 0 {
		d.dest.log.Debug("writer schema fields without a column are ignored", "schema_id", id, "message", md.FullName(), "fields", u)
	}
	return p.keep(raw, dec, nil)
}

// protoTableSchema maps the message type of a wire-format Protobuf message to columns.
func (t *ingestTable) protoTableSchema(ctx context.Context, value []byte) (*table.StructType, error) {
	id, raw, _, err := splitProto(value)
	if err != nil {
		return nil, err
	}
	fd, err := t.conn.protoFile(ctx, id)
	if err != nil {
		return nil, err
	}
	md, err := schema.ProtoMessage(fd, schema.ProtoIndexes(raw))
	if err != nil {
		return nil, fmt.Errorf("writer schema %d: %w", id, err)
	}
	return schema.ProtoTableSchema(md)
}

// protoKeyJSON renders a Protobuf message key as JSON (protojson's mapping, with field
// names as declared and every field present), for the _kafka_key variant column
// (key_format: protobuf).
func (w *worker) protoKeyJSON(ctx context.Context, key []byte) ([]byte, error) {
	id, raw, msg, err := splitProto(key)
	if err != nil {
		return nil, err
	}
	fd, err := w.dest.conn.protoFile(ctx, id)
	if err != nil {
		return nil, err
	}
	md, err := schema.ProtoMessage(fd, schema.ProtoIndexes(raw))
	if err != nil {
		return nil, fmt.Errorf("protobuf key (schema %d): %w", id, err)
	}
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(msg, m); err != nil {
		return nil, fmt.Errorf("protobuf key (schema %d): %w", id, err)
	}
	// Every field, zero or not: a key whose id is 0 still has "id".
	out, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("protobuf key (schema %d): as JSON: %w", id, err)
	}
	return out, nil
}
