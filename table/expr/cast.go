package expr

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
)

// canCast tells whether CAST(from AS to) is allowed; it follows Spark's
// Cast.canCast with ANSI mode off, less a few casts that always give NULL
// (DATE to numbers and booleans).
func canCast(from, to Type) bool {
	f, t := from.Kind, to.Kind
	if f == t || f == Null {
		return true
	}
	switch {
	case t == Null:
		return false
	case t == String || f == String:
		return true
	}
	switch t {
	case Boolean, Byte, Short, Int, Long, Float, Double, Decimal:
		return isNumeric(f) || f == Boolean || f == Timestamp
	case Binary:
		return isIntegral(f)
	case Date:
		return f == Timestamp || f == TimestampNTZ
	case Timestamp:
		return isNumeric(f) || f == Boolean || f == Date || f == TimestampNTZ
	case TimestampNTZ:
		return f == Date || f == Timestamp
	}
	return false
}

// castValue converts non-NULL v of type from to type to, with the semantics
// of Spark's CAST with ANSI mode off: a value that cannot be converted (an
// unparsable string, a decimal overflow) gives NULL, and integral narrowing
// wraps around. canCast(from, to) must hold.
func castValue(v Value, from, to Type) Value {
	if from == to {
		return v
	}
	if from.Kind == Null {
		return nullValue(to.Kind)
	}
	switch to.Kind {
	case Boolean:
		return castToBoolean(v, from)
	case Byte, Short, Int, Long:
		return castToIntegral(v, from, to.Kind)
	case Float, Double:
		return castToFloating(v, from, to.Kind)
	case Decimal:
		return castToDecimal(v, from, to)
	case String:
		return Value{Kind: String, B: appendValue(nil, v, from)}
	case Binary:
		switch {
		case from.Kind == String:
			return Value{Kind: Binary, B: v.B}
		case isIntegral(from.Kind):
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], uint64(v.I))
			n := 8
			switch from.Kind {
			case Byte:
				n = 1
			case Short:
				n = 2
			case Int:
				n = 4
			}
			return Value{Kind: Binary, B: append([]byte(nil), b[8-n:]...)}
		}
	case Date:
		switch from.Kind {
		case String:
			if d, ok := parseDate(v.B); ok {
				return Value{Kind: Date, I: d}
			}
		case Timestamp, TimestampNTZ:
			return Value{Kind: Date, I: floorDiv(v.I, microsPerDay)}
		}
	case Timestamp, TimestampNTZ:
		return castToTimestamp(v, from, to.Kind)
	}
	return nullValue(to.Kind)
}

func castToBoolean(v Value, from Type) Value {
	switch from.Kind {
	case Byte, Short, Int, Long, Timestamp:
		return boolValue(v.I != 0)
	case Float, Double:
		return boolValue(v.F != 0)
	case Decimal:
		return boolValue(decSign(v, from) != 0)
	case String:
		switch strings.ToLower(string(trimSpaceControl(v.B))) {
		case "t", "true", "y", "yes", "1":
			return boolValue(true)
		case "f", "false", "n", "no", "0":
			return boolValue(false)
		}
	}
	return nullValue(Boolean)
}

func castToIntegral(v Value, from Type, k Kind) Value {
	var x int64
	switch from.Kind {
	case Boolean, Byte, Short, Int, Long:
		x = v.I
	case Timestamp:
		x = floorDiv(v.I, microsPerSecond)
	case Float, Double:
		if k == Long {
			x = javaD2L(v.F)
		} else {
			x = javaD2I(v.F) // Java narrows a double to byte or short through int
		}
	case Decimal:
		x = decimalTrunc(v, from)
	case String:
		var ok bool
		if x, ok = parseIntegral(v.B, k); !ok {
			return nullValue(k)
		}
	default:
		return nullValue(k)
	}
	return Value{Kind: k, I: wrapInt(k, x)}
}

// javaD2L converts as Java's (long) cast does: NaN is 0, out-of-range values
// saturate.
func javaD2L(f float64) int64 {
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// javaD2I converts as Java's (int) cast does.
func javaD2I(f float64) int64 {
	switch {
	case f != f:
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int64(f)
}

// parseIntegral parses s as Spark's UTF8String.toLong/toInt do: trimmed,
// optional sign, digits, and an optional fraction that is dropped; out of
// range is a failure.
func parseIntegral(s []byte, k Kind) (int64, bool) {
	s = trimSpaceControl(s)
	if len(s) == 0 {
		return 0, false
	}
	neg := s[0] == '-'
	i := 0
	if neg || s[0] == '+' {
		if len(s) == 1 {
			return 0, false
		}
		i++
	}
	var r int64 // accumulated negatively, as Java does, to reach MinInt64
	for ; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			for i++; i < len(s); i++ {
				if !isDigit(s[i]) {
					return 0, false
				}
			}
			break
		}
		if !isDigit(c) {
			return 0, false
		}
		if r < math.MinInt64/10 {
			return 0, false
		}
		r = r*10 - int64(c-'0')
		if r > 0 {
			return 0, false
		}
	}
	if !neg {
		if r == math.MinInt64 {
			return 0, false
		}
		r = -r
	}
	if k != Long && wrapInt(k, r) != r {
		return 0, false
	}
	return r, true
}

func castToFloating(v Value, from Type, k Kind) Value {
	var f float64
	switch from.Kind {
	case Boolean, Byte, Short, Int, Long:
		if k == Float {
			return Value{Kind: k, F: float64(float32(v.I))}
		}
		f = float64(v.I)
	case Float, Double:
		f = v.F
	case Decimal:
		f = decimalToFloat(v, from)
	case Timestamp:
		f = float64(v.I) / microsPerSecond
	case String:
		var ok bool
		if f, ok = parseJavaDouble(v.B, k == Float); !ok {
			return nullValue(k)
		}
	default:
		return nullValue(k)
	}
	if k == Float {
		f = float64(float32(f))
	}
	return Value{Kind: k, F: f}
}

// parseJavaDouble parses s as Spark casts a string to DOUBLE or FLOAT:
// Java's Double.parseDouble (trimmed; digits with an optional point and
// exponent; an optional f, F, d or D suffix; NaN, Infinity), and Spark's
// special literals inf, +inf, -inf, infinity and nan in any case.
// Hexadecimal floating literals are not accepted.
func parseJavaDouble(s []byte, single bool) (float64, bool) {
	t := strings.TrimFunc(string(s), func(r rune) bool { return r <= ' ' })
	switch strings.ToLower(t) {
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), true
	case "-inf", "-infinity":
		return math.Inf(-1), true
	case "nan":
		return math.NaN(), true
	case "+nan", "-nan":
		if t == "+NaN" || t == "-NaN" {
			return math.NaN(), true
		}
		return 0, false
	}
	if t == "" {
		return 0, false
	}
	if c := t[len(t)-1]; c == 'f' || c == 'F' || c == 'd' || c == 'D' {
		t = t[:len(t)-1]
	}
	// Validate Java's grammar: [sign] (digits [. digits] | . digits) [e [sign] digits].
	i := 0
	if i < len(t) && (t[i] == '+' || t[i] == '-') {
		i++
	}
	nd := 0
	for i < len(t) && isDigit(t[i]) {
		i, nd = i+1, nd+1
	}
	if i < len(t) && t[i] == '.' {
		i++
		for i < len(t) && isDigit(t[i]) {
			i, nd = i+1, nd+1
		}
	}
	if nd == 0 {
		return 0, false
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		ne := 0
		for i < len(t) && isDigit(t[i]) {
			i, ne = i+1, ne+1
		}
		if ne == 0 {
			return 0, false
		}
	}
	if i != len(t) {
		return 0, false
	}
	bits := 64
	if single {
		bits = 32
	}
	f, err := strconv.ParseFloat(t, bits)
	if err != nil && !math.IsInf(f, 0) && f != 0 {
		return 0, false
	}
	return f, true
}

func castToDecimal(v Value, from, to Type) Value {
	var r Value
	ok := false
	switch from.Kind {
	case Boolean, Byte, Short, Int, Long:
		r, ok = decimalFromInt(v.I, to)
	case Float, Double:
		r, ok = decimalFromFloat(v.F, to)
	case Decimal:
		r, ok = changeDecimal(v, from, to)
	case Timestamp:
		r, ok = decimalFromFloat(float64(v.I)/microsPerSecond, to)
	case String:
		r, ok = decimalFromString(v.B, to)
	}
	if !ok {
		return nullValue(Decimal)
	}
	return r
}

func castToTimestamp(v Value, from Type, k Kind) Value {
	switch from.Kind {
	case String:
		if ts, _, ok := parseTimestamp(v.B, k == TimestampNTZ); ok {
			return Value{Kind: k, I: ts}
		}
	case Date:
		if ts, ok := daysToMicros(v.I); ok {
			return Value{Kind: k, I: ts}
		}
	case Timestamp, TimestampNTZ:
		return Value{Kind: k, I: v.I}
	case Boolean:
		return Value{Kind: k, I: v.I}
	case Byte, Short, Int, Long:
		// Seconds, saturating as TimeUnit.SECONDS.toMicros does.
		x := v.I
		switch {
		case x > math.MaxInt64/microsPerSecond:
			return Value{Kind: k, I: math.MaxInt64}
		case x < math.MinInt64/microsPerSecond:
			return Value{Kind: k, I: math.MinInt64}
		}
		return Value{Kind: k, I: x * microsPerSecond}
	case Float, Double:
		if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
			break
		}
		return Value{Kind: k, I: javaD2L(v.F * microsPerSecond)}
	case Decimal:
		x := decToBig(v, from)
		x.Mul(x, pow10Big(6))
		x.Quo(x, pow10Big(from.Scale))
		return Value{Kind: k, I: low64(x)}
	}
	return nullValue(k)
}

// appendValue appends the text of non-NULL v of type t as Spark's cast to
// STRING writes it.
func appendValue(b []byte, v Value, t Type) []byte {
	switch t.Kind {
	case Boolean:
		if v.I != 0 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case Byte, Short, Int, Long:
		return strconv.AppendInt(b, v.I, 10)
	case Float:
		return appendJavaDouble(b, v.F, 32)
	case Double:
		return appendJavaDouble(b, v.F, 64)
	case Decimal:
		return append(b, decimalString(v, t, false)...)
	case String, Binary:
		return append(b, v.B...)
	case Date:
		return appendDate(b, v.I)
	case Timestamp, TimestampNTZ:
		return appendTimestamp(b, v.I)
	}
	return append(b, "NULL"...)
}

// appendJavaDouble formats f as Java's Double.toString (or Float.toString
// for bits 32) does, with the shortest digits that read back to f: decimal
// notation with at least one fractional digit for magnitudes in [1e-3, 1e7),
// else computerized scientific notation such as 1.0E10 or 1.5E-4.
func appendJavaDouble(b []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	var tmp [32]byte
	s := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits) // d[.ddd]e±xx
	e := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == 'e' {
			e, _ = strconv.Atoi(string(s[i+1:]))
			s = s[:i]
			break
		}
	}
	var digits []byte
	for _, c := range s {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	if f >= 1e-3 && f < 1e7 {
		if e >= 0 {
			if len(digits) <= e+1 {
				b = append(b, digits...)
				for i := len(digits); i <= e; i++ {
					b = append(b, '0')
				}
				return append(b, ".0"...)
			}
			b = append(b, digits[:e+1]...)
			b = append(b, '.')
			return append(b, digits[e+1:]...)
		}
		b = append(b, "0."...)
		for i := 0; i < -e-1; i++ {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	b = append(b, digits[0], '.')
	if len(digits) > 1 {
		b = append(b, digits[1:]...)
	} else {
		b = append(b, '0')
	}
	b = append(b, 'E')
	return strconv.AppendInt(b, int64(e), 10)
}

// CastValue converts v of type from to type to with the semantics of Spark's
// CAST (ANSI mode off): NULL stays NULL, and a value that cannot be converted
// gives NULL. It returns a *TypeError if Spark does not allow the cast. The
// table layer can use it to bring a generation expression's result to its
// column's type.
func CastValue(v Value, from, to Type) (Value, error) {
	from, to = from.normal(), to.normal()
	if !from.valid() || !to.valid() {
		return Value{}, &TypeError{Msg: "invalid type " + from.String() + " or " + to.String()}
	}
	if !canCast(from, to) {
		return Value{}, &TypeError{Msg: "cannot cast " + from.String() + " to " + to.String()}
	}
	if v.Null {
		return nullValue(to.Kind), nil
	}
	if v.Kind != from.Kind {
		return Value{}, &TypeError{Msg: "value of kind " + v.Kind.String() + " given for type " + from.String()}
	}
	r := castValue(normalizeValue(v, from.Kind), from, to)
	if r.Null {
		r.Kind = to.Kind
	}
	return r, nil
}

// FormatValue returns the text of v of type t as Spark's cast to STRING
// writes it, or NULL: handy for messages naming the values of a row that
// violates a constraint.
func FormatValue(v Value, t Type) string {
	if v.Null || t.Kind == Null {
		return "NULL"
	}
	t = t.normal()
	if !t.valid() || v.Kind != t.Kind {
		return "?"
	}
	return string(appendValue(nil, v, t))
}

// normalizeValue brings a row's value within the range of its kind, so that
// wrap-around arithmetic starts from a valid value.
func normalizeValue(v Value, k Kind) Value {
	switch k {
	case Boolean:
		if v.I != 0 {
			v.I = 1
		}
	case Byte, Short, Int:
		v.I = wrapInt(k, v.I)
	case Float:
		v.F = float64(float32(v.F))
	}
	return v
}
