package expr

import "sort"

// Resolver maps a column name, as written in the expression (backquotes
// removed), to the column's index in the rows given to Eval and its type.
// Spark resolves names case-insensitively, so a Resolver should too; it
// reports ok false for an unknown name.
type Resolver func(name string) (index int, t Type, ok bool)

// Program is a compiled expression. It is immutable and safe for concurrent
// use by several goroutines.
type Program struct {
	src  string
	root node
	typ  Type
	cols []int
}

// Compile parses src, resolves its columns with resolve and checks types. The
// error is a *SyntaxError, *UnsupportedError, *TypeError or
// *UnknownColumnError. Compile does not require any particular result type:
// callers check Program.Type (BOOLEAN for constraints and invariants, the
// column's type, or a type castable to it, for generated columns).
func Compile(src string, resolve Resolver) (*Program, error) {
	if resolve == nil {
		resolve = func(string) (int, Type, bool) { return 0, Type{}, false }
	}
	a, err := parse(src)
	if err != nil {
		return nil, err
	}
	c := &checker{src: src, res: resolve}
	e, err := c.check(a)
	if err != nil {
		return nil, err
	}
	p := &Program{src: src, root: e.n, typ: e.t}
	sort.Ints(c.cols)
	for i, col := range c.cols {
		if i == 0 || col != c.cols[i-1] {
			p.cols = append(p.cols, col)
		}
	}
	return p, nil
}

// Source returns the expression the program was compiled from.
func (p *Program) Source() string { return p.src }

// Type returns the type of the expression's result.
func (p *Program) Type() Type { return p.typ }

// Columns returns the indexes of the columns the expression reads, in
// increasing order and without duplicates; the slice is the caller's.
func (p *Program) Columns() []int { return append([]int(nil), p.cols...) }

// Eval evaluates the expression on row, which may be nil when Columns is
// empty. The result has the Kind of Type() (NULL included). Evaluation
// follows Spark with ANSI mode off: division and remainder by zero are NULL,
// failed casts are NULL, integer overflow wraps around and decimal overflow
// is NULL. The error, an *EvalError, only reports a row Eval cannot read (a
// value whose Kind is not its column's) or an invalid LIKE pattern taken from
// the row. Eval does not allocate unless it builds a string, a binary or a
// big decimal.
func (p *Program) Eval(row Row) (v Value, err error) {
	if row == nil && len(p.cols) > 0 {
		return Value{}, &EvalError{Expr: p.src, Msg: "no row given for an expression that reads columns"}
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(evalFailure)
			if !ok {
				panic(r)
			}
			v, err = Value{}, &EvalError{Expr: p.src, Msg: string(f)}
		}
	}()
	if b, ok := p.root.(boolNode); ok {
		return b.test(row).value(), nil
	}
	v = p.root.eval(row)
	if v.Null {
		v = nullValue(p.typ.Kind)
	}
	return v, nil
}
