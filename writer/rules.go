package writer

// Row rules (table/constraints.go): generated columns are computed, or checked when the
// row has a value for them, and CHECK constraints and column invariants are evaluated
// on every row before it is appended; a row that breaks one is refused whole with a
// *RuleError naming the rule and the row's values of the columns it reads.

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/expr"
)

// RuleError is a row that breaks a CHECK constraint or a column invariant (its
// expression is false or NULL), or whose value for a generated column is not the one
// its expression gives.
type RuleError struct {
	Rule   string // "CHECK constraint positive", "invariant of column x", "generated column day"
	Expr   string
	Values string // the row's values of the columns the expression reads: "x: 1, y: NULL"
	Msg    string // what went wrong, when it is not a false result
}

func (e *RuleError) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("%s (%s): %s; row values %s", e.Rule, e.Expr, e.Msg, e.Values)
	}
	return fmt.Sprintf("%s (%s) is violated by a row with values %s", e.Rule, e.Expr, e.Values)
}

// compiledRule is a rule or a generated column, compiled against the buffer's columns.
type compiledRule struct {
	name string
	prog *expr.Program
	col  int       // generated: the column it fills; -1 for a boolean rule
	typ  expr.Type // generated: the column's type
}

// rowView is the row being built, as expressions read it.
type rowView struct{ b *Buffer }

// Value returns column i of the row being built; only top-level primitive columns,
// which are all expressions can name (table.CompileExpr).
func (r rowView) Value(i int) expr.Value {
	s := &r.b.stage[i]
	k := r.b.exprKinds[i]
	if s.state != stateSet {
		return expr.Value{Null: true, Kind: k}
	}
	v := expr.Value{Kind: k, I: s.i, F: s.f, B: s.b}
	if k == expr.Float {
		v.F = float64(float32(s.f))
	}
	return v
}

// compileRules compiles the spec's rules and generated columns.
func (b *Buffer) compileRules() error {
	b.exprKinds = make([]expr.Kind, len(b.cols))
	for i, c := range b.cols {
		if t, ok := table.ExprType(c.Type); ok {
			b.exprKinds[i] = t.Kind
		}
	}
	for _, f := range b.spec.Schema.Fields {
		if _, ok := f.GenerationExpression(); !ok {
			continue
		}
		p, err := table.CompileGenerated(b.spec.Schema, f)
		if err != nil {
			return err
		}
		t, _ := table.ExprType(f.Type)
		b.rules = append(b.rules, compiledRule{name: "generated column " + f.Name, prog: p, col: b.byName[f.Name], typ: t})
	}
	for _, r := range b.spec.Rules {
		p, err := table.CompileExpr(b.spec.Schema, r.Expr)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		if k := p.Type().Kind; k != expr.Boolean && k != expr.Null {
			return fmt.Errorf("%s: %q is a %s, not a boolean", r.Name, r.Expr, p.Type())
		}
		b.rules = append(b.rules, compiledRule{name: r.Name, prog: p, col: -1})
	}
	return nil
}

// applyRules fills and checks the generated columns, then evaluates the boolean rules,
// on the row being built (after derived columns, before the nullability checks).
func (b *Buffer) applyRules() error {
	view := rowView{b}
	for i := range b.rules {
		r := &b.rules[i]
		v, err := r.prog.Eval(view)
		if err != nil {
			return b.ruleError(r, err.Error())
		}
		if r.col < 0 {
			if v.Null || v.I == 0 {
				return b.ruleError(r, "")
			}
			continue
		}
		if from := r.prog.Type(); from != r.typ {
			if v, err = expr.CastValue(v, from, r.typ); err != nil {
				return b.ruleError(r, err.Error())
			}
		}
		s := &b.stage[r.col]
		if s.state != stateSet { // not given (or NULL): computed
			if v.Null {
				s.state = stateNull
			} else {
				s.state, s.i, s.f, s.b = stateSet, v.I, v.F, append(s.b[:0], v.B...)
			}
			continue
		}
		if !sameValue(view.Value(r.col), v) {
			return b.ruleError(r, fmt.Sprintf("the message gives %s, the expression %s",
				expr.FormatValue(view.Value(r.col), r.typ), expr.FormatValue(v, r.typ)))
		}
	}
	return nil
}

// sameValue compares two values of one type, NULL-safe.
func sameValue(a, c expr.Value) bool {
	switch {
	case a.Null || c.Null:
		return a.Null == c.Null
	case a.Kind == expr.Float || a.Kind == expr.Double:
		return a.F == c.F
	case a.Kind == expr.String || a.Kind == expr.Binary:
		return bytes.Equal(a.B, c.B)
	case a.Kind == expr.Decimal && (a.B != nil || c.B != nil):
		return bytes.Equal(TrimTwosComplement(a.B), TrimTwosComplement(c.B))
	}
	return a.I == c.I
}

// ruleError describes the row's values of the columns r reads.
func (b *Buffer) ruleError(r *compiledRule, msg string) error {
	var vals []string
	view := rowView{b}
	for _, i := range r.prog.Columns() {
		t, _ := table.ExprType(b.cols[i].Type)
		vals = append(vals, b.cols[i].Name+": "+expr.FormatValue(view.Value(i), t))
	}
	return &RuleError{Rule: r.name, Expr: r.prog.Source(), Values: strings.Join(vals, ", "), Msg: msg}
}
