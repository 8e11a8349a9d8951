package expr

import (
	"fmt"
	"strings"
)

// cexpr is a type-checked, compiled expression.
type cexpr struct {
	n     node
	t     Type
	konst bool // does not read the row
	lit   bool // an unsigned numeric literal, as written
	pos   int
}

type checker struct {
	src  string
	res  Resolver
	cols []int
}

func (c *checker) typeErr(pos int, format string, args ...any) error {
	return &TypeError{Expr: c.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// check compiles a and folds it to a literal if it does not read the row.
func (c *checker) check(a *ast) (cexpr, error) {
	e, err := c.check1(a)
	if err != nil {
		return e, err
	}
	e.pos = a.pos
	if e.konst {
		if _, isLit := e.n.(*litNode); !isLit {
			return c.fold(e)
		}
	}
	return e, nil
}

// fold evaluates a constant expression once, so that rows do not pay for it
// (the cast of '1900-01-01' in birthDate > '1900-01-01' for instance).
func (c *checker) fold(e cexpr) (r cexpr, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, ok := p.(evalFailure)
			if !ok {
				panic(p)
			}
			r, err = e, &TypeError{Expr: c.src, Pos: e.pos, Msg: string(f)}
		}
	}()
	v := e.n.eval(nil)
	if v.Null {
		v = nullValue(e.t.Kind)
	}
	return cexpr{n: &litNode{v}, t: e.t, konst: true, pos: e.pos}, nil
}

func lit(v Value, t Type) cexpr { return cexpr{n: &litNode{v}, t: t, konst: true} }

// castTo converts e to type t (canCast must hold).
func (c *checker) castTo(e cexpr, t Type) cexpr {
	if e.t == t {
		return e
	}
	r := cexpr{n: &castNode{x: e.n, from: e.t, to: t}, t: t, konst: e.konst, pos: e.pos}
	if r.konst {
		r, _ = c.fold(r)
	}
	return r
}

// implicitCast converts e to t where Spark's ImplicitTypeCasts allows it for
// a function argument: numbers among themselves, dates and timestamps among
// themselves, strings to numbers, dates, timestamps and binaries, and any
// value to a string.
func (c *checker) implicitCast(e cexpr, t Type, what string) (cexpr, error) {
	f := e.t.Kind
	ok := e.t == t || f == Null ||
		isNumeric(f) && isNumeric(t.Kind) ||
		isDatetime(f) && isDatetime(t.Kind) ||
		f == String && (isNumeric(t.Kind) || isDatetime(t.Kind) || t.Kind == Binary) ||
		t.Kind == String
	if !ok {
		return e, c.typeErr(e.pos, "%s must be %s, not %s", what, kindArticle(t), e.t)
	}
	return c.castTo(e, t), nil
}

func kindArticle(t Type) string {
	if t.Kind == Decimal {
		return "a DECIMAL"
	}
	return t.String()
}

// boolean checks that e is a BOOLEAN (or NULL) condition.
func (c *checker) boolean(e cexpr, what string) (cexpr, error) {
	switch e.t.Kind {
	case Boolean:
		return e, nil
	case Null:
		return c.castTo(e, Type{Kind: Boolean}), nil
	}
	return e, c.typeErr(e.pos, "%s must be BOOLEAN, not %s", what, e.t)
}

func (c *checker) checkArgs(as []*ast) ([]cexpr, error) {
	out := make([]cexpr, len(as))
	for i, a := range as {
		e, err := c.check(a)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func allConst(es ...cexpr) bool {
	for _, e := range es {
		if !e.konst {
			return false
		}
	}
	return true
}

func (c *checker) check1(a *ast) (cexpr, error) {
	switch a.op {
	case aLit:
		return cexpr{n: &litNode{a.val}, t: a.typ, konst: true, lit: a.numLit}, nil
	case aCol:
		return c.column(a)
	case aCast:
		x, err := c.check(a.args[0])
		if err != nil {
			return x, err
		}
		if !canCast(x.t, a.typ) {
			return x, c.typeErr(a.pos, "cannot cast %s to %s", x.t, a.typ)
		}
		return c.castTo(x, a.typ), nil
	case aNeg, aPos:
		x, err := c.check(a.args[0])
		if err != nil {
			return x, err
		}
		switch {
		case x.t.Kind == String || x.t.Kind == Null:
			x = c.castTo(x, Type{Kind: Double})
		case !isNumeric(x.t.Kind):
			op := "-"
			if a.op == aPos {
				op = "+"
			}
			return x, c.typeErr(a.pos, "cannot apply unary %s to %s", op, x.t)
		}
		if a.op == aPos {
			x.lit = false
			return x, nil
		}
		return cexpr{n: &negNode{x: x.n, t: x.t}, t: x.t, konst: x.konst}, nil
	case aArith:
		args, err := c.checkArgs(a.args)
		if err != nil {
			return cexpr{}, err
		}
		if a.name == "||" {
			return c.concat(args)
		}
		return c.arith(a, args[0], args[1])
	case aNot:
		x, err := c.check(a.args[0])
		if err != nil {
			return x, err
		}
		if x, err = c.boolean(x, "the operand of NOT"); err != nil {
			return x, err
		}
		return cexpr{n: &notNode{asBool(x.n)}, t: Type{Kind: Boolean}, konst: x.konst}, nil
	case aAnd, aOr:
		args, err := c.checkArgs(a.args)
		if err != nil {
			return cexpr{}, err
		}
		name := "AND"
		if a.op == aOr {
			name = "OR"
		}
		for i := range args {
			if args[i], err = c.boolean(args[i], "an operand of "+name); err != nil {
				return cexpr{}, err
			}
		}
		r := cexpr{t: Type{Kind: Boolean}, konst: allConst(args...)}
		if a.op == aAnd {
			r.n = &andNode{asBool(args[0].n), asBool(args[1].n)}
		} else {
			r.n = &orNode{asBool(args[0].n), asBool(args[1].n)}
		}
		return r, nil
	case aCmp:
		args, err := c.checkArgs(a.args)
		if err != nil {
			return cexpr{}, err
		}
		return c.compare(a.pos, a.name, args[0], args[1])
	case aIsNull:
		x, err := c.check(a.args[0])
		if err != nil {
			return x, err
		}
		if a.flag == 1 { // IS UNKNOWN
			if x, err = c.boolean(x, "the operand of IS UNKNOWN"); err != nil {
				return x, err
			}
		}
		return cexpr{n: &isNullNode{x: x.n, not: a.not}, t: Type{Kind: Boolean}, konst: x.konst}, nil
	case aIsBool:
		x, err := c.check(a.args[0])
		if err != nil {
			return x, err
		}
		if x, err = c.boolean(x, "the operand of IS TRUE/FALSE"); err != nil {
			return x, err
		}
		return cexpr{n: &isBoolNode{x: asBool(x.n), want: a.flag == 1, not: a.not}, t: Type{Kind: Boolean}, konst: x.konst}, nil
	case aIn:
		return c.in(a)
	case aBetween:
		args, err := c.checkArgs(a.args)
		if err != nil {
			return cexpr{}, err
		}
		ge, err := c.compare(a.pos, ">=", args[0], args[1])
		if err != nil {
			return ge, err
		}
		le, err := c.compare(a.pos, "<=", args[0], args[2])
		if err != nil {
			return le, err
		}
		r := cexpr{n: &andNode{asBool(ge.n), asBool(le.n)}, t: Type{Kind: Boolean}, konst: ge.konst && le.konst}
		if a.not {
			r.n = &notNode{asBool(r.n)}
		}
		return r, nil
	case aLike:
		return c.like(a)
	case aCase:
		return c.caseWhen(a)
	case aFunc:
		return c.call(a)
	case aExtract:
		x, err := c.check(a.args[0])
		if err != nil {
			return x, err
		}
		if a.name == "second" {
			if x, err = c.implicitCast(x, Type{Kind: timestampKindOf(x.t)}, "the source of EXTRACT(SECOND ...)"); err != nil {
				return x, err
			}
			return cexpr{n: &secondsNode{x.n}, t: Type{Kind: Decimal, Precision: 8, Scale: 6}, konst: x.konst}, nil
		}
		return c.callBuilt(a, a.name, []cexpr{x})
	}
	return cexpr{}, c.typeErr(a.pos, "unexpected expression")
}

func timestampKindOf(t Type) Kind {
	if t.Kind == TimestampNTZ {
		return TimestampNTZ
	}
	return Timestamp
}

func (c *checker) column(a *ast) (cexpr, error) {
	idx, t, ok := c.res(a.name)
	if !ok {
		if a.niladic {
			return cexpr{}, &UnsupportedError{Expr: c.src, What: "function " + strings.ToLower(a.name), Detail: "not deterministic"}
		}
		return cexpr{}, &UnknownColumnError{Expr: c.src, Pos: a.pos, Name: a.name}
	}
	t = t.normal()
	if !t.valid() {
		return cexpr{}, c.typeErr(a.pos, "column %s has an invalid type %s", quoteIdent(a.name), t)
	}
	c.cols = append(c.cols, idx)
	return cexpr{n: &colNode{idx: idx, t: t, name: a.name}, t: t}, nil
}

// Type coercion, after Spark's TypeCoercion rules with ANSI mode off.

var numericPrecedence = [...]Kind{Byte, Short, Int, Long, Float, Double}

func numericRank(k Kind) int {
	for i, p := range numericPrecedence {
		if p == k {
			return i
		}
	}
	return -1
}

// decimalWiderThan tells whether decimal d holds every value of integral k.
func decimalWiderThan(d Type, k Kind) bool {
	it := decimalForIntegral(k, false, 0)
	return d.Precision-d.Scale >= it.Precision
}

// widerDatetime orders DATE < TIMESTAMP_NTZ < TIMESTAMP.
func widerDatetime(a, b Kind) Kind {
	rank := map[Kind]int{Date: 0, TimestampNTZ: 1, Timestamp: 2}
	if rank[a] >= rank[b] {
		return a
	}
	return b
}

// tightestCommonType is Spark's findTightestCommonType.
func tightestCommonType(a, b Type) (Type, bool) {
	switch {
	case a == b:
		return a, true
	case a.Kind == Null:
		return b, true
	case b.Kind == Null:
		return a, true
	case isIntegral(a.Kind) && b.Kind == Decimal && decimalWiderThan(b, a.Kind):
		return b, true
	case isIntegral(b.Kind) && a.Kind == Decimal && decimalWiderThan(a, b.Kind):
		return a, true
	case isNumeric(a.Kind) && isNumeric(b.Kind) && a.Kind != Decimal && b.Kind != Decimal:
		if numericRank(a.Kind) >= numericRank(b.Kind) {
			return a, true
		}
		return b, true
	case isDatetime(a.Kind) && isDatetime(b.Kind):
		return Type{Kind: widerDatetime(a.Kind, b.Kind)}, true
	}
	return Type{}, false
}

// widerType is Spark's findWiderTypeForTwo: the tightest common type, else a
// wider decimal (or DOUBLE with floating point), else STRING when one side
// is a string and the other neither BINARY nor BOOLEAN.
func widerType(a, b Type) (Type, bool) {
	if t, ok := tightestCommonType(a, b); ok {
		return t, true
	}
	switch {
	case a.Kind == Decimal && b.Kind == Decimal:
		return widerDecimal(a, b), true
	case isIntegral(a.Kind) && b.Kind == Decimal:
		return widerDecimal(decimalForIntegral(a.Kind, false, 0), b), true
	case a.Kind == Decimal && isIntegral(b.Kind):
		return widerDecimal(a, decimalForIntegral(b.Kind, false, 0)), true
	case a.Kind == Decimal && isFloating(b.Kind) || isFloating(a.Kind) && b.Kind == Decimal:
		return Type{Kind: Double}, true
	case a.Kind == String && b.Kind != Binary && b.Kind != Boolean:
		return a, true
	case b.Kind == String && a.Kind != Binary && a.Kind != Boolean:
		return b, true
	}
	return Type{}, false
}

// widerCommonType is Spark's findWiderCommonType: string types first, so that
// the result does not depend on the order of the operands.
func widerCommonType(es []cexpr) (Type, bool) {
	t := Type{Kind: Null}
	for pass := 0; pass < 2; pass++ {
		for _, e := range es {
			if (e.t.Kind == String) != (pass == 0) {
				continue
			}
			var ok bool
			if t, ok = widerType(t, e.t); !ok {
				return t, false
			}
		}
	}
	return t, true
}

func typeList(es []cexpr) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, e.t.String())
	}
	return strings.Join(parts, ", ")
}

// comparisonType is the type both sides of a comparison are brought to:
// Spark's findCommonTypeForBinaryComparison, then the tightest common type.
// Decimals keep their own types (they compare exactly). equality allows
// BOOLEAN against numbers, as Spark's BooleanEquality does.
func comparisonType(a, b Type, equality bool) (Type, Type, bool) {
	ak, bk := a.Kind, b.Kind
	switch {
	case ak == Decimal && bk == Decimal:
		return a, b, true
	case ak == String && bk == Null || ak == Null && bk == String:
		return Type{Kind: String}, Type{Kind: String}, true
	case ak == String && bk == Decimal || ak == Decimal && bk == String:
		return Type{Kind: Double}, Type{Kind: Double}, true
	case ak == String && bk != String:
		return b, b, true
	case bk == String && ak != String:
		return a, a, true
	case equality && ak == Boolean && isNumeric(bk):
		return b, b, true
	case equality && bk == Boolean && isNumeric(ak):
		return a, a, true
	case ak == Decimal && isIntegral(bk):
		return a, decimalForIntegral(bk, false, 0), true
	case bk == Decimal && isIntegral(ak):
		return decimalForIntegral(ak, false, 0), b, true
	}
	if t, ok := tightestCommonType(a, b); ok {
		return t, t, true
	}
	if ak == Decimal && isFloating(bk) || isFloating(ak) && bk == Decimal {
		return Type{Kind: Double}, Type{Kind: Double}, true
	}
	return Type{}, Type{}, false
}

var cmpOps = map[string]cmpOp{"=": opEq, "<>": opNe, "<": opLt, "<=": opLe, ">": opGt, ">=": opGe}

func (c *checker) compare(pos int, op string, l, r cexpr) (cexpr, error) {
	lt, rt, ok := comparisonType(l.t, r.t, op == "=" || op == "<>" || op == "<=>")
	if !ok || lt.Kind == Binary && rt.Kind != Binary {
		return cexpr{}, c.typeErr(pos, "cannot compare %s with %s", l.t, r.t)
	}
	l, r = c.castTo(l, lt), c.castTo(r, rt)
	class := classOf(lt.Kind)
	res := cexpr{t: Type{Kind: Boolean}, konst: l.konst && r.konst}
	if op == "<=>" {
		res.n = &nullSafeEqNode{l: l.n, r: r.n, class: class, lt: lt, rt: rt}
		return res, nil
	}
	res.n = &cmpNode{l: l.n, r: r.n, op: cmpOps[op], class: class, lt: lt, rt: rt}
	if col, ok := l.n.(*colNode); ok {
		if k, ok := r.n.(*litNode); ok && !k.v.Null {
			res.n = &cmpColConstNode{col: col, k: k.v, op: cmpOps[op], class: class, lt: lt, rt: rt}
		}
	} else if col, ok := r.n.(*colNode); ok {
		if k, ok := l.n.(*litNode); ok && !k.v.Null {
			res.n = &cmpColConstNode{col: col, k: k.v, op: cmpOps[op].swapped(), class: class, lt: rt, rt: lt}
		}
	}
	return res, nil
}

func (c *checker) in(a *ast) (cexpr, error) {
	args, err := c.checkArgs(a.args)
	if err != nil {
		return cexpr{}, err
	}
	t := args[0].t
	same := true
	for _, e := range args[1:] {
		same = same && e.t == t
	}
	if !same {
		var ok bool
		if t, ok = widerCommonType(args); !ok {
			return cexpr{}, c.typeErr(a.pos, "IN needs values of a common type, not %s", typeList(args))
		}
	}
	n := &inNode{class: classOf(t.Kind), t: t}
	for i, e := range args {
		e = c.castTo(e, t)
		if i == 0 {
			n.x = e.n
		} else {
			n.list = append(n.list, e.n)
		}
	}
	r := cexpr{n: n, t: Type{Kind: Boolean}, konst: allConst(args...)}
	if a.not {
		r.n = &notNode{asBool(r.n)}
	}
	return r, nil
}

func (c *checker) like(a *ast) (cexpr, error) {
	args, err := c.checkArgs(a.args)
	if err != nil {
		return cexpr{}, err
	}
	op := "LIKE"
	if a.ilike {
		op = "ILIKE"
	}
	x, err := c.implicitCast(args[0], Type{Kind: String}, "the operand of "+op)
	if err != nil {
		return x, err
	}
	p, err := c.implicitCast(args[1], Type{Kind: String}, "the pattern of "+op)
	if err != nil {
		return p, err
	}
	n := &likeNode{x: x.n, pat: p.n, esc: a.esc, ilike: a.ilike}
	if p.konst {
		pv := p.n.eval(nil)
		if pv.Null {
			return lit(nullValue(Boolean), Type{Kind: Boolean}), nil
		}
		pb := pv.B
		if a.ilike {
			pb = []byte(strings.ToLower(string(pb)))
		}
		m, msg := compileLike(pb, a.esc)
		if m == nil {
			return cexpr{}, &SyntaxError{Expr: c.src, Pos: a.args[1].pos, Msg: "invalid " + op + " pattern " + fmt.Sprintf("%q", pv.B) + ": " + msg}
		}
		n.m = m
	}
	r := cexpr{n: n, t: Type{Kind: Boolean}, konst: x.konst && p.konst}
	if a.not {
		r.n = &notNode{asBool(r.n)}
	}
	return r, nil
}

func (c *checker) caseWhen(a *ast) (cexpr, error) {
	args, err := c.checkArgs(a.args)
	if err != nil {
		return cexpr{}, err
	}
	var operand *cexpr
	if a.hasOperand {
		operand = &args[0]
		args = args[1:]
	}
	var els *cexpr
	if a.hasElse {
		els = &args[len(args)-1]
		args = args[:len(args)-1]
	}
	var conds, vals []cexpr
	for i := 0; i < len(args); i += 2 {
		cond := args[i]
		if operand != nil {
			if cond, err = c.compare(cond.pos, "=", *operand, cond); err != nil {
				return cond, err
			}
		} else if cond, err = c.boolean(cond, "a WHEN condition"); err != nil {
			return cond, err
		}
		conds = append(conds, cond)
		vals = append(vals, args[i+1])
	}
	branches := vals
	if els != nil {
		branches = append(append([]cexpr(nil), vals...), *els)
	}
	t, ok := widerCommonType(branches)
	if !ok {
		return cexpr{}, c.typeErr(a.pos, "CASE branches have no common type: %s", typeList(branches))
	}
	n := &caseNode{}
	konst := operand == nil || operand.konst
	for i := range conds {
		v := c.castTo(vals[i], t)
		n.conds = append(n.conds, asBool(conds[i].n))
		n.vals = append(n.vals, v.n)
		konst = konst && conds[i].konst && v.konst
	}
	if els != nil {
		e := c.castTo(*els, t)
		n.els = e.n
		konst = konst && e.konst
	} else {
		n.els = &litNode{nullValue(t.Kind)}
	}
	return cexpr{n: n, t: t, konst: konst}, nil
}

// arith types and compiles l op r for + - * / % and DIV.
func (c *checker) arith(a *ast, l, r cexpr) (cexpr, error) {
	op := a.name
	lt0, rt0 := l.t, r.t
	bad := func() (cexpr, error) {
		return cexpr{}, c.typeErr(a.pos, "cannot apply %s to %s and %s", strings.ToUpper(op), lt0, rt0)
	}
	konst := l.konst && r.konst
	// Strings are numbers in arithmetic (Spark's PromoteStrings).
	if l.t.Kind == String {
		l = c.castTo(l, Type{Kind: Double})
	}
	if r.t.Kind == String {
		r = c.castTo(r, Type{Kind: Double})
	}
	// Subtracting dates or timestamps gives an interval, which is not supported.
	if op == "-" && isDatetime(l.t.Kind) && isDatetime(r.t.Kind) {
		return cexpr{}, &UnsupportedError{Expr: c.src, What: "subtraction of " + l.t.String() + " and " + r.t.String(), Detail: "intervals"}
	}
	// Date arithmetic: date + days, days + date, date - days.
	if l.t.Kind == Date && (op == "+" || op == "-") || r.t.Kind == Date && op == "+" {
		d, n := l, r
		if r.t.Kind == Date {
			d, n = r, l
		}
		if d.t.Kind != Date || !(n.t.Kind == Byte || n.t.Kind == Short || n.t.Kind == Int || n.t.Kind == Null) {
			return bad()
		}
		n = c.castTo(n, Type{Kind: Int})
		return cexpr{n: &dateAddNode{d: d.n, n: n.n, sub: op == "-"}, t: Type{Kind: Date}, konst: konst}, nil
	}
	// NULL takes the other operand's type; NULL op NULL is a DOUBLE.
	switch {
	case l.t.Kind == Null && r.t.Kind == Null:
		l, r = c.castTo(l, Type{Kind: Double}), c.castTo(r, Type{Kind: Double})
	case l.t.Kind == Null:
		l = c.castTo(l, r.t)
	case r.t.Kind == Null:
		r = c.castTo(r, l.t)
	}
	if !isNumeric(l.t.Kind) || !isNumeric(r.t.Kind) {
		return bad()
	}
	lk, rk := l.t.Kind, r.t.Kind
	anyFloat := isFloating(lk) || isFloating(rk)
	anyDec := lk == Decimal || rk == Decimal
	if anyDec && !anyFloat {
		// Integral operands of decimal operations become decimals.
		if lk != Decimal {
			l = c.castTo(l, decimalForIntegral(lk, l.lit, litInt(l)))
		}
		if rk != Decimal {
			r = c.castTo(r, decimalForIntegral(rk, r.lit, litInt(r)))
		}
		if op == "div" {
			return cexpr{n: &decIntDivNode{l: l.n, r: r.n, lt: l.t, rt: r.t}, t: Type{Kind: Long}, konst: konst}, nil
		}
		ot := decimalResultType(op, l.t, r.t)
		return cexpr{n: &decArithNode{l: l.n, r: r.n, op: op[0], lt: l.t, rt: r.t, ot: ot}, t: ot, konst: konst}, nil
	}
	switch op {
	case "/":
		d := Type{Kind: Double}
		l, r = c.castTo(l, d), c.castTo(r, d)
		return cexpr{n: &floatArithNode{l: l.n, r: r.n, op: '/', k: Double}, t: d, konst: konst}, nil
	case "div":
		t := Type{Kind: Long}
		l, r = c.castTo(l, t), c.castTo(r, t)
		return cexpr{n: &intArithNode{l: l.n, r: r.n, op: 'd', k: Long}, t: t, konst: konst}, nil
	}
	var t Type
	if anyDec { // decimal with FLOAT or DOUBLE
		t = Type{Kind: Double}
	} else {
		t, _ = tightestCommonType(l.t, r.t)
	}
	l, r = c.castTo(l, t), c.castTo(r, t)
	if isFloating(t.Kind) {
		return cexpr{n: &floatArithNode{l: l.n, r: r.n, op: op[0], k: t.Kind}, t: t, konst: konst}, nil
	}
	return cexpr{n: &intArithNode{l: l.n, r: r.n, op: op[0], k: t.Kind}, t: t, konst: konst}, nil
}

func litInt(e cexpr) int64 {
	if l, ok := e.n.(*litNode); ok && e.lit {
		return l.v.I
	}
	return 0
}

// concat compiles concat(...) and ||: binaries if all operands are binaries,
// else strings (other types are cast to STRING).
func (c *checker) concat(args []cexpr) (cexpr, error) {
	k := String
	if len(args) > 0 {
		k = Binary
		for _, e := range args {
			if e.t.Kind != Binary {
				k = String
			}
		}
	}
	n := &concatNode{k: k}
	for i, e := range args {
		e, err := c.implicitCast(e, Type{Kind: k}, fmt.Sprintf("argument %d of concat", i+1))
		if err != nil {
			return e, err
		}
		n.args = append(n.args, e.n)
	}
	return cexpr{n: n, t: Type{Kind: k}, konst: allConst(args...)}, nil
}
