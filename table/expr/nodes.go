package expr

import (
	"bytes"
	"math"
	"unicode/utf8"
)

// node is a compiled expression. eval returns the value for row r (nil for
// constant subtrees); it panics with an evalFailure for rows it cannot read,
// which Program.Eval turns into an *EvalError.
type node interface {
	eval(r Row) Value
}

type evalFailure string

// tri is a BOOLEAN result: FALSE, TRUE or NULL. Boolean nodes (comparisons,
// logic, predicates) compute one with test, so that chains of them pass a
// byte instead of Values.
type tri uint8

const (
	triFalse tri = iota
	triTrue
	triNull
)

func triOf(v Value) tri {
	switch {
	case v.Null:
		return triNull
	case v.I != 0:
		return triTrue
	}
	return triFalse
}

func triBool(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

func (t tri) value() Value {
	switch t {
	case triTrue:
		return Value{Kind: Boolean, I: 1}
	case triFalse:
		return Value{Kind: Boolean}
	}
	return Value{Null: true, Kind: Boolean}
}

type boolNode interface {
	node
	test(r Row) tri
}

// asBool returns n as a boolNode; n must be BOOLEAN (or NULL).
func asBool(n node) boolNode {
	if b, ok := n.(boolNode); ok {
		return b
	}
	return boolAdapter{n}
}

type boolAdapter struct{ node }

func (a boolAdapter) test(r Row) tri { return triOf(a.eval(r)) }

type litNode struct{ v Value }

func (n *litNode) eval(Row) Value { return n.v }

type colNode struct {
	idx  int
	t    Type
	name string
}

func (n *colNode) eval(r Row) Value {
	v := r.Value(n.idx)
	if v.Null {
		return Value{Null: true, Kind: n.t.Kind}
	}
	if v.Kind != n.t.Kind {
		n.fail(v.Kind)
	}
	// Bring narrow kinds in range (without passing v around: copies of
	// Values are what an evaluation costs).
	switch v.Kind {
	case Boolean:
		if v.I != 0 {
			v.I = 1
		}
	case Byte:
		v.I = int64(int8(v.I))
	case Short:
		v.I = int64(int16(v.I))
	case Int:
		v.I = int64(int32(v.I))
	case Float:
		v.F = float64(float32(v.F))
	case Decimal:
		if !fits64(v.I, n.t.Precision) {
			n.failRange(v)
		}
	}
	return v
}

//go:noinline
func (n *colNode) fail(k Kind) {
	panic(evalFailure("column " + quoteIdent(n.name) + " is " + n.t.String() + " but the row holds a " + k.String() + " value"))
}

//go:noinline
func (n *colNode) failRange(v Value) {
	panic(evalFailure("column " + quoteIdent(n.name) + " is " + n.t.String() + " but the row holds the unscaled value " +
		decimalString(v, Type{Kind: Decimal, Precision: 18}, true)))
}

type castNode struct {
	x        node
	from, to Type
}

func (n *castNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return nullValue(n.to.Kind)
	}
	return castValue(v, n.from, n.to)
}

// Comparison.

type cmpClass uint8

const (
	ccNull  cmpClass = iota // VOID operands: always NULL
	ccInt                   // Boolean, integral, Date, Timestamp: I
	ccFloat                 // F
	ccBytes                 // String, Binary: B, bytewise unsigned
	ccDec                   // decimals, possibly of different types
)

func classOf(k Kind) cmpClass {
	switch k {
	case Boolean, Byte, Short, Int, Long, Date, Timestamp, TimestampNTZ:
		return ccInt
	case Float, Double:
		return ccFloat
	case String, Binary:
		return ccBytes
	case Decimal:
		return ccDec
	}
	return ccNull
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpFloat orders as Spark's SQL ordering does: -0.0 equals 0.0, NaN equals
// NaN and is greater than any other value.
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	}
	an, bn := a != a, b != b
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	}
	return -1
}

// compare compares non-NULL values of class c (types lt and rt for decimals).
func compare(c cmpClass, a, b Value, lt, rt Type) int {
	switch c {
	case ccInt:
		return cmpInt(a.I, b.I)
	case ccFloat:
		return cmpFloat(a.F, b.F)
	case ccBytes:
		return bytes.Compare(a.B, b.B)
	case ccDec:
		return compareDecimals(a, lt, b, rt)
	}
	return 0
}

type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

func (o cmpOp) test(c int) bool {
	switch o {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	}
	return c >= 0
}

type cmpNode struct {
	l, r   node
	op     cmpOp
	class  cmpClass
	lt, rt Type
}

func (n *cmpNode) eval(r Row) Value { return n.test(r).value() }

func (n *cmpNode) test(r Row) tri {
	a := n.l.eval(r)
	if a.Null {
		return triNull
	}
	b := n.r.eval(r)
	if b.Null {
		return triNull
	}
	var c int
	switch n.class {
	case ccInt:
		c = cmpInt(a.I, b.I)
	case ccBytes:
		c = bytes.Compare(a.B, b.B)
	case ccFloat:
		c = cmpFloat(a.F, b.F)
	case ccDec:
		c = compareDecimals(a, n.lt, b, n.rt)
	default:
		return triNull
	}
	return triBool(n.op.test(c))
}

// cmpColConstNode compares a column with a non-NULL constant, the most
// common shape of a constraint (x > 3), saving a call and a copy.
type cmpColConstNode struct {
	col    *colNode
	k      Value
	op     cmpOp
	class  cmpClass
	lt, rt Type
}

func (n *cmpColConstNode) eval(r Row) Value { return n.test(r).value() }

func (n *cmpColConstNode) test(r Row) tri {
	a := n.col.eval(r)
	if a.Null {
		return triNull
	}
	var c int
	switch n.class {
	case ccInt:
		c = cmpInt(a.I, n.k.I)
	case ccBytes:
		c = bytes.Compare(a.B, n.k.B)
	case ccFloat:
		c = cmpFloat(a.F, n.k.F)
	case ccDec:
		c = compareDecimals(a, n.lt, n.k, n.rt)
	default:
		return triNull
	}
	return triBool(n.op.test(c))
}

// swapped returns the operator with its operands swapped (3 < x is x > 3).
func (o cmpOp) swapped() cmpOp {
	switch o {
	case opLt:
		return opGt
	case opLe:
		return opGe
	case opGt:
		return opLt
	case opGe:
		return opLe
	}
	return o
}

// nullSafeEqNode is a <=> b: TRUE when both are NULL, FALSE when one is.
type nullSafeEqNode struct {
	l, r   node
	class  cmpClass
	lt, rt Type
}

func (n *nullSafeEqNode) eval(r Row) Value { return n.test(r).value() }

func (n *nullSafeEqNode) test(r Row) tri {
	a, b := n.l.eval(r), n.r.eval(r)
	if a.Null || b.Null {
		return triBool(a.Null && b.Null)
	}
	return triBool(compare(n.class, a, b, n.lt, n.rt) == 0)
}

// inNode is x IN (list): NULL if x is NULL, or if no element equals x and
// one is NULL.
type inNode struct {
	x     node
	list  []node
	class cmpClass
	t     Type
}

func (n *inNode) eval(r Row) Value { return n.test(r).value() }

func (n *inNode) test(r Row) tri {
	x := n.x.eval(r)
	if x.Null || n.class == ccNull {
		return triNull
	}
	sawNull := false
	for _, e := range n.list {
		v := e.eval(r)
		if v.Null {
			sawNull = true
		} else if compare(n.class, x, v, n.t, n.t) == 0 {
			return triTrue
		}
	}
	if sawNull {
		return triNull
	}
	return triFalse
}

// Logic, with SQL's three-valued semantics.

type notNode struct{ x boolNode }

func (n *notNode) eval(r Row) Value { return n.test(r).value() }

func (n *notNode) test(r Row) tri {
	switch n.x.test(r) {
	case triTrue:
		return triFalse
	case triFalse:
		return triTrue
	}
	return triNull
}

type andNode struct{ l, r boolNode }

func (n *andNode) eval(r Row) Value { return n.test(r).value() }

func (n *andNode) test(r Row) tri {
	a := n.l.test(r)
	if a == triFalse {
		return triFalse
	}
	b := n.r.test(r)
	if b == triFalse {
		return triFalse
	}
	if a == triNull || b == triNull {
		return triNull
	}
	return triTrue
}

type orNode struct{ l, r boolNode }

func (n *orNode) eval(r Row) Value { return n.test(r).value() }

func (n *orNode) test(r Row) tri {
	a := n.l.test(r)
	if a == triTrue {
		return triTrue
	}
	b := n.r.test(r)
	if b == triTrue {
		return triTrue
	}
	if a == triNull || b == triNull {
		return triNull
	}
	return triFalse
}

type isNullNode struct {
	x   node
	not bool
}

func (n *isNullNode) eval(r Row) Value { return n.test(r).value() }

func (n *isNullNode) test(r Row) tri { return triBool(n.x.eval(r).Null != n.not) }

// isBoolNode is x IS [NOT] TRUE/FALSE, never NULL.
type isBoolNode struct {
	x         boolNode
	want, not bool
}

func (n *isBoolNode) eval(r Row) Value { return n.test(r).value() }

func (n *isBoolNode) test(r Row) tri {
	v := n.x.test(r)
	return triBool((v != triNull && (v == triTrue) == n.want) != n.not)
}

// Arithmetic.

// intArithNode computes + - * % DIV on integral operands of kind k, wrapping
// around on overflow as Spark does with ANSI mode off; % and DIV by zero are
// NULL.
type intArithNode struct {
	l, r node
	op   byte
	k    Kind
}

func (n *intArithNode) eval(r Row) Value {
	a := n.l.eval(r)
	if a.Null {
		return nullValue(n.k)
	}
	b := n.r.eval(r)
	if b.Null {
		return nullValue(n.k)
	}
	var x int64
	switch n.op {
	case '+':
		x = a.I + b.I
	case '-':
		x = a.I - b.I
	case '*':
		x = a.I * b.I
	case '%':
		if b.I == 0 {
			return nullValue(n.k)
		}
		x = a.I % b.I
	case 'd': // DIV
		if b.I == 0 {
			return nullValue(n.k)
		}
		x = a.I / b.I
	}
	return Value{Kind: n.k, I: wrapInt(n.k, x)}
}

// floatArithNode computes + - * / % on FLOAT or DOUBLE operands; / and % by
// zero are NULL, as in Spark.
type floatArithNode struct {
	l, r node
	op   byte
	k    Kind
}

func (n *floatArithNode) eval(r Row) Value {
	a := n.l.eval(r)
	if a.Null {
		return nullValue(n.k)
	}
	b := n.r.eval(r)
	if b.Null {
		return nullValue(n.k)
	}
	var x float64
	switch n.op {
	case '+':
		x = a.F + b.F
	case '-':
		x = a.F - b.F
	case '*':
		x = a.F * b.F
	case '/':
		if b.F == 0 {
			return nullValue(n.k)
		}
		x = a.F / b.F
	case '%':
		if b.F == 0 {
			return nullValue(n.k)
		}
		x = math.Mod(a.F, b.F)
	}
	if n.k == Float {
		x = float64(float32(x))
	}
	return Value{Kind: n.k, F: x}
}

// decArithNode computes + - * / % on decimals exactly, rounding half up to
// the result type; overflow and division by zero are NULL.
type decArithNode struct {
	l, r       node
	op         byte
	lt, rt, ot Type
}

func (n *decArithNode) eval(r Row) Value {
	a := n.l.eval(r)
	if a.Null {
		return nullValue(Decimal)
	}
	b := n.r.eval(r)
	if b.Null {
		return nullValue(Decimal)
	}
	v, ok := decimalArith(n.op, a, n.lt, b, n.rt, n.ot)
	if !ok {
		return nullValue(Decimal)
	}
	return v
}

// decIntDivNode is DIV on decimals, giving a BIGINT.
type decIntDivNode struct {
	l, r   node
	lt, rt Type
}

func (n *decIntDivNode) eval(r Row) Value {
	a := n.l.eval(r)
	if a.Null {
		return nullValue(Long)
	}
	b := n.r.eval(r)
	if b.Null {
		return nullValue(Long)
	}
	q, ok := decimalIntDiv(a, n.lt, b, n.rt)
	if !ok {
		return nullValue(Long)
	}
	return Value{Kind: Long, I: q}
}

// dateAddNode is date + days or date - days.
type dateAddNode struct {
	d, n node
	sub  bool
}

func (n *dateAddNode) eval(r Row) Value {
	d := n.d.eval(r)
	if d.Null {
		return nullValue(Date)
	}
	k := n.n.eval(r)
	if k.Null {
		return nullValue(Date)
	}
	x := k.I
	if n.sub {
		x = -x
	}
	return Value{Kind: Date, I: int64(int32(d.I + x))}
}

type negNode struct {
	x node
	t Type
}

func (n *negNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return v
	}
	switch n.t.Kind {
	case Float, Double:
		v.F = -v.F
	case Decimal:
		return decimalNeg(v, n.t)
	default:
		v.I = wrapInt(n.t.Kind, -v.I)
	}
	return v
}

type absNode struct {
	x node
	t Type
}

func (n *absNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return v
	}
	switch n.t.Kind {
	case Float, Double:
		v.F = math.Abs(v.F)
	case Decimal:
		if decSign(v, n.t) < 0 {
			return decimalNeg(v, n.t)
		}
	default:
		if v.I < 0 {
			v.I = wrapInt(n.t.Kind, -v.I)
		}
	}
	return v
}

// Conditionals.

type caseNode struct {
	conds []boolNode
	vals  []node
	els   node
}

func (n *caseNode) eval(r Row) Value {
	for i, c := range n.conds {
		if c.test(r) == triTrue {
			return n.vals[i].eval(r)
		}
	}
	return n.els.eval(r)
}

type coalesceNode struct{ args []node }

func (n *coalesceNode) eval(r Row) Value {
	var v Value
	for _, a := range n.args {
		if v = a.eval(r); !v.Null {
			return v
		}
	}
	return v
}

// Strings.

// concatNode concatenates strings (or binaries); NULL if any argument is.
type concatNode struct {
	args []node
	k    Kind
}

func (n *concatNode) eval(r Row) Value {
	var buf [8][]byte
	parts := buf[:0]
	size := 0
	for _, a := range n.args {
		v := a.eval(r)
		if v.Null {
			return nullValue(n.k)
		}
		parts = append(parts, v.B)
		size += len(v.B)
	}
	out := make([]byte, 0, size)
	for _, p := range parts {
		out = append(out, p...)
	}
	return Value{Kind: n.k, B: out}
}

// concatWsNode is concat_ws(sep, ...): NULL arguments are skipped; NULL if
// sep is NULL.
type concatWsNode struct {
	sep  node
	args []node
}

func (n *concatWsNode) eval(r Row) Value {
	sep := n.sep.eval(r)
	if sep.Null {
		return nullValue(String)
	}
	var out []byte
	first := true
	for _, a := range n.args {
		v := a.eval(r)
		if v.Null {
			continue
		}
		if !first {
			out = append(out, sep.B...)
		}
		out = append(out, v.B...)
		first = false
	}
	if out == nil {
		out = []byte{}
	}
	return Value{Kind: String, B: out}
}

// strFuncNode applies a function from bytes to bytes (lower, upper, trim...).
type strFuncNode struct {
	x  node
	fn func([]byte) []byte
}

func (n *strFuncNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return nullValue(String)
	}
	return Value{Kind: String, B: n.fn(v.B)}
}

// trimSpaces trims the space character (only) from the ends, as Spark's
// trim, ltrim and rtrim do.
func trimSpaces(b []byte, left, right bool) []byte {
	i, j := 0, len(b)
	for left && i < j && b[i] == ' ' {
		i++
	}
	for right && j > i && b[j-1] == ' ' {
		j--
	}
	return b[i:j]
}

type lengthNode struct {
	x      node
	binary bool
}

func (n *lengthNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return nullValue(Int)
	}
	if n.binary {
		return Value{Kind: Int, I: int64(len(v.B))}
	}
	return Value{Kind: Int, I: int64(utf8.RuneCount(v.B))}
}

// substrNode is substring(s, pos[, len]) with Spark's substringSQL
// semantics: 1-based, 0 is the start too, negative counts from the end; on
// characters for strings and bytes for binaries.
type substrNode struct {
	s, pos, len node // len may be nil
	k           Kind
}

func (n *substrNode) eval(r Row) Value {
	s := n.s.eval(r)
	if s.Null {
		return nullValue(n.k)
	}
	p := n.pos.eval(r)
	if p.Null {
		return nullValue(n.k)
	}
	length := int64(math.MaxInt32)
	if n.len != nil {
		l := n.len.eval(r)
		if l.Null {
			return nullValue(n.k)
		}
		length = l.I
	}
	return Value{Kind: n.k, B: substringSQL(s.B, p.I, length, n.k == Binary)}
}

func substringSQL(s []byte, pos, length int64, binary bool) []byte {
	var count int64
	if binary {
		count = int64(len(s))
	} else {
		count = int64(utf8.RuneCount(s))
	}
	var start int64
	switch {
	case pos > 0:
		start = pos - 1
	case pos < 0:
		start = count + pos
	}
	end := start + length
	if start < 0 {
		start = 0
	}
	if start >= end || start >= count {
		return s[:0]
	}
	if end > count {
		end = count
	}
	if binary {
		return s[start:end]
	}
	// Convert character offsets to byte offsets.
	bs, be := -1, len(s)
	var ci int64
	for bi := range string(s) { // no allocation: the compiler iterates in place
		if ci == start {
			bs = bi
		}
		if ci == end {
			be = bi
			break
		}
		ci++
	}
	if bs < 0 {
		return s[:0]
	}
	return s[bs:be]
}

// Dates and times.

type dateFieldNode struct {
	x     node
	field int
}

func (n *dateFieldNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return nullValue(Int)
	}
	return Value{Kind: Int, I: dateField(v.I, n.field)}
}

type timeFieldNode struct {
	x     node
	field int
}

func (n *timeFieldNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return nullValue(Int)
	}
	return Value{Kind: Int, I: timeField(v.I, n.field)}
}

// secondsNode is EXTRACT(SECOND FROM ts): seconds with the fraction, as a
// DECIMAL(8,6).
type secondsNode struct{ x node }

func (n *secondsNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return nullValue(Decimal)
	}
	return Value{Kind: Decimal, I: floorMod(v.I, microsPerMinute)}
}

type dateFormatNode struct {
	x   node
	fmt dateFormat
}

func (n *dateFormatNode) eval(r Row) Value {
	v := n.x.eval(r)
	if v.Null {
		return nullValue(String)
	}
	return Value{Kind: String, B: n.fmt.format(make([]byte, 0, 32), v.I)}
}

// truncNode is date_trunc(unit, ts) (forDate false, giving a TIMESTAMP) or
// trunc(date, unit) (forDate true, giving a DATE); an unknown unit gives
// NULL. unit is the parsed constant unit, or -1 to parse u on each row.
type truncNode struct {
	x, u    node
	unit    int
	forDate bool
}

func (n *truncNode) eval(r Row) Value {
	k := Timestamp
	if n.forDate {
		k = Date
	}
	v := n.x.eval(r)
	if v.Null {
		return nullValue(k)
	}
	unit := n.unit
	if unit < 0 {
		u := n.u.eval(r)
		if u.Null {
			return nullValue(k)
		}
		unit = truncUnit(u.B, n.forDate)
	}
	if unit == truncInvalid {
		return nullValue(k)
	}
	if n.forDate {
		return Value{Kind: Date, I: truncDays(v.I, unit)}
	}
	return Value{Kind: Timestamp, I: truncMicros(v.I, unit)}
}
