// Package variant converts between JSON text and the Parquet Variant binary encoding
// (parquet-format VariantEncoding.md), the form Delta's variant type stores in Parquet:
// a group of two binaries, metadata (the key dictionary) and value. Only the unshredded
// form is produced. The package exists so that the writer can store JSON records in a
// variant column and tests can read the column back, with no dependency outside the
// standard library.
//
// # Encoding JSON
//
// Encoder.AppendJSON follows Spark 4's parse_json so that variant_get and friends see
// the same types for the same text:
//
//   - null, true and false become the null and boolean primitives.
//   - An integer (no fraction, no exponent) becomes the smallest of int8, int16, int32
//     and int64 holding it. "-0" is the integer 0.
//   - A number with a fraction but no exponent, or an integer beyond int64, becomes a
//     decimal with the exact digits of the text, as Java's BigDecimal reads them:
//     "1.50" is scale 2, unscaled 150; "0.00" is scale 2, unscaled 0. The precision is
//     the number of significant digits (1 for zero). With scale and precision at most
//     9 it is a decimal4, at most 18 a decimal8, at most 38 a decimal16.
//   - Every other number becomes a double: exponent forms (1e3, 1.5E-7) whatever their
//     value, as Spark's parse_json only ever tries decimals on plain digits, and numbers
//     needing more than 38 digits of precision or of scale. The double is the nearest
//     to the text; text beyond the double range becomes ±Infinity, as Spark's does.
//   - Strings are unescaped (\uXXXX surrogate pairs joined) and stored as short strings
//     below 64 bytes, long strings otherwise. Invalid UTF-8 and lone surrogate escapes
//     are refused (Spark would store U+FFFD or '?' instead; refusing keeps the data
//     intact for a dead-letter queue).
//   - Object keys go into the metadata dictionary, each distinct key once. The
//     dictionary is sorted by bytes and flagged sorted_strings, so a reader may
//     binary-search it. Spark writes keys in order of first appearance, unsorted; both
//     are valid and Spark reads either. Each object lists its fields sorted by key
//     bytes (the spec's rule; Spark orders by UTF-16 code units, which differs only for
//     keys mixing U+E000..U+FFFF with characters beyond U+FFFF), and stores the field
//     values in that same order, so the field offsets increase.
//   - A key repeated in one object is an error (*DuplicateKeyError), as in Spark by
//     default.
//   - Every size field (dictionary offsets, field ids, field offsets) takes the fewest
//     bytes that hold its largest value; is_large is set for more than 255 elements.
//   - Nesting deeper than MaxDepth arrays and objects is an error, not a stack overflow.
//   - The text must be exactly one JSON value (RFC 8259): anything but whitespace after
//     it is an error, where Spark's parse_json stops reading after the first value.
//   - The result may be at most Encoder.MaxSize bytes each for metadata and value
//     (by default SparkSizeLimit, the 16 MiB beyond which Spark refuses to read one).
//
// # Decoding to JSON
//
// AppendJSON renders any valid variant, including primitive types the encoder never
// writes, in the text parquet-java's Variant.toJson produces (with no time zone
// conversion; timestamps with a time zone are shown in UTC):
//
//   - Integers and decimals print exactly ("1.50" stays "1.50"); doubles and floats
//     print the shortest text that reads back to the same value, in the style of
//     encoding/json (1e+21, 1e-7). NaN and the infinities are not JSON numbers; they
//     are written as the strings "NaN", "Infinity" and "-Infinity", as Jackson does.
//   - date: "2024-01-02"; timestamp: "2024-01-02T03:04:05.123456+00:00";
//     timestamp without time zone: "2024-01-02T03:04:05.123456"; the nanosecond
//     timestamps have nine fractional digits; time: "03:04:05.123456". Years beyond
//     9999 carry a '+' and negative years a '-', as java.time prints them.
//   - binary: standard base64 with padding; uuid: the canonical 8-4-4-4-12 lower-case
//     form.
//   - Object fields are written in the order the object lists them (sorted by key in
//     a valid variant).
//
// A malformed variant (truncated, offsets out of range, unknown dictionary ids,
// unknown type ids, invalid UTF-8, nesting deeper than MaxDepth, elements that overlap)
// is reported as a *MalformedError; no input makes the decoder panic. Like Spark's
// reader, it ignores bytes after the end of the value and after the dictionary strings
// and does not check that object keys are sorted or unique.
package variant
