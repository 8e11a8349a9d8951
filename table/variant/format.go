package variant

// The layout constants of VariantEncoding.md.

const (
	basicPrimitive   = 0
	basicShortString = 1
	basicObject      = 2
	basicArray       = 3
)

// Primitive type ids.
const (
	typeNull              = 0
	typeTrue              = 1
	typeFalse             = 2
	typeInt8              = 3
	typeInt16             = 4
	typeInt32             = 5
	typeInt64             = 6
	typeDouble            = 7
	typeDecimal4          = 8
	typeDecimal8          = 9
	typeDecimal16         = 10
	typeDate              = 11
	typeTimestamp         = 12 // microseconds, UTC
	typeTimestampNTZ      = 13 // microseconds, no time zone
	typeFloat             = 14
	typeBinary            = 15
	typeString            = 16
	typeTime              = 17 // microseconds since midnight, no time zone
	typeTimestampNanos    = 18
	typeTimestampNanosNTZ = 19
	typeUUID              = 20
)

const (
	metadataVersion = 1
	sortedStrings   = 1 << 4
	maxShortString  = 63
	maxDecimalScale = 38
)

// MaxDepth is how deeply arrays and objects may nest, in JSON text and in variant
// binaries. The limit exists so that hostile input gets an error instead of exhausting
// the stack. Jackson, the JSON parser under Spark's parse_json, has the same default
// limit (StreamReadConstraints), so Spark refuses deeper text too.
const MaxDepth = 1000

// SparkSizeLimit is the largest metadata or value, in bytes, that Spark reads: its
// Variant constructor refuses anything bigger (VARIANT_CONSTRUCTOR_SIZE_LIMIT). It is the
// default Encoder.MaxSize so that the writer never stores a variant Spark cannot read.
const SparkSizeLimit = 16 << 20

// intSize is the fewest bytes (1 to 4) holding v, the width the encoding lets writers
// choose for offsets, field ids and the dictionary size.
func intSize(v uint64) int {
	switch {
	case v <= 0xFF:
		return 1
	case v <= 0xFFFF:
		return 2
	case v <= 0xFFFFFF:
		return 3
	}
	return 4
}

// appendUint appends the low size bytes of v, little-endian.
func appendUint(dst []byte, v uint32, size int) []byte {
	switch size {
	case 1:
		return append(dst, byte(v))
	case 2:
		return append(dst, byte(v), byte(v>>8))
	case 3:
		return append(dst, byte(v), byte(v>>8), byte(v>>16))
	}
	return append(dst, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// readUint reads a size-byte little-endian unsigned integer from the start of b, which
// the caller has checked is long enough.
func readUint(b []byte, size int) uint64 {
	var v uint64
	for i := size - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
