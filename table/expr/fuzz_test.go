package expr

import (
	"errors"
	"testing"
)

// FuzzCompile checks that Compile never panics, and that a compiled program
// evaluates without panicking on a row of NULLs, a row of zero values and
// the test row, giving a result of its type.
func FuzzCompile(f *testing.F) {
	for _, c := range evalCases {
		f.Add(c.src)
	}
	for _, s := range []string{
		"a.b > 1", "foo(x)", "(select 1)", "x >", "'a' + true", "s LIKE s", "CAST(s AS TIMESTAMP)",
		"CAST(s AS DECIMAL(38,10)) * big", "big / nbig", "date_format(ts, 'yyyy-MM-dd HH:mm:ss.SSSSSS a E D')",
		"substring(s, i, l)", "CAST(f AS DECIMAL(38,0))", "d + i", "CAST(big AS TIMESTAMP)",
		"CAST(l AS TIMESTAMP) > ts", "CAST(s AS DATE) IN (d, '2020-01-01')", "trunc(d, s)",
	} {
		f.Add(s)
	}
	nulls := make(Values, len(testCols))
	zeros := make(Values, len(testCols))
	for i, c := range testCols {
		nulls[i] = Value{Null: true}
		zeros[i] = Value{Kind: c.t.Kind}
	}
	rows := []Row{nulls, zeros, testRow()}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, testResolve)
		if err != nil {
			var se *SyntaxError
			var ue *UnsupportedError
			var te *TypeError
			var ce *UnknownColumnError
			if !errors.As(err, &se) && !errors.As(err, &ue) && !errors.As(err, &te) && !errors.As(err, &ce) {
				t.Fatalf("Compile(%q): unexpected error type %T: %v", src, err, err)
			}
			_ = err.Error()
			return
		}
		typ := p.Type()
		if !typ.valid() {
			t.Fatalf("Compile(%q): invalid type %v", src, typ)
		}
		for _, row := range rows {
			v, err := p.Eval(row)
			if err != nil {
				var ee *EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("Eval(%q): unexpected error type %T: %v", src, err, err)
				}
				continue
			}
			if v.Kind != typ.Kind {
				t.Fatalf("Eval(%q) = kind %v, want %v", src, v.Kind, typ)
			}
			_ = FormatValue(v, typ)
		}
	})
}
