package expr

import "strconv"

// Kind is the kind of a SQL type. The zero Kind is invalid, so that a zero
// Value is never silently taken for a value of some type.
type Kind uint8

// The kinds of SQL types an expression can read or produce. They follow
// Spark's atomic types; Null is the type of the NULL literal (Spark's VOID).
const (
	Boolean      Kind = iota + 1 // BOOLEAN
	Byte                         // TINYINT
	Short                        // SMALLINT
	Int                          // INT
	Long                         // BIGINT
	Float                        // FLOAT
	Double                       // DOUBLE
	Decimal                      // DECIMAL(p,s)
	String                       // STRING
	Binary                       // BINARY
	Date                         // DATE
	Timestamp                    // TIMESTAMP (with local time zone; UTC here)
	TimestampNTZ                 // TIMESTAMP_NTZ
	Null                         // VOID: the type of the NULL literal
)

var kindNames = [...]string{
	"INVALID", "BOOLEAN", "TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT",
	"DOUBLE", "DECIMAL", "STRING", "BINARY", "DATE", "TIMESTAMP",
	"TIMESTAMP_NTZ", "VOID",
}

// String returns the SQL name of the kind, as Spark spells it in DDL, so that
// error messages read like Spark's.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// MaxPrecision is the largest decimal precision, as in Spark and Delta.
const MaxPrecision = 38

// Type is the SQL type of a value or expression. Precision and Scale are
// meaningful for Decimal only and zero otherwise, so that Types compare with ==.
type Type struct {
	Kind             Kind
	Precision, Scale int
}

// String returns the SQL name of the type (DECIMAL(10,2), TIMESTAMP_NTZ...),
// used in error messages.
func (t Type) String() string {
	if t.Kind == Decimal {
		return "DECIMAL(" + strconv.Itoa(t.Precision) + "," + strconv.Itoa(t.Scale) + ")"
	}
	return t.Kind.String()
}

func (t Type) valid() bool {
	if t.Kind == Decimal {
		return t.Precision >= 1 && t.Precision <= MaxPrecision && t.Scale >= 0 && t.Scale <= t.Precision
	}
	return t.Kind >= Boolean && t.Kind <= Null
}

// normal returns t with Precision and Scale cleared for non-decimal kinds, so
// that types from a Resolver compare with ==.
func (t Type) normal() Type {
	if t.Kind != Decimal {
		return Type{Kind: t.Kind}
	}
	return t
}

// Value is one SQL value. Null is the SQL NULL of any type; the other fields
// are then ignored. Which field holds a non-NULL value depends on Kind:
//
//   - Boolean: I, 0 or 1.
//   - Byte, Short, Int, Long: I, within the range of the type.
//   - Float, Double: F (a Float is a float32 value held in a float64).
//   - Decimal with precision <= 18: I is the unscaled value.
//   - Decimal with precision > 18: B is the unscaled value as big-endian two's
//     complement, of any length (empty means 0), as Parquet stores it.
//   - String (UTF-8) and Binary: B.
//   - Date: I, days since 1970-01-01 (proleptic Gregorian calendar).
//   - Timestamp, TimestampNTZ: I, microseconds since 1970-01-01 00:00:00 UTC
//     (for TimestampNTZ: since that wall-clock time).
//
// A Decimal value does not carry its precision and scale: they are those of
// its static type (the column's Type for row values, Program.Type for
// results). Values returned by Eval may share B with the row's values or with
// the program's constants: do not modify them.
type Value struct {
	Null bool
	Kind Kind
	I    int64
	F    float64
	B    []byte
}

// Row gives the value of column index i of the row being evaluated, the index
// being the one the Resolver returned. A non-NULL value must have the Kind of
// the column's Type.
type Row interface {
	Value(i int) Value
}

// Values is a Row held in a slice, indexed by column index: handy for tests
// and for callers that already hold a row's values.
type Values []Value

// Value returns v[i].
func (v Values) Value(i int) Value { return v[i] }

func nullValue(k Kind) Value { return Value{Null: true, Kind: k} }

func boolValue(b bool) Value {
	if b {
		return Value{Kind: Boolean, I: 1}
	}
	return Value{Kind: Boolean}
}

func isIntegral(k Kind) bool { return k >= Byte && k <= Long }

func isNumeric(k Kind) bool { return k >= Byte && k <= Decimal }

func isFloating(k Kind) bool { return k == Float || k == Double }

func isDatetime(k Kind) bool { return k == Date || k == Timestamp || k == TimestampNTZ }

// wrapInt truncates x to the width of integral kind k, as Java's narrowing
// conversions do: Spark's non-ANSI integer arithmetic and casts wrap around.
func wrapInt(k Kind, x int64) int64 {
	switch k {
	case Byte:
		return int64(int8(x))
	case Short:
		return int64(int16(x))
	case Int:
		return int64(int32(x))
	}
	return x
}
