package expr

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Decimals are held as an unscaled integer: int64 when the precision is at
// most 18 (Value.I), *big.Int otherwise (Value.B, two's complement). All
// arithmetic is exact and rounds half up to the result scale, as Spark's
// Decimal.changePrecision does; a result that does not fit its precision is
// NULL (Spark with ANSI mode off).

var pow10i64 = func() (t [19]int64) {
	t[0] = 1
	for i := 1; i < len(t); i++ {
		t[i] = t[i-1] * 10
	}
	return
}()

var pow10Bigs = func() (t [2*MaxPrecision + 2]*big.Int) {
	t[0] = big.NewInt(1)
	ten := big.NewInt(10)
	for i := 1; i < len(t); i++ {
		t[i] = new(big.Int).Mul(t[i-1], ten)
	}
	return
}()

// pow10Big returns 10^n; the result must not be modified.
func pow10Big(n int) *big.Int {
	if n < len(pow10Bigs) {
		return pow10Bigs[n]
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// smallDec tells whether a decimal of type t is held in Value.I.
func smallDec(t Type) bool { return t.Precision <= 18 }

// decToBig returns the unscaled value of decimal v of type t.
func decToBig(v Value, t Type) *big.Int {
	if smallDec(t) {
		return big.NewInt(v.I)
	}
	return twosToBig(v.B)
}

func twosToBig(b []byte) *big.Int {
	x := new(big.Int)
	if len(b) == 0 {
		return x
	}
	if b[0]&0x80 == 0 {
		return x.SetBytes(b)
	}
	inv := make([]byte, len(b))
	for i, c := range b {
		inv[i] = ^c
	}
	x.SetBytes(inv)
	x.Add(x, big.NewInt(1))
	return x.Neg(x)
}

func bigToTwos(x *big.Int) []byte {
	if x.Sign() >= 0 {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	y := new(big.Int).Neg(x)
	y.Sub(y, big.NewInt(1))
	b := y.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

// decFromBig returns the Value of unscaled x of decimal type t; x must fit.
func decFromBig(x *big.Int, t Type) Value {
	if smallDec(t) {
		return Value{Kind: Decimal, I: x.Int64()}
	}
	return Value{Kind: Decimal, B: bigToTwos(x)}
}

// fitsBig tells whether unscaled x fits precision p.
func fitsBig(x *big.Int, p int) bool {
	return x.CmpAbs(pow10Big(p)) < 0
}

func fits64(x int64, p int) bool {
	return p > 18 || x > -pow10i64[p] && x < pow10i64[p]
}

// rescaleBig returns x (of scale from) at scale to, rounding half up.
func rescaleBig(x *big.Int, from, to int) *big.Int {
	if to >= from {
		return new(big.Int).Mul(x, pow10Big(to-from))
	}
	return divRoundHalfUp(x, pow10Big(from-to))
}

// divRoundHalfUp returns n/d rounded half away from zero; d must not be 0.
func divRoundHalfUp(n, d *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if r.Sign() != 0 {
		r.Abs(r).Lsh(r, 1)
		if r.CmpAbs(d) >= 0 {
			if (n.Sign() < 0) != (d.Sign() < 0) {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return q
}

// mulPow10 returns x*10^n and whether it did not overflow.
func mulPow10(x int64, n int) (int64, bool) {
	if n >= len(pow10i64) {
		return 0, x == 0
	}
	m := pow10i64[n]
	if x > math.MaxInt64/m || x < math.MinInt64/m {
		return 0, false
	}
	return x * m, true
}

// rescale64 returns x (of scale from) at scale to, rounding half up, and
// whether it did not overflow int64.
func rescale64(x int64, from, to int) (int64, bool) {
	if to >= from {
		return mulPow10(x, to-from)
	}
	if from-to >= len(pow10i64) {
		return 0, true
	}
	d := pow10i64[from-to]
	q, r := x/d, x%d
	if r < 0 {
		r = -r
	}
	if r >= d-r {
		if x < 0 {
			q--
		} else {
			q++
		}
	}
	return q, true
}

// changeDecimal converts decimal v of type from to type to, rounding half up;
// ok is false when it does not fit.
func changeDecimal(v Value, from, to Type) (Value, bool) {
	if smallDec(from) && smallDec(to) {
		if x, ok := rescale64(v.I, from.Scale, to.Scale); ok {
			if fits64(x, to.Precision) {
				return Value{Kind: Decimal, I: x}, true
			}
			return Value{}, false
		}
	}
	x := rescaleBig(decToBig(v, from), from.Scale, to.Scale)
	if !fitsBig(x, to.Precision) {
		return Value{}, false
	}
	return decFromBig(x, to), true
}

// decimalFromInt converts integer x to decimal type t.
func decimalFromInt(x int64, t Type) (Value, bool) {
	if smallDec(t) {
		if y, ok := mulPow10(x, t.Scale); ok && fits64(y, t.Precision) {
			return Value{Kind: Decimal, I: y}, true
		}
		return Value{}, false
	}
	y := new(big.Int).Mul(big.NewInt(x), pow10Big(t.Scale))
	if !fitsBig(y, t.Precision) {
		return Value{}, false
	}
	return decFromBig(y, t), true
}

// parseBigDecimal parses text as Java's BigDecimal(String) does:
// [sign] digits [. digits] [e [sign] digits], at least one digit.
func parseBigDecimal(text string) (*big.Int, int, bool) {
	s := text
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 1e9 || e < -1e9 {
			return nil, 0, false
		}
		exp = e
		s = s[:i]
	}
	intPart, frac := s, ""
	if i := strings.IndexByte(s, '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	if intPart == "" && frac == "" {
		return nil, 0, false
	}
	digits := intPart + frac
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return nil, 0, false
		}
	}
	digits = strings.TrimLeft(digits, "0")
	u := new(big.Int)
	if digits != "" {
		u.SetString(digits, 10)
	}
	if neg {
		u.Neg(u)
	}
	return u, len(frac) - exp, true
}

// decimalFromString converts s to decimal type t as Spark's cast does: the
// text (trimmed) is a BigDecimal, rounded half up to the scale.
func decimalFromString(s []byte, t Type) (Value, bool) {
	u, scale, ok := parseBigDecimal(string(trimSpaceControl(s)))
	if !ok {
		return Value{}, false
	}
	if u.Sign() == 0 {
		return Value{Kind: Decimal}, true
	}
	// |value| is below 10^(nd-scale) and at least 10^(nd-scale-1).
	nd := len(new(big.Int).Abs(u).Text(10))
	if nd-scale > t.Precision-t.Scale {
		return Value{}, false
	}
	if nd-scale < -t.Scale-1 {
		return Value{Kind: Decimal}, true // rounds to 0
	}
	if scale < 0 {
		u.Mul(u, pow10Big(-scale))
		scale = 0
	}
	x := rescaleBig(u, scale, t.Scale)
	if !fitsBig(x, t.Precision) {
		return Value{}, false
	}
	return decFromBig(x, t), true
}

// decimalFromFloat converts f to decimal type t as Spark does, through the
// shortest decimal representation of f (Scala's BigDecimal(double)).
func decimalFromFloat(f float64, t Type) (Value, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Value{}, false
	}
	return decimalFromString([]byte(strconv.FormatFloat(f, 'e', -1, 64)), t)
}

// decimalToFloat converts decimal v of type t to float64 as Spark does: the
// unscaled long divided by a power of ten, or the exact value rounded.
func decimalToFloat(v Value, t Type) float64 {
	if smallDec(t) {
		return float64(v.I) / float64(pow10i64[t.Scale])
	}
	f, _ := strconv.ParseFloat(decimalString(v, t, false), 64)
	return f
}

// decimalTrunc returns the integral part of decimal v (truncated toward zero)
// as the low 64 bits of its two's complement, as Java's
// BigInteger.longValue does.
func decimalTrunc(v Value, t Type) int64 {
	if smallDec(t) {
		return v.I / pow10i64[t.Scale]
	}
	q := new(big.Int).Quo(decToBig(v, t), pow10Big(t.Scale))
	return low64(q)
}

func low64(q *big.Int) int64 {
	if q.IsInt64() {
		return q.Int64()
	}
	m := new(big.Int).And(q, new(big.Int).SetUint64(math.MaxUint64))
	return int64(m.Uint64())
}

func decSign(v Value, t Type) int {
	if smallDec(t) {
		switch {
		case v.I > 0:
			return 1
		case v.I < 0:
			return -1
		}
		return 0
	}
	return decToBig(v, t).Sign()
}

// compareDecimals compares decimals of possibly different types.
func compareDecimals(a Value, at Type, b Value, bt Type) int {
	if smallDec(at) && smallDec(bt) {
		x, y := a.I, b.I
		okx, oky := true, true
		if at.Scale < bt.Scale {
			x, okx = mulPow10(x, bt.Scale-at.Scale)
		} else if bt.Scale < at.Scale {
			y, oky = mulPow10(y, at.Scale-bt.Scale)
		}
		if okx && oky {
			return cmpInt(x, y)
		}
	}
	x, y := decToBig(a, at), decToBig(b, bt)
	if at.Scale < bt.Scale {
		x.Mul(x, pow10Big(bt.Scale-at.Scale))
	} else if bt.Scale < at.Scale {
		y.Mul(y, pow10Big(at.Scale-bt.Scale))
	}
	return x.Cmp(y)
}

// decimalString formats decimal v of type t as Java's BigDecimal.toString
// does (Spark's cast to string): plain notation unless the value is smaller
// than 1e-6 with trailing scale, then scientific (1.0E-7). With plain set it
// always uses plain notation.
func decimalString(v Value, t Type, plain bool) string {
	var digits string
	neg := false
	if smallDec(t) {
		x := v.I
		neg = x < 0
		digits = strconv.FormatUint(absU64(x), 10)
	} else {
		x := decToBig(v, t)
		neg = x.Sign() < 0
		digits = new(big.Int).Abs(x).String()
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	scale := t.Scale
	if scale == 0 {
		b.WriteString(digits)
		return b.String()
	}
	adjusted := len(digits) - 1 - scale
	if plain || adjusted >= -6 {
		if len(digits) > scale {
			b.WriteString(digits[:len(digits)-scale])
			b.WriteByte('.')
			b.WriteString(digits[len(digits)-scale:])
		} else {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", scale-len(digits)))
			b.WriteString(digits)
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	if len(digits) > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
	b.WriteString("E")
	b.WriteString(strconv.Itoa(adjusted))
	return b.String()
}

func absU64(x int64) uint64 {
	if x < 0 {
		return uint64(-x)
	}
	return uint64(x)
}

// Result types of decimal arithmetic, as Spark's DecimalPrecision computes
// them with spark.sql.decimalOperations.allowPrecisionLoss on (the default).

func adjustPrecisionScale(p, s int) Type {
	if p <= MaxPrecision {
		return Type{Kind: Decimal, Precision: p, Scale: s}
	}
	intDigits := p - s
	minScale := min(s, 6)
	return Type{Kind: Decimal, Precision: MaxPrecision, Scale: max(MaxPrecision-intDigits, minScale)}
}

func decimalResultType(op string, a, b Type) Type {
	p1, s1, p2, s2 := a.Precision, a.Scale, b.Precision, b.Scale
	switch op {
	case "+", "-":
		s := max(s1, s2)
		return adjustPrecisionScale(max(p1-s1, p2-s2)+s+1, s)
	case "*":
		return adjustPrecisionScale(p1+p2+1, s1+s2)
	case "/":
		s := max(6, s1+p2+1)
		return adjustPrecisionScale(p1-s1+s2+s, s)
	default: // %
		s := max(s1, s2)
		return adjustPrecisionScale(min(p1-s1, p2-s2)+s, s)
	}
}

// decimalForIntegral is the decimal type Spark gives an integral operand of a
// decimal operation (DecimalType.forType), or for a literal its digits
// (DecimalType.fromLiteral).
func decimalForIntegral(k Kind, lit bool, v int64) Type {
	if lit {
		n := len(strconv.FormatUint(absU64(v), 10))
		return Type{Kind: Decimal, Precision: n}
	}
	switch k {
	case Byte:
		return Type{Kind: Decimal, Precision: 3}
	case Short:
		return Type{Kind: Decimal, Precision: 5}
	case Int:
		return Type{Kind: Decimal, Precision: 10}
	}
	return Type{Kind: Decimal, Precision: 20}
}

// widerDecimal is Spark's DecimalPrecision.widerDecimalType, bounded to 38.
func widerDecimal(a, b Type) Type {
	s := max(a.Scale, b.Scale)
	r := max(a.Precision-a.Scale, b.Precision-b.Scale)
	return Type{Kind: Decimal, Precision: min(r+s, MaxPrecision), Scale: min(s, MaxPrecision)}
}

// decimalArith computes a op b for decimals of types at and bt into type ot.
func decimalArith(op byte, a Value, at Type, b Value, bt Type, ot Type) (Value, bool) {
	if (op == '+' || op == '-') && smallDec(at) && smallDec(bt) && smallDec(ot) && ot.Scale >= at.Scale && ot.Scale >= bt.Scale {
		// Both operands, brought to the result scale, have fewer than 18
		// digits, so neither they nor their sum overflow int64.
		x, _ := mulPow10(a.I, ot.Scale-at.Scale)
		y, _ := mulPow10(b.I, ot.Scale-bt.Scale)
		var r int64
		if op == '+' {
			r = x + y
		} else {
			r = x - y
		}
		if !fits64(r, ot.Precision) {
			return Value{}, false
		}
		return Value{Kind: Decimal, I: r}, true
	}
	x, y := decToBig(a, at), decToBig(b, bt)
	var r *big.Int
	switch op {
	case '+', '-':
		s := max(at.Scale, bt.Scale)
		x = rescaleBig(x, at.Scale, s)
		y = rescaleBig(y, bt.Scale, s)
		if op == '+' {
			r = x.Add(x, y)
		} else {
			r = x.Sub(x, y)
		}
		r = rescaleBig(r, s, ot.Scale)
	case '*':
		r = rescaleBig(x.Mul(x, y), at.Scale+bt.Scale, ot.Scale)
	case '/':
		if y.Sign() == 0 {
			return Value{}, false
		}
		// (x/10^s1) / (y/10^s2) at scale so = x*10^(s2+so) / (y*10^s1).
		n := x.Mul(x, pow10Big(bt.Scale+ot.Scale))
		d := y.Mul(y, pow10Big(at.Scale))
		r = divRoundHalfUp(n, d)
	case '%':
		if y.Sign() == 0 {
			return Value{}, false
		}
		s := max(at.Scale, bt.Scale)
		x = rescaleBig(x, at.Scale, s)
		y = rescaleBig(y, bt.Scale, s)
		r = rescaleBig(x.Rem(x, y), s, ot.Scale)
	}
	if !fitsBig(r, ot.Precision) {
		return Value{}, false
	}
	return decFromBig(r, ot), true
}

// decimalIntDiv computes a DIV b for decimals: the quotient truncated toward
// zero, as a BIGINT (low 64 bits).
func decimalIntDiv(a Value, at Type, b Value, bt Type) (int64, bool) {
	x, y := decToBig(a, at), decToBig(b, bt)
	if y.Sign() == 0 {
		return 0, false
	}
	n := x.Mul(x, pow10Big(bt.Scale))
	d := y.Mul(y, pow10Big(at.Scale))
	return low64(n.Quo(n, d)), true
}

func decimalNeg(v Value, t Type) Value {
	if smallDec(t) {
		return Value{Kind: Decimal, I: -v.I}
	}
	x := decToBig(v, t)
	return decFromBig(x.Neg(x), t)
}
