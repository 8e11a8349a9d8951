package writer

import (
	"bytes"
	"math"
	"math/big"
	"slices"
	"strconv"

	"github.com/sluicelake/sluice/table"
)

// Decimals are stored as Spark writes them: the unscaled value (the decimal times
// 10^scale) as INT32 up to 9 digits, INT64 up to 18, and beyond that as big-endian two's
// complement in a FIXED_LEN_BYTE_ARRAY just long enough for 10^precision - 1. The Buffer
// takes the unscaled value through SetInt up to MaxInt64DecimalPrecision digits and
// through SetBytes beyond. The conversions into those forms (from text, from Avro's
// two's complement bytes) and back to text (partition values, statistics) live here,
// with the layout they depend on; package schema calls the exported ones.

const (
	// MaxInt64DecimalPrecision is the widest decimal whose unscaled value is an int64
	// (SetInt, Nest.Int); wider decimals take two's complement bytes (SetBytes,
	// Nest.Bytes).
	MaxInt64DecimalPrecision = 18
	// maxInt32DecimalPrecision is the widest decimal stored as INT32.
	maxInt32DecimalPrecision = 9
)

// pow10 is 10^n, and 1 for n <= 0.
func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// decimalBytes is the fixed length of a decimal(p>18) value: the fewest bytes holding
// 10^p - 1 in two's complement, as Spark writes it.
func decimalBytes(precision int) int {
	n := 1
	for {
		// Largest value storable in n bytes is 2^(8n-1)-1; compare digit counts.
		if float64(8*n-1)*0.30102999566398120 >= float64(precision) {
			return n
		}
		n++
	}
}

// ParseDecimal parses decimal text, a JSON number or a numeric string, into the
// unscaled value of a decimal with the given scale. It never rounds: text with more
// non-zero fractional digits than scale fails, as does a value beyond int64; checking
// the column's precision is the caller's part (IntRange). Text without an exponent
// allocates nothing.
func ParseDecimal(text []byte, scale int) (unscaled int64, ok bool) {
	b := text
	if len(b) == 0 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	if bytes.IndexAny(b, "eE") >= 0 {
		return parseDecimalExp(b, neg, scale)
	}
	var v int64
	fracDigits, digits := -1, 0
	for _, c := range b {
		switch {
		case c == '.' && fracDigits < 0:
			fracDigits = 0
		case c >= '0' && c <= '9':
			if fracDigits >= 0 {
				if fracDigits == scale {
					if c != '0' {
						return 0, false // would lose digits
					}
					continue
				}
				fracDigits++
			}
			digits++
			if v > (math.MaxInt64-int64(c-'0'))/10 {
				return 0, false
			}
			v = v*10 + int64(c-'0')
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false // "." or "-."
	}
	for range scale - max(fracDigits, 0) {
		if v > math.MaxInt64/10 {
			return 0, false
		}
		v *= 10
	}
	if neg {
		v = -v
	}
	return v, true
}

// parseDecimalExp handles numbers with an exponent exactly (rare: it allocates).
func parseDecimalExp(b []byte, neg bool, scale int) (int64, bool) {
	if !isDecimalText(b) {
		return 0, false
	}
	r, ok := new(big.Rat).SetString(string(b))
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt(pow10(scale)))
	if !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	v := r.Num().Int64()
	if neg {
		v = -v
	}
	return v, true
}

// WiderDecimal returns the narrowest decimal type that type widening can turn t into
// (PROTOCOL.md, "Type Widening": decimal(p+k1,s+k2) with k1 >= k2 >= 0) and that holds
// decimal text exactly, for a value that does not fit t; ok is false when the text is
// no number or needs more than 38 digits. It allocates.
func WiderDecimal(text []byte, t *table.DecimalType) (wider *table.DecimalType, ok bool) {
	if bytes.IndexByte(text, '/') >= 0 { // big.Rat reads fractions; decimal text has none
		return nil, false
	}
	r, ok := new(big.Rat).SetString(string(text))
	if !ok {
		return nil, false
	}
	scale := t.Scale
	for !new(big.Rat).Mul(r, new(big.Rat).SetInt(pow10(scale))).IsInt() {
		if scale++; scale > 38 {
			return nil, false
		}
	}
	whole := new(big.Int).Quo(r.Num(), r.Denom())
	digits := 0
	if whole.Sign() != 0 {
		digits = len(whole.Abs(whole).String())
	}
	precision := max(t.Precision-t.Scale, digits) + scale
	if precision > 38 {
		return nil, false
	}
	return &table.DecimalType{Precision: precision, Scale: scale}, true
}

// WideDecimal parses and bounds the values of one decimal column wider than
// MaxInt64DecimalPrecision digits. Decoders build one per column when they compile
// their plan, because the powers of ten it holds take big-number arithmetic.
type WideDecimal struct {
	scale *big.Rat // 10^scale
	limit *big.Int // 10^precision: every unscaled value is smaller in magnitude
	// smallest and largest are the unscaled bounds -(10^precision - 1) and
	// 10^precision - 1 as sign-trimmed two's complement, so that Fits compares
	// message bytes with them without converting.
	smallest, largest []byte
}

// NewWideDecimal prepares the parsing and bounds of a decimal column's values.
func NewWideDecimal(t *table.DecimalType) *WideDecimal {
	limit := pow10(t.Precision)
	largest := new(big.Int).Sub(limit, big.NewInt(1))
	return &WideDecimal{
		scale:    new(big.Rat).SetInt(pow10(t.Scale)),
		limit:    limit,
		smallest: TwosComplement(new(big.Int).Neg(largest)),
		largest:  TwosComplement(largest),
	}
}

// Parse parses decimal text exactly into the unscaled value in big-endian two's
// complement, as SetBytes takes it; ok is false when the value has more fractional
// digits than the scale or more digits than the precision. Text is anything big.Rat
// reads. It allocates; wide decimals are rare.
func (w *WideDecimal) Parse(text []byte) (unscaled []byte, ok bool) {
	if !isDecimalText(bytes.TrimPrefix(text, []byte("-"))) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(string(text))
	if !ok {
		return nil, false
	}
	r.Mul(r, w.scale)
	if !r.IsInt() {
		return nil, false
	}
	v := r.Num()
	if v.CmpAbs(w.limit) >= 0 {
		return nil, false
	}
	return TwosComplement(v), true
}

// Fits reports whether an unscaled value in big-endian two's complement, of any length
// (no bytes is zero), lies within the column's precision. It allocates nothing.
func (w *WideDecimal) Fits(unscaled []byte) bool {
	b := TrimTwosComplement(unscaled)
	if len(b) == 0 {
		return true
	}
	return compareTwosComplement(b, w.smallest) >= 0 && compareTwosComplement(b, w.largest) <= 0
}

// TwosComplement renders v as a minimal big-endian two's complement integer, the form
// SetBytes and Nest.Bytes take for a wide decimal's unscaled value.
func TwosComplement(v *big.Int) []byte { return table.TwosComplement(v) }

// ScaleTwosComplement multiplies a big-endian two's complement integer (no bytes is
// zero) by 10^k: the unscaled value of a decimal read into a column whose scale is k
// larger. It allocates.
func ScaleTwosComplement(b []byte, k int) []byte {
	v := new(big.Int)
	if len(b) > 0 {
		v.SetBytes(b)
		if b[0]&0x80 != 0 {
			v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		}
	}
	return TwosComplement(v.Mul(v, pow10(k)))
}

// TrimTwosComplement drops the leading bytes of a big-endian two's complement integer
// that only repeat its sign. The result aliases b.
func TrimTwosComplement(b []byte) []byte {
	for len(b) > 1 && ((b[0] == 0 && b[1]&0x80 == 0) || (b[0] == 0xff && b[1]&0x80 != 0)) {
		b = b[1:]
	}
	return b
}

// TwosComplementInt64 reads a big-endian two's complement integer, as Avro encodes a
// decimal's unscaled value; ok is false when it has more than 8 significant bytes. No
// bytes is zero.
func TwosComplementInt64(b []byte) (v int64, ok bool) {
	b = TrimTwosComplement(b)
	if len(b) == 0 {
		return 0, true
	}
	if len(b) > 8 {
		return 0, false
	}
	v = int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, true
}

// compareTwosComplement orders big-endian two's complement integers that are either of
// equal length (fixed-length column values) or both sign-trimmed, where the longer of
// two with the same sign has the larger magnitude.
func compareTwosComplement(a, b []byte) int {
	an, bn := a[0]&0x80 != 0, b[0]&0x80 != 0
	switch {
	case an && !bn:
		return -1
	case !an && bn:
		return 1
	case len(a) != len(b):
		if (len(a) > len(b)) != an {
			return 1
		}
		return -1
	}
	return bytes.Compare(a, b)
}

// signExtend widens (or narrows, when only sign bytes are lost) a big-endian two's
// complement integer to n bytes, reusing b's storage when it can.
func signExtend(b []byte, n int) ([]byte, bool) {
	if len(b) == 0 {
		b = append(b, 0)
	}
	neg := b[0]&0x80 != 0
	pad := byte(0)
	if neg {
		pad = 0xff
	}
	for len(b) > n {
		if b[0] != pad || (b[1]&0x80 != 0) != neg {
			return nil, false
		}
		b = b[1:]
	}
	m := len(b)
	if m == n {
		return b, true
	}
	b = slices.Grow(b, n-m)[:n]
	copy(b[n-m:], b[:m])
	for i := range n - m {
		b[i] = pad
	}
	return b, true
}

// formatDecimal renders an unscaled value with scale digits after the point.
func formatDecimal(unscaled int64, scale int) string {
	return placePoint(strconv.FormatInt(unscaled, 10), scale)
}

// formatBigDecimal renders an unscaled value given as non-empty big-endian two's
// complement bytes (a wide decimal, sign-extended by checkPrimitive) with scale digits
// after the point.
func formatBigDecimal(b []byte, scale int) string {
	v := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return placePoint(v.String(), scale)
}

// placePoint puts the decimal point scale digits from the right of an integer's text.
func placePoint(s string, scale int) string {
	if scale == 0 {
		return s
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	for len(s) <= scale {
		s = "0" + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// isDecimalText reports whether b, without its sign, is decimal text: digits with an
// optional point (at least one digit), then an optional exponent. big.Rat alone would
// also take "0x1e", "1/4" or a second sign.
func isDecimalText(b []byte) bool {
	i, digits := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		digits++
	}
	if i < len(b) && b[i] == '.' {
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(b)
}
