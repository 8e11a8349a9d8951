package connector

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/schema"
)

// Message keys in the _kafka_key column (kafka_columns: [key]) with key_format avro or
// json_schema: the key's writer schema comes from the registry by the id in its
// Confluent header, and the decoded key lands as JSON in a variant column, whatever
// its schema (a record, a string, a number), so that one table takes keys of any shape
// and schema version. Keys are small and decoded once per message, generically.

// keyJSON returns a message key as JSON text for the _kafka_key variant column.
func (w *worker) keyJSON(ctx context.Context, key []byte) ([]byte, error) {
	switch w.dest.cfg.KeyFormat {
	case "json":
		return key, nil
	case "json_schema":
		id, payload, err := schema.ParseWire(key)
		if err != nil {
			return nil, err
		}
		if !w.keySchemaIDs[id] { // the id must be the registry's, as for values
			if _, err := w.dest.conn.schemaByID(ctx, id); err != nil {
				return nil, err
			}
			if w.keySchemaIDs == nil {
				w.keySchemaIDs = map[int32]bool{}
			}
			w.keySchemaIDs[id] = true
		}
		if !json.Valid(payload) {
			return nil, fmt.Errorf("json_schema key (schema %d) is not JSON", id)
		}
		return payload, nil
	case "protobuf":
		return w.protoKeyJSON(ctx, key)
	}
	id, payload, err := schema.ParseWire(key)
	if err != nil {
		return nil, err
	}
	s, err := w.keySchema(ctx, id)
	if err != nil {
		return nil, err
	}
	var v any
	if err := avro.Unmarshal(s, payload, &v); err != nil {
		return nil, fmt.Errorf("avro key (schema %d): %w", id, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("avro key (schema %d): as JSON: %w", id, err)
	}
	return out, nil
}

// keySchema fetches and parses an Avro key schema once per worker.
func (w *worker) keySchema(ctx context.Context, id int32) (avro.Schema, error) {
	if s, ok := w.keySchemas[id]; ok {
		return s, nil
	}
	s, err := w.dest.conn.avroSchema(ctx, id)
	if err != nil {
		return nil, err
	}
	if w.keySchemas == nil {
		w.keySchemas = map[int32]avro.Schema{}
	}
	w.keySchemas[id] = s
	return s, nil
}
