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
}

// AvroOptions configure an AvroDecoder.
type AvroOptions struct {
	// UnknownFields says what happens to a writer field, at any depth, that the table
	// has no column or struct field for. UnknownIgnore decodes and discards it, as Avro
	// schema resolution does; UnknownFail refuses the writer schema in NewAvroDecoder
	// (never per message), naming the field. Defaults to UnknownIgnore.
	UnknownFields UnknownFields
}
