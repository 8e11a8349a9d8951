package schema

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sluicelake/sluice/table"
)

// EXTERNAL: errors a caller acts on. Each says where it is returned.

// WireError is a Kafka message value that is not in the Confluent wire format (magic
// byte 0, big-endian 4-byte schema id, payload). ParseWire returns it. It names no topic,
// partition or offset: the connector wraps it with those, and callers find it with
// errors.As.
type WireError struct {
	// Reason says what is wrong with the header and, where it can be guessed, why.
	Reason string
}

func (e *WireError) Error() string {
	return "not in Confluent wire format: " + e.Reason
}

// RegistryError is a non-2xx answer of a schema registry. Registry methods return it,
// wrapped with the schema id or subject asked for, once retries are exhausted (5xx, 429)
// or at once (other statuses). Match the common cases with errors.Is and the sentinels
// below; read Code for the rest.
type RegistryError struct {
	// StatusCode is the HTTP status, e.g. 404.
	StatusCode int
	// Code is Confluent's "error_code", e.g. 40403; 0 when the body was not a Confluent
	// error (a proxy, or a URL that is no schema registry).
	Code int
	// Message is Confluent's "message", or the start of a body that was not JSON.
	Message string
	// Method is the HTTP method of the request.
	Method string
	// URL is the request URL, never with credentials in it.
	URL string
}

func (e *RegistryError) Error() string {
	var b strings.Builder
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteByte(' ')
	}
	if e.URL != "" {
		b.WriteString(e.URL)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != 0 {
		fmt.Fprintf(&b, " (error_code %d)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	switch {
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		b.WriteString(" (check the registry username/password or bearer token)")
	case e.StatusCode == http.StatusNotFound && e.Code == 0:
		b.WriteString(" (no Confluent error body: is the URL a schema registry?)")
	}
	return b.String()
}

// Is reports whether the sentinel target describes e, so that
// errors.Is(err, ErrSchemaNotFound) works through any wrapping.
func (e *RegistryError) Is(target error) bool {
	switch target {
	case ErrSubjectNotFound:
		return e.Code == 40401
	case ErrVersionNotFound:
		return e.Code == 40402
	case ErrSchemaNotFound:
		return e.Code == 40403
	case ErrIncompatibleSchema:
		return e.StatusCode == http.StatusConflict
	case ErrInvalidSchema:
		return e.Code == 42201
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	}
	return false
}

var (
	// ErrSubjectNotFound (error_code 40401) is returned by SchemaBySubjectVersion, and by
	// SchemaByID when a reference names a subject the registry does not have.
	ErrSubjectNotFound = errors.New("schema registry: subject not found")
	// ErrVersionNotFound (error_code 40402) is returned by SchemaBySubjectVersion, and by
	// SchemaByID when a reference names a version the subject does not have.
	ErrVersionNotFound = errors.New("schema registry: version not found")
	// ErrSchemaNotFound (error_code 40403) is returned by SchemaByID for an unknown id:
	// the message was produced against another registry, or its schema was deleted.
	ErrSchemaNotFound = errors.New("schema registry: schema not found")
	// ErrIncompatibleSchema (HTTP 409) is returned by Register when the subject's
	// compatibility rule rejects the schema.
	ErrIncompatibleSchema = errors.New("schema registry: schema incompatible with an earlier version")
	// ErrInvalidSchema (error_code 42201) is returned by Register when the registry cannot
	// parse the schema or resolve its references.
	ErrInvalidSchema = errors.New("schema registry: invalid schema")
	// ErrUnauthorized (HTTP 401 or 403) is returned by every Registry method when the
	// registry refuses the credentials. It is never retried.
	ErrUnauthorized = errors.New("schema registry: unauthorized")
)

// SyntaxError is malformed JSON: JSONDecoder.Decode and JSONField return it. Offset
// is the byte position in the message; the connector adds topic, partition and offset.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at byte %d: %s", e.Offset, e.Msg)
}

// FieldError is a JSON value that does not fit its column: the wrong kind of value, a
// number out of range, a decimal that would lose digits, null in a non-nullable field,
// or a field the table lacks under UnknownFail. JSONDecoder.Decode returns it; the row
// is left unfinished for the caller to abort.
type FieldError struct {
	Field  string // dotted path
	Offset int    // byte position of the value in the message
	Msg    string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("field %q (byte %d): %s", e.Field, e.Offset, e.Msg)
}

// NewFieldsError is returned by JSONDecoder.Decode with UnknownEvolve when the message
// has fields the table lacks, or, with JSONOptions.TypeWidening, values that need a
// wider column type. Fields holds the new fields' paths and inferred types, Widened the
// paths of the values ("element", "key" and "value" inside arrays and maps) and the
// types they need; the caller evolves the table schema (Evolve) and decodes the message
// again. Nothing was written.
type NewFieldsError struct {
	Fields  []NewField
	Widened []NewField
}

// NewField is a field found in a message but not in the table.
type NewField struct {
	Path []string // field names from the top level down
	Type table.DataType
}

func (e *NewFieldsError) Error() string {
	if len(e.Widened) > 0 {
		return fmt.Sprintf("message has %d field(s) the table lacks and %d value(s) that need a wider column type", len(e.Fields), len(e.Widened))
	}
	return fmt.Sprintf("message has %d field(s) the table lacks", len(e.Fields))
}

// AvroError is an Avro message that does not decode: truncated, overlong or garbage
// bytes, a union or enum index out of range, a value its column cannot hold. The row
// is left unfinished; the caller aborts it (writer.Buffer.AbortRow). AvroDecoder.Decode
// returns it; the connector adds topic, partition and offset.
type AvroError struct {
	// SchemaID is the writer schema the message claims.
	SchemaID int32
	// Field is the dotted path of the value, with "element" and "value" inside arrays
	// and maps (a bad map key names the map) and the member name inside unions mapped
	// to structs; empty for the message as a whole.
	Field string
	// Offset is the byte position of the value in the payload (after the 5-byte
	// Confluent header).
	Offset int
	// Msg says what is wrong.
	Msg string
}

func (e *AvroError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("avro message (schema %d) at byte %d: %s", e.SchemaID, e.Offset, e.Msg)
	}
	return fmt.Sprintf("avro message (schema %d): field %q at byte %d: %s", e.SchemaID, e.Field, e.Offset, e.Msg)
}

// ProtoError is a Protobuf message that cannot be decoded: malformed wire data (a bad
// tag, a varint or length running past the end), a field whose wire type its
// declaration forbids, a value its column cannot hold. Like AvroError the row is left
// unfinished for the caller to abort; ProtoDecoder.Decode returns it.
type ProtoError struct {
	// SchemaID is the writer schema the message claims.
	SchemaID int32
	// Field is the dotted path of the value; empty for the message as a whole.
	Field string
	// Offset is the byte position of the value in the message (after the Confluent
	// header and the message indexes).
	Offset int
	// Msg says what is wrong.
	Msg string
}

func (e *ProtoError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("protobuf message (schema %d) at byte %d: %s", e.SchemaID, e.Offset, e.Msg)
	}
	return fmt.Sprintf("protobuf message (schema %d): field %q at byte %d: %s", e.SchemaID, e.Field, e.Offset, e.Msg)
}

// AvroSchemaError is an Avro schema the table cannot take: a type with no table
// equivalent (AvroTableSchema), or a writer schema whose fields do not resolve against
// the table's columns (NewAvroDecoder). Every message with that schema id fails alike,
// so the connector treats it per schema, not per message.
type AvroSchemaError struct {
	// SchemaID is the writer schema id given to NewAvroDecoder; 0 from AvroTableSchema.
	SchemaID int32
	// Field is the dotted path of the field, empty for the schema as a whole.
	Field string
	// Msg says what is wrong, naming both types where two disagree.
	Msg string
}

func (e *AvroSchemaError) Error() string {
	return schemaErrorText("avro", e.SchemaID, e.Field, e.Msg)
}

// schemaErrorText is "<format> schema [id][: field "f"]: msg".
func schemaErrorText(format string, id int32, field, msg string) string {
	var b strings.Builder
	b.WriteString(format + " schema")
	if id != 0 {
		fmt.Fprintf(&b, " %d", id)
	}
	if field != "" {
		fmt.Fprintf(&b, ": field %q", field)
	}
	b.WriteString(": ")
	b.WriteString(msg)
	return b.String()
}

// ProtoSchemaError is a Protobuf message type the table cannot take: a type with no
// table equivalent (ProtoTableSchema), or a writer's message type whose fields do not
// resolve against the table's columns (NewProtoDecoder). Like AvroSchemaError it holds
// for every message of that schema id and message type.
type ProtoSchemaError struct {
	// SchemaID is the writer schema id given to NewProtoDecoder; 0 from ProtoTableSchema.
	SchemaID int32
	// Field is the dotted path of the field, empty for the message type as a whole.
	Field string
	// Msg says what is wrong, naming both types where two disagree.
	Msg string
}

func (e *ProtoSchemaError) Error() string {
	return schemaErrorText("protobuf", e.SchemaID, e.Field, e.Msg)
}

// EvolutionError is a schema change Evolve refuses: a changed type, a new non-nullable
// column, a name that differs from an existing one only in case. The table keeps its schema; the
// connector stops the table's ingestion (or dead-letters the messages) with this error.
type EvolutionError struct {
	// Path is the dotted column path, with "element", "key" and "value" inside arrays
	// and maps.
	Path string
	// Msg says what changed.
	Msg string
}

func (e *EvolutionError) Error() string {
	return fmt.Sprintf("schema change refused: column %q: %s", e.Path, e.Msg)
}
