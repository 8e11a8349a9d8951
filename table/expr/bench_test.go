package expr

import "testing"

// BenchmarkEval evaluates a CHECK constraint of three comparisons over INT
// and STRING columns, the common shape of constraints, on one row.
func BenchmarkEval(b *testing.B) {
	p, err := Compile("x > 3 AND s <> 'forbidden' AND i BETWEEN 0 AND 100", testResolve)
	if err != nil {
		b.Fatal(err)
	}
	var row Row = testRow()
	b.ReportAllocs()
	for b.Loop() {
		v, err := p.Eval(row)
		if err != nil || v.I != 1 {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkEvalGenerated evaluates a typical generated column expression
// that builds a string.
func BenchmarkEvalGenerated(b *testing.B) {
	p, err := Compile("date_format(ts, 'yyyy-MM-dd-HH')", testResolve)
	if err != nil {
		b.Fatal(err)
	}
	var row Row = testRow()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Eval(row); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvalDate evaluates CAST(ts AS DATE) and YEAR(ts), the generated
// columns Delta's documentation shows.
func BenchmarkEvalDate(b *testing.B) {
	p, err := Compile("YEAR(eventTime) * 10000 + MONTH(eventTime) * 100 + DAY(CAST(eventTime AS DATE))", testResolve)
	if err != nil {
		b.Fatal(err)
	}
	var row Row = testRow()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Eval(row); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile("x > 3 AND s <> 'forbidden' AND i BETWEEN 0 AND 100", testResolve); err != nil {
			b.Fatal(err)
		}
	}
}
