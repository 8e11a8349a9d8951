package expr

import "testing"

// MayBeTrue prunes only what no row in the bounds can match.
func TestMayBeTrue(t *testing.T) {
	types := []Type{{Kind: Long}, {Kind: String}, {Kind: Double}, {Kind: Date}}
	names := []string{"x", "s", "d", "day"}
	resolve := func(name string) (int, Type, bool) {
		for i, n := range names {
			if n == name {
				return i, types[i], true
			}
		}
		return 0, Type{}, false
	}
	lo := Values{{Kind: Long, I: 10}, {Kind: String, B: []byte("b")}, {Kind: Double, F: 1}, {Kind: Date, I: 19875}}
	hi := Values{{Kind: Long, I: 20}, {Kind: String, B: []byte("m")}, {Kind: Double, F: 2}, {Kind: Date, I: 19876}}
	unknown := Values{{Null: true}, {Null: true}, {Null: true}, {Null: true}}
	for _, c := range []struct {
		src  string
		want bool
	}{
		{"x = 15", true}, {"x = 21", false}, {"x = 10", true}, {"x < 10", false}, {"x <= 10", true},
		{"x > 20", false}, {"x >= 20", true}, {"x <> 15", true}, {"25 < x", false}, {"x BETWEEN 21 AND 30", false},
		{"x BETWEEN 5 AND 10", true}, {"x IN (1, 2, 30)", false}, {"x IN (1, 12)", true},
		{"s = 'a'", false}, {"s >= 'c' AND s < 'd'", true}, {"s > 'z'", false},
		{"x = 1 OR s = 'c'", true}, {"x = 1 OR s = 'z'", false}, {"x = 1 AND s = 'c'", false},
		{"d > 5", true}, {"d < 0.5", false}, {"d = 3", false},
		{"day = DATE '2024-06-01'", true}, {"day = '2024-06-03'", false}, {"day >= '2024-06-02'", true},
		{"NOT (x = 1)", true}, {"x + 1 = 100", true}, {"x IS NULL", true}, {"length(s) > 100", true},
	} {
		p, err := Compile(c.src, resolve)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		if got := p.MayBeTrue(lo, hi); got != c.want {
			t.Errorf("%s: MayBeTrue = %v, want %v", c.src, got, c.want)
		}
		if !p.MayBeTrue(unknown, unknown) {
			t.Errorf("%s: pruned with unknown bounds", c.src)
		}
	}
}
