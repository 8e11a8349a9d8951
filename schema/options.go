package schema

// Decoder options. A zero value of each is valid and means the defaults stated.

// UnknownFields says what a decoder does with a message field the table has no column
// for. JSONOptions take all three policies, AvroOptions ignore and fail.
type UnknownFields string

// UnknownFields policies.
const (
	UnknownIgnore UnknownFields = "ignore" // skip the field (default)
	UnknownFail   UnknownFields = "fail"   // the message is an error
	UnknownEvolve UnknownFields = "evolve" // report the field's inferred type: NewFieldsError
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
	// TypeWidening, with UnknownEvolve, reports a value that fits only a wider type than
	// its column's, one EvolveOptions.TypeWidening applies, in NewFieldsError.Widened
	// instead of failing the message: a whole number beyond a byte, short or integer
	// column's range (long), a number beyond float's (double), a decimal with more
	// digits than its column's (the narrowest wider decimal that holds it). Defaults to
	// false.
	TypeWidening bool
	// MessageColumn names a variant or string column that takes the whole message, as
	// its JSON text, instead of a field of that name; the other columns are decoded from
	// the message's fields as usual. Defaults to none.
	MessageColumn string
	// IgnorePrefix skips top-level fields whose names start with it, whatever
	// UnknownFields says: the fields Debezium's ExtractNewRecordState adds to a
	// flattened row (__deleted, __op, __source_ts_ms, …) with "__". Defaults to none.
	IgnorePrefix string
}

// AvroOptions configure an AvroDecoder.
type AvroOptions struct {
	// UnknownFields says what happens to a writer field, at any depth, that the table
	// has no column or struct field for. UnknownIgnore decodes and discards it, as Avro
	// schema resolution does; UnknownFail refuses the writer schema in NewAvroDecoder
	// (never per message), naming the field. Defaults to UnknownIgnore.
	UnknownFields UnknownFields
}

// EvolveOptions configure Evolve and Widen.
type EvolveOptions struct {
	// TypeWidening lets a column, struct field, array element or map key or value take a
	// wider type, as Delta's schema evolution does on a table with type widening: byte →
	// short → integer → long, float → double, decimal(p,s) → decimal(p+k1,s+k2) with
	// k1 >= k2 >= 0, date → timestamp_ntz. (Integer to decimal or double, which the
	// protocol also allows, is left to an explicit ALTER COLUMN, as Delta does.) Set it
	// when the table property delta.enableTypeWidening is true
	// (table.Metadata.TypeWideningEnabled). Defaults to false: every type change is
	// refused.
	TypeWidening bool
}

// ProtoOptions configure a ProtoDecoder.
type ProtoOptions struct {
	// UnknownFields says what happens to a declared field, at any depth, that the table
	// has no column or struct field for. UnknownIgnore skips it; UnknownFail refuses the
	// message type in NewProtoDecoder (never per message), naming the field. Fields the
	// writer's schema does not declare (numbers unknown to it) are always skipped, as
	// every Protobuf parser does. Defaults to UnknownIgnore.
	UnknownFields UnknownFields
}
