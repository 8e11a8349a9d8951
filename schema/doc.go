// Package schema stands between Kafka and the writer: it turns message values into
// table rows and message schemas into table schemas.
//
// Values. A registry-encoded value starts with the Confluent wire format (ParseWire): a
// magic byte 0, the big-endian schema id, then the payload. Registry is the client of a
// Confluent-compatible Schema Registry that turns the id into the schema, references
// resolved, and caches it, so that messages reach the registry once per schema id.
// Decoders write a payload straight into the column buffers of a writer.Buffer through a
// plan compiled ahead of the messages, with no map[string]any and no allocation per
// message:
//   - JSONDecoder (json_plan.go, json_decode.go) takes plain JSON, and the payloads of
//     JSON Schema messages, one plan per table schema, coercing values to their
//     columns' types;
//   - AvroDecoder (avro_plan.go, avro_decode.go) takes Avro binary, one plan per writer
//     schema and table, following Avro schema resolution with the table in the reader's
//     role.
//
// A decoder fills the columns it is given and never ends the row: the connector sets
// its own columns (Kafka metadata), then ends the row, or aborts it when decoding
// failed. Decimals are parsed and range-checked by package writer, which owns their
// layout in the Parquet files.
//
// Schemas. AvroTableSchema (avro_schema.go) and JSONSchemaTableSchema (json_schema.go)
// map a message schema to the Delta table schema that holds its messages, for tables
// created from a subject; a JSONDecoder with UnknownEvolve infers the types of fields
// the table lacks from the message itself (json_infer.go). Evolve holds the rules by
// which a table's schema follows newer message schemas: nullable columns are added at
// any depth, nullability only relaxes, and a column's type never changes. Widen gives
// the schema to offer Evolve for a writer schema: the table's, changed only as far as
// the writer needs, since the decoders read narrower writer schemas as they are.
//
// Errors a caller acts on are in errors.go, each saying where it is returned: per
// message (*WireError, *SyntaxError, *FieldError, *AvroError), per writer schema
// (*AvroSchemaError), per table schema change (*NewFieldsError asks for one,
// *EvolutionError refuses one) and from the registry (*RegistryError, matched with
// ErrSchemaNotFound and the other sentinels).
package schema
