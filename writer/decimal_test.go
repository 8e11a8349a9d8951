package writer

import (
	"bytes"
	"math"
	"math/big"
	"testing"

	"github.com/sluicelake/sluice/table"
)

func bigInt(t *testing.T, s string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		t.Fatalf("bad test value %q", s)
	}
	return v
}

// TestIntRangeDecimal: decimals up to 18 digits are int64-backed and bounded by
// ±(10^p - 1); wider ones have no int64 range.
func TestIntRangeDecimal(t *testing.T) {
	for _, c := range []struct {
		precision int
		lo, hi    int64
	}{
		{1, -9, 9},
		{9, -999_999_999, 999_999_999},
		{10, -9_999_999_999, 9_999_999_999},
		{18, -999_999_999_999_999_999, 999_999_999_999_999_999},
		{19, 0, 0},
		{38, 0, 0},
	} {
		lo, hi := IntRange(&table.DecimalType{Precision: c.precision, Scale: 0})
		if lo != c.lo || hi != c.hi {
			t.Errorf("IntRange(decimal(%d,0)) = %d, %d; want %d, %d", c.precision, lo, hi, c.lo, c.hi)
		}
	}
}

// TestParseDecimal: text becomes the unscaled value exactly or not at all: digits past
// the scale must be zeros (no rounding), and the value must fit an int64.
func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in    string
		scale int
		want  int64
		ok    bool
	}{
		{"12.34", 2, 1234, true}, {"12.3", 2, 1230, true}, {"12", 2, 1200, true},
		{"-0.05", 2, -5, true}, {"1.230", 2, 123, true}, {"1.234", 2, 0, false},
		{"1e5", 0, 100000, true}, {"1.5e1", 0, 15, true}, {"1e-3", 2, 0, false}, {"", 0, 0, false}, {"99999999999999999999", 0, 0, false},

		// not decimal text: refused, never read as something else
		{".", 0, 0, false}, {"-.", 0, 0, false}, {"--1e5", 0, 0, false}, {"0x1e", 0, 0, false},
		{"1/4", 2, 0, false}, {"1e", 0, 0, false}, {"1e+", 0, 0, false}, {"1.2.3", 2, 0, false},
		{"+1", 0, 0, false}, {" 1", 0, 0, false}, {"1.", 0, 1, true}, {".5", 1, 5, true}, {"1E+2", 0, 100, true},

		// no rounding, either way
		{"1.235", 2, 0, false},
		{"-1.235", 2, 0, false},
		{"1.5", 0, 0, false},
		{"1.0", 0, 1, true},
		{"-7.000000", 3, -7000, true},
		{"0.001", 2, 0, false},
		// exponents, exact or refused
		{"1.25e-1", 3, 125, true},
		{"-1.5E1", 0, -15, true},
		{"1.25e-1", 2, 0, false},
		{"1e19", 0, 0, false},
		// int64 bounds, before and after scaling
		{"9223372036854775807", 0, math.MaxInt64, true},
		{"-9223372036854775807", 0, -math.MaxInt64, true},
		{"-9223372036854775808", 0, 0, false},
		{"92233720368547758", 2, 9223372036854775800, true},
		{"92233720368547759", 2, 0, false},
		// decimal(18) extremes: the caller checks the precision (IntRange)
		{"999999999999999999", 0, 999_999_999_999_999_999, true},
		{"-9999999999.99999999", 8, -999_999_999_999_999_999, true},
		// not numbers
		{"-", 0, 0, false},
		{"+1", 0, 0, false},
		{"1.2.3", 2, 0, false},
		{"0x10", 0, 0, false},
		{"1_000", 0, 0, false},
	}
	for _, c := range cases {
		got, ok := ParseDecimal([]byte(c.in), c.scale)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("ParseDecimal(%q,%d) = %d,%v want %d,%v", c.in, c.scale, got, ok, c.want, c.ok)
		}
	}
}

// TestWideDecimalParse: decimals wider than 18 digits parse into two's complement bytes,
// exactly or not at all.
func TestWideDecimalParse(t *testing.T) {
	dec38 := &table.DecimalType{Precision: 38, Scale: 10}
	dec20 := &table.DecimalType{Precision: 20, Scale: 0}
	cases := []struct {
		typ  *table.DecimalType
		in   string
		want string // unscaled; empty when refused
	}{
		{dec38, "12345678901234567890.1234567890", "123456789012345678901234567890"},
		{dec38, "-12345678901234567890.123456789", "-123456789012345678901234567890"},
		{dec38, "0", "0"},
		{dec38, "-0.0000000001", "-1"},
		{dec38, "1.50000000000000", "15000000000"},
		{dec38, "9999999999999999999999999999.9999999999", "99999999999999999999999999999999999999"},
		{dec38, "-9999999999999999999999999999.9999999999", "-99999999999999999999999999999999999999"},
		{dec38, "10000000000000000000000000000", ""},
		{dec38, "-10000000000000000000000000000", ""},
		{dec38, "0.12345678901", ""},
		{dec38, "1e27", "10000000000000000000000000000000000000"},
		{dec38, "1e28", ""},
		{dec38, "1e-10", "1"},
		{dec38, "1e-11", ""},
		{dec38, "abc", ""},
		{dec38, "", ""},
		{dec38, "1/4", ""}, // big.Rat would read these
		{dec38, "0x10", ""},
		{dec38, "--1", ""},
		{dec38, ".", ""},
		{dec20, "99999999999999999999", "99999999999999999999"},
		{dec20, "-99999999999999999999", "-99999999999999999999"},
		{dec20, "100000000000000000000", ""},
		{dec20, "0.5", ""},
		{dec20, "-128", "-128"},
	}
	for _, c := range cases {
		got, ok := NewWideDecimal(c.typ).Parse([]byte(c.in))
		if c.want == "" {
			if ok {
				t.Errorf("%s: Parse(%q) = % x, want refusal", c.typ, c.in, got)
			}
			continue
		}
		if want := TwosComplement(bigInt(t, c.want)); !ok || !bytes.Equal(got, want) {
			t.Errorf("%s: Parse(%q) = % x, %v; want % x", c.typ, c.in, got, ok, want)
		}
	}
}

// TestWideDecimalFits: two's complement bytes of any length fit when their value is
// within ±(10^p - 1).
func TestWideDecimalFits(t *testing.T) {
	for _, p := range []int{19, 20, 38} {
		w := NewWideDecimal(&table.DecimalType{Precision: p, Scale: 2})
		limit := new(big.Int).Sub(pow10(p), big.NewInt(1))
		one := big.NewInt(1)
		for _, c := range []struct {
			v  *big.Int
			ok bool
		}{
			{limit, true},
			{new(big.Int).Neg(limit), true},
			{new(big.Int).Add(limit, one), false},
			{new(big.Int).Sub(new(big.Int).Neg(limit), one), false},
			{big.NewInt(0), true},
			{big.NewInt(-1), true},
			{big.NewInt(math.MinInt64), true},
			{new(big.Int).Lsh(one, 200), false},
			{new(big.Int).Neg(new(big.Int).Lsh(one, 200)), false},
		} {
			b := TwosComplement(c.v)
			if got := w.Fits(b); got != c.ok {
				t.Errorf("decimal(%d): Fits(%s) = %v, want %v", p, c.v, got, c.ok)
			}
			// Sign-extended, as a fixed or padded field carries it, the answer is the same.
			ext, _ := signExtend(bytes.Clone(b), 40)
			if got := w.Fits(ext); got != c.ok {
				t.Errorf("decimal(%d): Fits(% x) = %v, want %v", p, ext, got, c.ok)
			}
		}
		if !w.Fits(nil) {
			t.Errorf("decimal(%d): Fits(nil) = false; no bytes is zero", p)
		}
	}
}

func TestTwosComplement(t *testing.T) {
	for _, c := range []struct {
		v    string
		want []byte
	}{
		{"0", []byte{0x00}},
		{"1", []byte{0x01}},
		{"127", []byte{0x7f}},
		{"128", []byte{0x00, 0x80}},
		{"255", []byte{0x00, 0xff}},
		{"-1", []byte{0xff}},
		{"-128", []byte{0x80}},
		{"-129", []byte{0xff, 0x7f}},
		{"-256", []byte{0xff, 0x00}},
		{"9223372036854775808", []byte{0x00, 0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"-9223372036854775809", []byte{0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	} {
		got := TwosComplement(bigInt(t, c.v))
		if !bytes.Equal(got, c.want) {
			t.Errorf("TwosComplement(%s) = % x, want % x", c.v, got, c.want)
		}
		if trimmed := TrimTwosComplement(got); !bytes.Equal(trimmed, got) {
			t.Errorf("TrimTwosComplement(% x) = % x: TwosComplement is already minimal", got, trimmed)
		}
	}
}

func TestTrimTwosComplement(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{0x00}, []byte{0x00}},
		{[]byte{0x00, 0x00}, []byte{0x00}},
		{[]byte{0xff, 0xff}, []byte{0xff}},
		{[]byte{0x00, 0x00, 0x80}, []byte{0x00, 0x80}},
		{[]byte{0xff, 0xff, 0x7f}, []byte{0xff, 0x7f}},
		{[]byte{0xff, 0x80}, []byte{0x80}},
		{[]byte{0x00, 0x7f}, []byte{0x7f}},
	} {
		if got := TrimTwosComplement(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("TrimTwosComplement(% x) = % x, want % x", c.in, got, c.want)
		}
	}
}

func TestTwosComplementInt64(t *testing.T) {
	ints := []struct {
		in   []byte
		want int64
		ok   bool
	}{
		{nil, 0, true},
		{[]byte{0x00}, 0, true},
		{[]byte{0xff}, -1, true},
		{[]byte{0x00, 0x00, 0x80}, 128, true},
		{[]byte{0xff, 0xff, 0x7f}, -129, true},
		{[]byte{0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, math.MaxInt64, true},
		{[]byte{0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, math.MinInt64, true},
		{[]byte{0x00, 0x80, 0, 0, 0, 0, 0, 0, 0}, 0, false}, // 2^63
		{[]byte{0x01, 0, 0, 0, 0, 0, 0, 0, 0}, 0, false},
	}
	for _, c := range ints {
		got, ok := TwosComplementInt64(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("TwosComplementInt64(% x) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestDecimalBytes: a wide decimal's fixed length is the fewest bytes whose two's
// complement holds 10^p - 1.
func TestDecimalBytes(t *testing.T) {
	for p := MaxInt64DecimalPrecision + 1; p <= 38; p++ {
		n := decimalBytes(p)
		largest := new(big.Int).Sub(pow10(p), big.NewInt(1))
		if got := len(TwosComplement(largest)); got != n {
			t.Errorf("decimalBytes(%d) = %d, but 10^%d - 1 takes %d bytes", p, n, p, got)
		}
	}
	if got := decimalBytes(38); got != 16 {
		t.Errorf("decimalBytes(38) = %d, want 16 as Spark writes", got)
	}
}

func TestSignExtend(t *testing.T) {
	for _, c := range []struct {
		in   []byte
		n    int
		want []byte // nil: refused
	}{
		{nil, 3, []byte{0, 0, 0}},
		{[]byte{0x01}, 3, []byte{0, 0, 0x01}},
		{[]byte{0x80}, 3, []byte{0xff, 0xff, 0x80}},
		{[]byte{0x00, 0x80}, 3, []byte{0, 0, 0x80}},
		{[]byte{0x12, 0x34, 0x56}, 3, []byte{0x12, 0x34, 0x56}},
		{[]byte{0x00, 0x00, 0x7f}, 1, []byte{0x7f}},
		{[]byte{0xff, 0xff, 0x80}, 1, []byte{0x80}},
		{[]byte{0x00, 0x80}, 1, nil}, // 128 needs its sign byte
		{[]byte{0xff, 0x7f}, 1, nil}, // -129 likewise
		{[]byte{0x01, 0x00}, 1, nil},
	} {
		got, ok := signExtend(bytes.Clone(c.in), c.n)
		if ok != (c.want != nil) || !bytes.Equal(got, c.want) {
			t.Errorf("signExtend(% x, %d) = % x, %v; want % x", c.in, c.n, got, ok, c.want)
		}
	}
}

func TestCompareTwosComplement(t *testing.T) {
	values := []string{"-99999999999999999999", "-129", "-128", "-1", "0", "1", "127", "128", "99999999999999999999"}
	for i, a := range values {
		for j, b := range values {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			ta, tb := TwosComplement(bigInt(t, a)), TwosComplement(bigInt(t, b))
			if got := compareTwosComplement(ta, tb); got != want {
				t.Errorf("trimmed: compare(%s, %s) = %d, want %d", a, b, got, want)
			}
			fa, _ := signExtend(bytes.Clone(ta), 9)
			fb, _ := signExtend(bytes.Clone(tb), 9)
			if got := compareTwosComplement(fa, fb); got != want {
				t.Errorf("fixed length: compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestFormatDecimal: partition values and statistics render both layouts as Spark
// does: the point scale digits from the right, a leading zero, the sign in front.
func TestFormatDecimal(t *testing.T) {
	for _, c := range []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{1234, 2, "12.34"},
		{-5, 2, "-0.05"},
		{0, 4, "0.0000"},
		{5, 0, "5"},
		{-123, 3, "-0.123"},
		{math.MaxInt64, 18, "9.223372036854775807"},
		{-999_999_999_999_999_999, 18, "-0.999999999999999999"},
	} {
		if got := formatDecimal(c.unscaled, c.scale); got != c.want {
			t.Errorf("formatDecimal(%d, %d) = %q, want %q", c.unscaled, c.scale, got, c.want)
		}
	}
	for _, c := range []struct {
		precision, scale int
		unscaled         string
		want             string
	}{
		{38, 2, "99999999999999999999999999999999999999", "999999999999999999999999999999999999.99"},
		{38, 2, "-99999999999999999999999999999999999999", "-999999999999999999999999999999999999.99"},
		{38, 10, "123456789012345678901234567890", "12345678901234567890.1234567890"},
		{38, 0, "-1", "-1"},
		{38, 38, "-1", "-0.00000000000000000000000000000000000001"},
		{20, 0, "0", "0"},
		{19, 19, "-9999999999999999999", "-0.9999999999999999999"},
		{19, 4, "-5", "-0.0005"},
	} {
		fixed, ok := signExtend(TwosComplement(bigInt(t, c.unscaled)), decimalBytes(c.precision))
		if !ok {
			t.Fatalf("%s does not fit decimal(%d)", c.unscaled, c.precision)
		}
		if got := formatBigDecimal(fixed, c.scale); got != c.want {
			t.Errorf("formatBigDecimal(%s, decimal(%d,%d)) = %q, want %q", c.unscaled, c.precision, c.scale, got, c.want)
		}
	}
}

// TestWiderDecimal: the narrowest decimal that type widening can turn a column into
// and that holds the value: more digits before the point keep the scale, more after
// it raise scale and precision together.
func TestWiderDecimal(t *testing.T) {
	for _, c := range []struct {
		text string
		p, s int
		want string // "" when none does
	}{
		{"1234.5", 5, 2, "decimal(6,2)"},
		{"1.234", 5, 2, "decimal(6,3)"},
		{"-1234.567", 5, 2, "decimal(7,3)"},
		{"0.00001", 5, 2, "decimal(8,5)"},
		{"1.5e3", 3, 1, "decimal(5,1)"},
		{"120000000000000000000", 18, 0, "decimal(21,0)"},
		{"1e40", 10, 0, ""},
		{"1e-40", 10, 0, ""},
		{"1/2", 10, 0, ""},
		{"abc", 10, 0, ""},
	} {
		got, ok := WiderDecimal([]byte(c.text), &table.DecimalType{Precision: c.p, Scale: c.s})
		switch {
		case c.want == "" && ok:
			t.Errorf("WiderDecimal(%s, decimal(%d,%d)) = %s, want none", c.text, c.p, c.s, got)
		case c.want != "" && (!ok || got.String() != c.want):
			t.Errorf("WiderDecimal(%s, decimal(%d,%d)) = %v, %v; want %s", c.text, c.p, c.s, got, ok, c.want)
		}
	}
}

func TestScaleTwosComplement(t *testing.T) {
	for _, c := range []struct {
		v    string
		k    int
		want string
	}{
		{"0", 2, "0"}, {"125", 2, "12500"}, {"-125", 2, "-12500"}, {"-1", 20, "-100000000000000000000"},
		{"123456789012345678901234567890", 3, "123456789012345678901234567890000"},
	} {
		got := ScaleTwosComplement(TwosComplement(bigInt(t, c.v)), c.k)
		if want := TwosComplement(bigInt(t, c.want)); !bytes.Equal(got, want) {
			t.Errorf("ScaleTwosComplement(%s, %d) = %x, want %x", c.v, c.k, got, want)
		}
	}
	if got := ScaleTwosComplement(nil, 3); !bytes.Equal(got, []byte{0}) {
		t.Errorf("no bytes: %x, want 00", got)
	}
}
