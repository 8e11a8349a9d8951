package expr

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

type astOp uint8

const (
	aLit     astOp = iota // val, typ
	aCol                  // name; niladic for CURRENT_DATE & co. written without parentheses
	aFunc                 // name (lower case), args
	aCast                 // args[0], typ
	aNeg                  // args[0]
	aPos                  // args[0]
	aArith                // name is the operator: + - * / % div ||
	aNot                  // args[0]
	aAnd                  // args[0], args[1]
	aOr                   // args[0], args[1]
	aCmp                  // name is the operator: = <> < <= > >= <=>
	aIsNull               // args[0]; not
	aIsBool               // args[0]; flag 1 TRUE, 0 FALSE; not
	aIn                   // args[0] IN args[1:]; not
	aBetween              // args[0] BETWEEN args[1] AND args[2]; not
	aLike                 // args[0] LIKE args[1]; not; ilike; esc
	aCase                 // [operand] when then ... [else]; hasOperand, hasElse
	aExtract              // name is the field, args[0]
)

type ast struct {
	op         astOp
	pos        int
	name       string
	val        Value
	typ        Type
	numLit     bool // an unsigned numeric literal, for Spark's literal decimal precision
	args       []*ast
	not        bool
	flag       int
	ilike      bool
	esc        rune
	hasOperand bool
	hasElse    bool
	niladic    bool
}

// maxDepth bounds the nesting of expressions, so that hostile input cannot
// exhaust the stack.
const maxDepth = 200

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func isKw(t token, kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }
func isOp(t token, op string) bool { return t.kind == tOp && t.text == op }

func (p *parser) errAt(pos int, msg string) error {
	return &SyntaxError{Expr: p.src, Pos: pos, Msg: msg}
}

func (p *parser) unexpected(t token, want string) error {
	msg := "unexpected " + t.describe()
	if want != "" {
		msg += ", expected " + want
	}
	return p.errAt(t.pos, msg)
}

func (p *parser) unsupported(what, detail string) error {
	return &UnsupportedError{Expr: p.src, What: what, Detail: detail}
}

func (p *parser) expectOp(op string) (token, error) {
	t := p.next()
	if !isOp(t, op) {
		return t, p.unexpected(t, "'"+op+"'")
	}
	return t, nil
}

func (p *parser) expectKw(kw string) (token, error) {
	t := p.next()
	if !isKw(t, kw) {
		return t, p.unexpected(t, kw)
	}
	return t, nil
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errAt(pos, "expression is nested too deeply")
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func parse(src string) (*ast, error) {
	toks, serr := tokenize(src)
	if serr != nil {
		return nil, serr
	}
	p := &parser{src: src, toks: toks}
	if p.peek().kind == tEOF {
		return nil, p.errAt(0, "empty expression")
	}
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t, "end of expression")
	}
	if deep := tooDeep(e); deep != nil {
		return nil, p.errAt(deep.pos, "expression is nested too deeply")
	}
	return e, nil
}

// maxTreeDepth bounds the depth of the syntax tree, which chains of binary
// operators (a + a + ... + a) grow without recursion in the parser, so that
// checking and evaluation, which recurse, stay within bounds.
const maxTreeDepth = 1000

// tooDeep returns a node deeper than maxTreeDepth, or nil. It walks the
// tree without recursion.
func tooDeep(root *ast) *ast {
	type item struct {
		a     *ast
		depth int
	}
	stack := []item{{root, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.depth > maxTreeDepth {
			return it.a
		}
		for _, c := range it.a.args {
			stack = append(stack, item{c, it.depth + 1})
		}
	}
	return nil
}

func (p *parser) parseExpr() (*ast, error) {
	if err := p.enter(p.peek().pos); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.parseOr()
}

func (p *parser) parseOr() (*ast, error) {
	l, err := p.parseAnd()
	for err == nil && isKw(p.peek(), "OR") {
		t := p.next()
		var r *ast
		if r, err = p.parseAnd(); err == nil {
			l = &ast{op: aOr, pos: t.pos, args: []*ast{l, r}}
		}
	}
	return l, err
}

func (p *parser) parseAnd() (*ast, error) {
	l, err := p.parseNot()
	for err == nil && isKw(p.peek(), "AND") {
		t := p.next()
		var r *ast
		if r, err = p.parseNot(); err == nil {
			l = &ast{op: aAnd, pos: t.pos, args: []*ast{l, r}}
		}
	}
	return l, err
}

func (p *parser) parseNot() (*ast, error) {
	t := p.peek()
	if isKw(t, "NOT") || isOp(t, "!") {
		p.next()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		e, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &ast{op: aNot, pos: t.pos, args: []*ast{e}}, nil
	}
	if isKw(t, "EXISTS") && isOp(p.peekAt(1), "(") {
		return nil, p.unsupported("subquery", "EXISTS")
	}
	return p.parsePredicated()
}

// parsePredicated parses a value expression and at most one predicate after
// it (BETWEEN, IN, LIKE, IS ...), as Spark's grammar does.
func (p *parser) parsePredicated() (*ast, error) {
	v, err := p.parseComparison()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	not := false
	if isKw(t, "NOT") {
		n := p.peekAt(1)
		for _, kw := range []string{"BETWEEN", "IN", "LIKE", "ILIKE", "RLIKE", "REGEXP"} {
			if isKw(n, kw) {
				not = true
			}
		}
		if !not {
			return v, nil // left to the caller, which reports it
		}
		p.next()
		t = p.peek()
	}
	switch {
	case isKw(t, "BETWEEN"):
		p.next()
		lo, err := p.parseComparison()
		if err != nil {
			return nil, err
		}
		if _, err := p.expectKw("AND"); err != nil {
			return nil, err
		}
		hi, err := p.parseComparison()
		if err != nil {
			return nil, err
		}
		return &ast{op: aBetween, pos: t.pos, not: not, args: []*ast{v, lo, hi}}, nil
	case isKw(t, "IN"):
		p.next()
		if _, err := p.expectOp("("); err != nil {
			return nil, err
		}
		if n := p.peek(); isKw(n, "SELECT") || isKw(n, "WITH") || isKw(n, "VALUES") || isKw(n, "FROM") {
			return nil, p.unsupported("subquery", "IN (SELECT ...)")
		}
		args := []*ast{v}
		for {
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			args = append(args, e)
			if n := p.next(); isOp(n, ")") {
				break
			} else if !isOp(n, ",") {
				return nil, p.unexpected(n, "',' or ')'")
			}
		}
		return &ast{op: aIn, pos: t.pos, not: not, args: args}, nil
	case isKw(t, "LIKE") || isKw(t, "ILIKE"):
		p.next()
		if n := p.peek(); isKw(n, "ANY") || isKw(n, "SOME") || isKw(n, "ALL") {
			return nil, p.unsupported(strings.ToUpper(t.text)+" "+strings.ToUpper(n.text), "")
		}
		pat, err := p.parseComparison()
		if err != nil {
			return nil, err
		}
		a := &ast{op: aLike, pos: t.pos, not: not, ilike: isKw(t, "ILIKE"), esc: '\\', args: []*ast{v, pat}}
		if isKw(p.peek(), "ESCAPE") {
			p.next()
			s := p.next()
			if s.kind != tString {
				return nil, p.unexpected(s, "string literal")
			}
			rs := []rune(s.text)
			if len(rs) != 1 {
				return nil, p.errAt(s.pos, "the escape character must be a single character")
			}
			a.esc = rs[0]
		}
		return a, nil
	case isKw(t, "RLIKE") || isKw(t, "REGEXP"):
		return nil, p.unsupported(strings.ToUpper(t.text), "Java regular expressions")
	case isKw(t, "IS") && !not:
		p.next()
		n := p.next()
		if isKw(n, "NOT") {
			not = true
			n = p.next()
		}
		switch {
		case isKw(n, "NULL"):
			return &ast{op: aIsNull, pos: t.pos, not: not, args: []*ast{v}}, nil
		case isKw(n, "UNKNOWN"):
			return &ast{op: aIsNull, pos: t.pos, not: not, args: []*ast{v}, flag: 1}, nil
		case isKw(n, "TRUE"):
			return &ast{op: aIsBool, pos: t.pos, not: not, flag: 1, args: []*ast{v}}, nil
		case isKw(n, "FALSE"):
			return &ast{op: aIsBool, pos: t.pos, not: not, flag: 0, args: []*ast{v}}, nil
		case isKw(n, "DISTINCT"):
			if _, err := p.expectKw("FROM"); err != nil {
				return nil, err
			}
			r, err := p.parseComparison()
			if err != nil {
				return nil, err
			}
			// a IS DISTINCT FROM b is NOT (a <=> b).
			e := &ast{op: aCmp, pos: t.pos, name: "<=>", args: []*ast{v, r}}
			if !not {
				e = &ast{op: aNot, pos: t.pos, args: []*ast{e}}
			}
			return e, nil
		}
		return nil, p.unexpected(n, "NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM")
	}
	return v, nil
}

var comparisonOps = map[string]string{
	"=": "=", "==": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">",
	">=": ">=", "<=>": "<=>", "!<": ">=", "!>": "<=",
}

func (p *parser) parseComparison() (*ast, error) {
	l, err := p.parseBitwise(0)
	for err == nil {
		t := p.peek()
		op, ok := comparisonOps[t.text]
		if t.kind != tOp || !ok {
			break
		}
		p.next()
		var r *ast
		if r, err = p.parseBitwise(0); err == nil {
			l = &ast{op: aCmp, pos: t.pos, name: op, args: []*ast{l, r}}
		}
	}
	return l, err
}

// bitwiseLevels are Spark's bitwise operators, loosest first, which sit
// between comparisons and additions. None is supported.
var bitwiseLevels = [][]string{{"|"}, {"^"}, {"&"}, {"<<", ">>", ">>>"}}

func (p *parser) parseBitwise(level int) (*ast, error) {
	if level == len(bitwiseLevels) {
		return p.parseAdditive()
	}
	l, err := p.parseBitwise(level + 1)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	for _, op := range bitwiseLevels[level] {
		if isOp(t, op) {
			return nil, p.unsupported("operator "+op, "bitwise operators")
		}
	}
	return l, nil
}

func (p *parser) parseAdditive() (*ast, error) {
	l, err := p.parseMultiplicative()
	for err == nil {
		t := p.peek()
		if !isOp(t, "+") && !isOp(t, "-") && !isOp(t, "||") {
			break
		}
		p.next()
		var r *ast
		if r, err = p.parseMultiplicative(); err == nil {
			l = &ast{op: aArith, pos: t.pos, name: t.text, args: []*ast{l, r}}
		}
	}
	return l, err
}

func (p *parser) parseMultiplicative() (*ast, error) {
	l, err := p.parseUnary()
	for err == nil {
		t := p.peek()
		op := ""
		switch {
		case isOp(t, "*") || isOp(t, "/") || isOp(t, "%"):
			op = t.text
		case isKw(t, "DIV"):
			op = "div"
		default:
			return l, nil
		}
		p.next()
		var r *ast
		if r, err = p.parseUnary(); err == nil {
			l = &ast{op: aArith, pos: t.pos, name: op, args: []*ast{l, r}}
		}
	}
	return l, err
}

func (p *parser) parseUnary() (*ast, error) {
	t := p.peek()
	if isOp(t, "-") || isOp(t, "+") || isOp(t, "~") {
		if t.text == "~" {
			return nil, p.unsupported("operator ~", "bitwise operators")
		}
		p.next()
		if n := p.peek(); t.text == "-" && n.kind == tNumber {
			// Spark's numeric literals include their minus sign, so that
			// -2147483648 is an INT and -128Y a TINYINT.
			p.next()
			e, err := p.numberLiteral(token{kind: tNumber, pos: t.pos, text: "-" + n.text})
			if err != nil {
				return nil, err
			}
			return p.parsePostfixOf(e)
		}
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer p.leave()
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		op := aNeg
		if t.text == "+" {
			op = aPos
		}
		return &ast{op: op, pos: t.pos, args: []*ast{e}}, nil
	}
	return p.parsePostfix()
}

func (p *parser) parsePostfix() (*ast, error) {
	e, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	return p.parsePostfixOf(e)
}

func (p *parser) parsePostfixOf(e *ast) (*ast, error) {
	for {
		t := p.peek()
		switch {
		case isOp(t, "."):
			p.next()
			n := p.next()
			if n.kind != tIdent && n.kind != tQuoted {
				return nil, p.unexpected(n, "field name")
			}
			if e.op == aCol && !e.niladic {
				name := quoteIdent(e.name) + "." + quoteIdent(n.text)
				if isOp(p.peek(), "(") {
					return nil, p.unsupported("function "+name, "qualified names denote user-defined functions")
				}
				return nil, p.unsupported("nested field reference "+name, "")
			}
			return nil, p.unsupported("field access ."+quoteIdent(n.text), "")
		case isOp(t, "["):
			return nil, p.unsupported("subscript [...]", "")
		case isOp(t, ":") && e.op == aCol:
			return nil, p.unsupported("JSON path extraction ':'", "")
		case isOp(t, "::"):
			p.next()
			typ, err := p.parseType()
			if err != nil {
				return nil, err
			}
			e = &ast{op: aCast, pos: t.pos, typ: typ, args: []*ast{e}}
		default:
			return e, nil
		}
	}
}

// reserved are the keywords that cannot be column names unless backquoted.
var reserved = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IS": true, "IN": true, "BETWEEN": true,
	"LIKE": true, "ILIKE": true, "RLIKE": true, "REGEXP": true, "ESCAPE": true,
	"WHEN": true, "THEN": true, "ELSE": true, "END": true, "DIV": true, "AS": true,
	"FROM": true, "DISTINCT": true, "CASE": true, "NULL": true, "TRUE": true, "FALSE": true,
}

// niladic are Spark's functions that may be written without parentheses.
var niladic = map[string]bool{
	"CURRENT_DATE": true, "CURRENT_TIMESTAMP": true, "CURRENT_USER": true, "USER": true,
	"SESSION_USER": true, "CURRENT_TIME": true, "LOCALTIMESTAMP": true,
}

func (p *parser) parsePrimary() (*ast, error) {
	t := p.next()
	switch t.kind {
	case tEOF:
		return nil, p.unexpected(t, "an expression")
	case tNumber:
		return p.numberLiteral(t)
	case tString:
		s := t.text
		for p.peek().kind == tString { // adjacent literals concatenate, as in Spark
			s += p.next().text
		}
		return &ast{op: aLit, pos: t.pos, val: Value{Kind: String, B: []byte(s)}, typ: Type{Kind: String}}, nil
	case tQuoted:
		if isOp(p.peek(), "(") {
			return p.parseCall(t, strings.ToLower(t.text))
		}
		return &ast{op: aCol, pos: t.pos, name: t.text}, nil
	case tOp:
		switch t.text {
		case "(":
			if n := p.peek(); isKw(n, "SELECT") || isKw(n, "WITH") || isKw(n, "VALUES") || isKw(n, "FROM") {
				return nil, p.unsupported("subquery", "")
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			n := p.next()
			if isOp(n, ",") {
				return nil, p.unsupported("struct constructor (a, b, ...)", "")
			}
			if !isOp(n, ")") {
				return nil, p.unexpected(n, "')'")
			}
			return e, nil
		case "*":
			return nil, p.unsupported("star (*)", "")
		}
		return nil, p.unexpected(t, "an expression")
	}
	// An identifier or keyword.
	up := strings.ToUpper(t.text)
	if up == "CASE" {
		return p.parseCase(t)
	}
	if isOp(p.peek(), "(") {
		switch up {
		case "CAST", "TRY_CAST":
			return p.parseCast(t)
		case "EXTRACT":
			return p.parseExtract(t)
		case "EXISTS":
			return nil, p.unsupported("subquery", "EXISTS")
		}
		return p.parseCall(t, strings.ToLower(t.text))
	}
	if n := p.peek(); n.kind == tString {
		return p.typedLiteral(t, up, n)
	}
	switch up {
	case "NULL":
		return &ast{op: aLit, pos: t.pos, val: nullValue(Null), typ: Type{Kind: Null}}, nil
	case "TRUE", "FALSE":
		return &ast{op: aLit, pos: t.pos, val: boolValue(up == "TRUE"), typ: Type{Kind: Boolean}}, nil
	case "INTERVAL":
		return nil, p.unsupported("INTERVAL literal", "")
	case "SELECT", "WITH", "VALUES":
		return nil, p.unsupported("subquery", "")
	}
	if reserved[up] {
		return nil, p.unexpected(t, "an expression")
	}
	return &ast{op: aCol, pos: t.pos, name: t.text, niladic: niladic[up]}, nil
}

func (p *parser) parseCall(t token, name string) (*ast, error) {
	p.next() // (
	if d, ok := nondeterministic[name]; ok {
		return nil, p.unsupported("function "+name, d)
	}
	if _, ok := functions[name]; !ok {
		return nil, p.unsupported("function "+quoteIdent(name), "supported: "+supportedList())
	}
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	a := &ast{op: aFunc, pos: t.pos, name: name}
	if isOp(p.peek(), ")") {
		p.next()
	} else {
		if n := p.peek(); isKw(n, "DISTINCT") || isKw(n, "ALL") {
			return nil, p.unexpected(n, "an expression")
		}
		if n := p.peek(); (name == "trim" || name == "ltrim" || name == "rtrim") &&
			(isKw(n, "BOTH") || isKw(n, "LEADING") || isKw(n, "TRAILING") || isKw(n, "FROM")) {
			return nil, p.unsupported(name+"("+strings.ToUpper(n.text)+" ... FROM ...)", "")
		}
		for {
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			a.args = append(a.args, e)
			n := p.next()
			if isOp(n, ")") {
				break
			}
			if (name == "substring" || name == "substr") && len(a.args) == 1 && isKw(n, "FROM") {
				// SUBSTRING(str FROM pos [FOR len])
				pos, err := p.parseExpr()
				if err != nil {
					return nil, err
				}
				a.args = append(a.args, pos)
				if isKw(p.peek(), "FOR") {
					p.next()
					l, err := p.parseExpr()
					if err != nil {
						return nil, err
					}
					a.args = append(a.args, l)
				}
				if _, err := p.expectOp(")"); err != nil {
					return nil, err
				}
				break
			}
			if !isOp(n, ",") {
				return nil, p.unexpected(n, "',' or ')'")
			}
		}
	}
	if n := p.peek(); isKw(n, "OVER") || isKw(n, "FILTER") || isKw(n, "WITHIN") {
		return nil, p.unsupported("window or aggregate clause "+strings.ToUpper(n.text), "")
	}
	return a, nil
}

func (p *parser) parseCast(t token) (*ast, error) {
	p.next() // (
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectKw("AS"); err != nil {
		return nil, err
	}
	typ, err := p.parseType()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &ast{op: aCast, pos: t.pos, typ: typ, args: []*ast{e}}, nil
}

var typeNames = map[string]Kind{
	"BOOLEAN": Boolean, "TINYINT": Byte, "BYTE": Byte, "SMALLINT": Short, "SHORT": Short,
	"INT": Int, "INTEGER": Int, "BIGINT": Long, "LONG": Long, "FLOAT": Float, "REAL": Float,
	"DOUBLE": Double, "DECIMAL": Decimal, "DEC": Decimal, "NUMERIC": Decimal, "STRING": String,
	"VARCHAR": String, "CHAR": String, "CHARACTER": String, "BINARY": Binary, "DATE": Date,
	"TIMESTAMP": Timestamp, "TIMESTAMP_LTZ": Timestamp, "TIMESTAMP_NTZ": TimestampNTZ,
}

var unsupportedTypes = map[string]bool{
	"ARRAY": true, "MAP": true, "STRUCT": true, "INTERVAL": true, "VOID": true,
	"VARIANT": true, "OBJECT": true, "TIME": true,
}

// parseType parses a type name as CAST takes it.
func (p *parser) parseType() (Type, error) {
	t := p.next()
	if t.kind != tIdent {
		return Type{}, p.unexpected(t, "a type name")
	}
	up := strings.ToUpper(t.text)
	k, ok := typeNames[up]
	if !ok {
		if unsupportedTypes[up] {
			return Type{}, p.unsupported("type "+up, "")
		}
		return Type{}, p.errAt(t.pos, "unknown type "+t.text)
	}
	if up == "DOUBLE" && isKw(p.peek(), "PRECISION") {
		p.next()
	}
	typ := Type{Kind: k}
	if k == Decimal {
		typ.Precision = 10
	}
	if !isOp(p.peek(), "(") {
		if k == String && up != "STRING" {
			return Type{}, p.errAt(t.pos, up+" needs a length")
		}
		return typ, nil
	}
	if k != Decimal && (k != String || up == "STRING") {
		return Type{}, p.unexpected(p.peek(), "')'")
	}
	p.next()
	var nums []int
	for {
		n := p.next()
		v, err := strconv.Atoi(n.text)
		if n.kind != tNumber || err != nil {
			return Type{}, p.unexpected(n, "an integer")
		}
		nums = append(nums, v)
		n = p.next()
		if isOp(n, ")") {
			break
		}
		if !isOp(n, ",") || len(nums) == 2 || k != Decimal {
			return Type{}, p.unexpected(n, "')'")
		}
	}
	if k == Decimal {
		typ.Precision = nums[0]
		typ.Scale = 0
		if len(nums) == 2 {
			typ.Scale = nums[1]
		}
		if !typ.valid() {
			return Type{}, p.errAt(t.pos, "invalid decimal type "+typ.String()+": precision must be 1 to 38 and scale 0 to precision")
		}
	}
	return typ, nil
}

func (p *parser) parseExtract(t token) (*ast, error) {
	p.next() // (
	f := p.next()
	if f.kind != tIdent && f.kind != tString {
		return nil, p.unexpected(f, "a field name")
	}
	field := ""
	switch strings.ToUpper(f.text) {
	case "YEAR", "Y", "YEARS", "YR", "YRS":
		field = "year"
	case "MONTH", "MON", "MONS", "MONTHS":
		field = "month"
	case "DAY", "D", "DAYS":
		field = "day"
	case "HOUR", "H", "HOURS", "HR", "HRS":
		field = "hour"
	case "MINUTE", "M", "MIN", "MINS", "MINUTES":
		field = "minute"
	case "SECOND", "S", "SEC", "SECONDS", "SECS":
		field = "second"
	default:
		return nil, p.unsupported("EXTRACT("+strings.ToUpper(f.text)+" FROM ...)", "supported fields: YEAR, MONTH, DAY, HOUR, MINUTE, SECOND")
	}
	if n := p.next(); !isKw(n, "FROM") && !isOp(n, ",") {
		return nil, p.unexpected(n, "FROM")
	}
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &ast{op: aExtract, pos: t.pos, name: field, args: []*ast{e}}, nil
}

func (p *parser) parseCase(t token) (*ast, error) {
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer p.leave()
	a := &ast{op: aCase, pos: t.pos}
	if !isKw(p.peek(), "WHEN") {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		a.args = append(a.args, e)
		a.hasOperand = true
	}
	if !isKw(p.peek(), "WHEN") {
		return nil, p.unexpected(p.peek(), "WHEN")
	}
	for isKw(p.peek(), "WHEN") {
		p.next()
		c, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expectKw("THEN"); err != nil {
			return nil, err
		}
		v, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		a.args = append(a.args, c, v)
	}
	if isKw(p.peek(), "ELSE") {
		p.next()
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		a.args = append(a.args, e)
		a.hasElse = true
	}
	if _, err := p.expectKw("END"); err != nil {
		return nil, err
	}
	return a, nil
}

// typedLiteral parses DATE '...', TIMESTAMP '...', TIMESTAMP_NTZ '...',
// TIMESTAMP_LTZ '...' and X'...'.
func (p *parser) typedLiteral(t token, up string, s token) (*ast, error) {
	p.next()
	text := s.text
	for p.peek().kind == tString {
		text += p.next().text
	}
	a := &ast{op: aLit, pos: t.pos}
	switch up {
	case "DATE":
		d, ok := parseDate([]byte(text))
		if !ok {
			return nil, p.errAt(s.pos, "cannot parse the DATE value "+strconv.Quote(text))
		}
		a.val, a.typ = Value{Kind: Date, I: d}, Type{Kind: Date}
	case "TIMESTAMP", "TIMESTAMP_LTZ", "TIMESTAMP_NTZ":
		k := Timestamp
		if up == "TIMESTAMP_NTZ" {
			k = TimestampNTZ
		}
		ts, hasZone, ok := parseTimestamp([]byte(text), k == TimestampNTZ)
		if !ok || k == TimestampNTZ && hasZone {
			return nil, p.errAt(s.pos, "cannot parse the "+k.String()+" value "+strconv.Quote(text))
		}
		a.val, a.typ = Value{Kind: k, I: ts}, Type{Kind: k}
	case "X":
		h := text
		if len(h)%2 == 1 {
			h = "0" + h
		}
		b := make([]byte, len(h)/2)
		for i := range b {
			hi, lo := hexVal(h[2*i]), hexVal(h[2*i+1])
			if hi < 0 || lo < 0 {
				return nil, p.errAt(s.pos, "invalid hexadecimal binary literal "+strconv.Quote(text))
			}
			b[i] = byte(hi<<4 | lo)
		}
		a.val, a.typ = Value{Kind: Binary, B: b}, Type{Kind: Binary}
	case "INTERVAL":
		return nil, p.unsupported("INTERVAL literal", "")
	default:
		return nil, p.errAt(t.pos, "literals of type "+up+" are not supported")
	}
	return a, nil
}

// numberLiteral types a numeric literal as Spark does: an integer is INT if it
// fits, else BIGINT, else DECIMAL; 1.5 is DECIMAL(2,1); 1.5e3 and 1.5D are
// DOUBLE; the suffixes Y, S, L, F and BD give TINYINT, SMALLINT, BIGINT,
// FLOAT and DECIMAL.
func (p *parser) numberLiteral(t token) (*ast, error) {
	text := t.text
	up := strings.ToUpper(text)
	a := &ast{op: aLit, pos: t.pos, numLit: true}
	intLit := func(body string, k Kind, lo, hi int64) error {
		v, err := strconv.ParseInt(body, 10, 64)
		if err != nil || v < lo || v > hi {
			return p.errAt(t.pos, "numeric literal "+body+" is out of range for "+k.String())
		}
		a.val, a.typ = Value{Kind: k, I: v}, Type{Kind: k}
		return nil
	}
	floatLit := func(body string, k Kind) error {
		bits := 64
		if k == Float {
			bits = 32
		}
		f, err := strconv.ParseFloat(body, bits)
		if err != nil || math.IsInf(f, 0) {
			return p.errAt(t.pos, "numeric literal "+body+" is out of range for "+k.String())
		}
		a.val, a.typ = Value{Kind: k, F: f}, Type{Kind: k}
		return nil
	}
	var err error
	switch {
	case strings.HasSuffix(up, "BD"):
		err = p.decimalLiteral(a, text[:len(text)-2])
	case strings.HasSuffix(up, "D"):
		err = floatLit(text[:len(text)-1], Double)
	case strings.HasSuffix(up, "F"):
		err = floatLit(text[:len(text)-1], Float)
	case strings.HasSuffix(up, "L"):
		err = intLit(text[:len(text)-1], Long, math.MinInt64, math.MaxInt64)
	case strings.HasSuffix(up, "S"):
		err = intLit(text[:len(text)-1], Short, math.MinInt16, math.MaxInt16)
	case strings.HasSuffix(up, "Y"):
		err = intLit(text[:len(text)-1], Byte, math.MinInt8, math.MaxInt8)
	case strings.Contains(up, "E"):
		err = floatLit(text, Double)
	case strings.Contains(text, "."):
		err = p.decimalLiteral(a, text)
	default:
		v, perr := strconv.ParseInt(text, 10, 64)
		switch {
		case perr == nil && v >= math.MinInt32 && v <= math.MaxInt32:
			a.val, a.typ = Value{Kind: Int, I: v}, Type{Kind: Int}
		case perr == nil:
			a.val, a.typ = Value{Kind: Long, I: v}, Type{Kind: Long}
		default:
			err = p.decimalLiteral(a, text)
		}
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// decimalLiteral types text as Spark types a BigDecimal literal: the
// precision is the number of digits (at least the scale), and a negative
// scale (from an exponent) is brought to 0.
func (p *parser) decimalLiteral(a *ast, text string) error {
	u, scale, ok := parseBigDecimal(text)
	if !ok {
		return p.errAt(a.pos, "invalid numeric literal "+text)
	}
	if scale < 0 {
		if scale < -2*MaxPrecision {
			return p.errAt(a.pos, "numeric literal "+text+" is out of range for DECIMAL")
		}
		u.Mul(u, pow10Big(-scale))
		scale = 0
	}
	prec := len(new(big.Int).Abs(u).String())
	if prec < scale {
		prec = scale
	}
	if prec > MaxPrecision || scale > MaxPrecision {
		return p.errAt(a.pos, "numeric literal "+text+" is out of range for DECIMAL(38)")
	}
	a.typ = Type{Kind: Decimal, Precision: prec, Scale: scale}
	a.val = decFromBig(u, a.typ)
	return nil
}
