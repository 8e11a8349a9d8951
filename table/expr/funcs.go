package expr

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

type funcSpec struct {
	min, max int // max < 0: any number
	build    func(c *checker, a *ast, args []cexpr) (cexpr, error)
}

// functions are the supported functions, by lower-case name.
var functions map[string]funcSpec

// nondeterministic are functions refused because their result depends on
// more than the row, which a constraint or generated column cannot.
var nondeterministic = map[string]string{}

func init() {
	for _, n := range []string{"current_date", "current_timestamp", "now", "curdate", "localtimestamp",
		"current_time", "current_timezone", "rand", "randn", "random", "uuid", "shuffle",
		"monotonically_increasing_id", "spark_partition_id", "input_file_name",
		"input_file_block_start", "input_file_block_length", "current_user", "user",
		"session_user", "current_database", "current_schema", "current_catalog", "unix_timestamp"} {
		nondeterministic[n] = "not deterministic"
	}
	castAlias := func(t Type) funcSpec {
		return funcSpec{1, 1, func(c *checker, a *ast, args []cexpr) (cexpr, error) {
			if !canCast(args[0].t, t) {
				return cexpr{}, c.typeErr(a.pos, "cannot cast %s to %s", args[0].t, t)
			}
			return c.castTo(args[0], t), nil
		}}
	}
	dateField := func(f int) funcSpec {
		return funcSpec{1, 1, func(c *checker, a *ast, args []cexpr) (cexpr, error) {
			x, err := c.implicitCast(args[0], Type{Kind: Date}, "the argument of "+a.name)
			if err != nil {
				return x, err
			}
			return cexpr{n: &dateFieldNode{x: x.n, field: f}, t: Type{Kind: Int}, konst: x.konst}, nil
		}}
	}
	timeField := func(f int) funcSpec {
		return funcSpec{1, 1, func(c *checker, a *ast, args []cexpr) (cexpr, error) {
			x, err := c.implicitCast(args[0], Type{Kind: timestampKindOf(args[0].t)}, "the argument of "+a.name)
			if err != nil {
				return x, err
			}
			return cexpr{n: &timeFieldNode{x: x.n, field: f}, t: Type{Kind: Int}, konst: x.konst}, nil
		}}
	}
	strFunc := func(fn func([]byte) []byte) funcSpec {
		return funcSpec{1, 1, func(c *checker, a *ast, args []cexpr) (cexpr, error) {
			x, err := c.implicitCast(args[0], Type{Kind: String}, "the argument of "+a.name)
			if err != nil {
				return x, err
			}
			return cexpr{n: &strFuncNode{x: x.n, fn: fn}, t: Type{Kind: String}, konst: x.konst}, nil
		}}
	}
	coalesce := funcSpec{1, -1, buildCoalesce}
	substring := funcSpec{2, 3, buildSubstring}
	length := funcSpec{1, 1, buildLength}
	functions = map[string]funcSpec{
		"boolean":   castAlias(Type{Kind: Boolean}),
		"tinyint":   castAlias(Type{Kind: Byte}),
		"smallint":  castAlias(Type{Kind: Short}),
		"int":       castAlias(Type{Kind: Int}),
		"bigint":    castAlias(Type{Kind: Long}),
		"float":     castAlias(Type{Kind: Float}),
		"double":    castAlias(Type{Kind: Double}),
		"decimal":   castAlias(Type{Kind: Decimal, Precision: 10}),
		"string":    castAlias(Type{Kind: String}),
		"binary":    castAlias(Type{Kind: Binary}),
		"date":      castAlias(Type{Kind: Date}),
		"timestamp": castAlias(Type{Kind: Timestamp}),
		"to_date":   {1, 2, buildToDate},

		"year":        dateField(fYear),
		"month":       dateField(fMonth),
		"day":         dateField(fDay),
		"dayofmonth":  dateField(fDay),
		"hour":        timeField(fHour),
		"minute":      timeField(fMinute),
		"second":      timeField(fSecond),
		"date_format": {2, 2, buildDateFormat},
		"date_trunc":  {2, 2, buildDateTrunc},
		"trunc":       {2, 2, buildTrunc},

		"substring":        substring,
		"substr":           substring,
		"concat":           {0, -1, func(c *checker, a *ast, args []cexpr) (cexpr, error) { return c.concat(args) }},
		"concat_ws":        {1, -1, buildConcatWs},
		"length":           length,
		"char_length":      length,
		"character_length": length,
		"lower":            strFunc(bytes.ToLower),
		"lcase":            strFunc(bytes.ToLower),
		"upper":            strFunc(bytes.ToUpper),
		"ucase":            strFunc(bytes.ToUpper),
		"trim":             strFunc(func(b []byte) []byte { return trimSpaces(b, true, true) }),
		"ltrim":            strFunc(func(b []byte) []byte { return trimSpaces(b, true, false) }),
		"rtrim":            strFunc(func(b []byte) []byte { return trimSpaces(b, false, true) }),

		"abs":       {1, 1, buildAbs},
		"coalesce":  coalesce,
		"nvl":       {2, 2, buildCoalesce},
		"ifnull":    {2, 2, buildCoalesce},
		"if":        {3, 3, buildIf},
		"nullif":    {2, 2, buildNullIf},
		"nvl2":      {3, 3, buildNvl2},
		"isnull":    {1, 1, buildIsNull(false)},
		"isnotnull": {1, 1, buildIsNull(true)},
	}
}

// supportedList names the supported functions and special forms, for the
// message refusing an unknown function.
func supportedList() string {
	names := []string{"cast", "try_cast", "extract"}
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (c *checker) call(a *ast) (cexpr, error) {
	args, err := c.checkArgs(a.args)
	if err != nil {
		return cexpr{}, err
	}
	return c.callBuilt(a, a.name, args)
}

func (c *checker) callBuilt(a *ast, name string, args []cexpr) (cexpr, error) {
	spec, ok := functions[name]
	if !ok {
		return cexpr{}, &UnsupportedError{Expr: c.src, What: "function " + name, Detail: "supported: " + supportedList()}
	}
	if len(args) < spec.min || spec.max >= 0 && len(args) > spec.max {
		want := fmt.Sprint(spec.min)
		switch {
		case spec.max < 0:
			want = "at least " + want
		case spec.max != spec.min:
			want += " to " + fmt.Sprint(spec.max)
		}
		return cexpr{}, c.typeErr(a.pos, "function %s takes %s argument(s), not %d", name, want, len(args))
	}
	sub := *a
	sub.name = name
	return spec.build(c, &sub, args)
}

func buildToDate(c *checker, a *ast, args []cexpr) (cexpr, error) {
	if len(args) == 2 {
		return cexpr{}, &UnsupportedError{Expr: c.src, What: "to_date with a format", Detail: "use to_date(x) or CAST(x AS DATE)"}
	}
	x := args[0]
	switch x.t.Kind {
	case String, Date, Timestamp, TimestampNTZ, Null:
		return c.castTo(x, Type{Kind: Date}), nil
	}
	return x, c.typeErr(a.pos, "the argument of to_date must be a STRING, DATE or TIMESTAMP, not %s", x.t)
}

func buildSubstring(c *checker, a *ast, args []cexpr) (cexpr, error) {
	s := args[0]
	k := Binary
	if s.t.Kind != Binary {
		k = String
		var err error
		if s, err = c.implicitCast(s, Type{Kind: String}, "the string of "+a.name); err != nil {
			return s, err
		}
	}
	n := &substrNode{s: s.n, k: k}
	konst := s.konst
	for i, e := range args[1:] {
		e, err := c.implicitCast(e, Type{Kind: Int}, []string{"the position", "the length"}[i]+" of "+a.name)
		if err != nil {
			return e, err
		}
		konst = konst && e.konst
		if i == 0 {
			n.pos = e.n
		} else {
			n.len = e.n
		}
	}
	return cexpr{n: n, t: Type{Kind: k}, konst: konst}, nil
}

func buildLength(c *checker, a *ast, args []cexpr) (cexpr, error) {
	x := args[0]
	if x.t.Kind == Binary {
		return cexpr{n: &lengthNode{x: x.n, binary: true}, t: Type{Kind: Int}, konst: x.konst}, nil
	}
	x, err := c.implicitCast(x, Type{Kind: String}, "the argument of "+a.name)
	if err != nil {
		return x, err
	}
	return cexpr{n: &lengthNode{x: x.n}, t: Type{Kind: Int}, konst: x.konst}, nil
}

func buildConcatWs(c *checker, a *ast, args []cexpr) (cexpr, error) {
	n := &concatWsNode{}
	for i, e := range args {
		e, err := c.implicitCast(e, Type{Kind: String}, fmt.Sprintf("argument %d of concat_ws", i+1))
		if err != nil {
			return e, err
		}
		if i == 0 {
			n.sep = e.n
		} else {
			n.args = append(n.args, e.n)
		}
	}
	return cexpr{n: n, t: Type{Kind: String}, konst: allConst(args...)}, nil
}

func buildAbs(c *checker, a *ast, args []cexpr) (cexpr, error) {
	x := args[0]
	switch {
	case x.t.Kind == String || x.t.Kind == Null:
		x = c.castTo(x, Type{Kind: Double})
	case !isNumeric(x.t.Kind):
		return x, c.typeErr(a.pos, "the argument of abs must be a number, not %s", x.t)
	}
	return cexpr{n: &absNode{x: x.n, t: x.t}, t: x.t, konst: x.konst}, nil
}

func buildCoalesce(c *checker, a *ast, args []cexpr) (cexpr, error) {
	t, ok := widerCommonType(args)
	if !ok {
		return cexpr{}, c.typeErr(a.pos, "the arguments of %s have no common type: %s", a.name, typeList(args))
	}
	n := &coalesceNode{}
	for _, e := range args {
		n.args = append(n.args, c.castTo(e, t).n)
	}
	return cexpr{n: n, t: t, konst: allConst(args...)}, nil
}

// ifThenElse compiles CASE WHEN cond THEN x ELSE y END with x and y brought
// to their wider type.
func (c *checker) ifThenElse(a *ast, cond, x, y cexpr) (cexpr, error) {
	t, ok := widerType(x.t, y.t)
	if !ok {
		return cexpr{}, c.typeErr(a.pos, "the branches of %s have no common type: %s and %s", a.name, x.t, y.t)
	}
	x, y = c.castTo(x, t), c.castTo(y, t)
	n := &caseNode{conds: []boolNode{asBool(cond.n)}, vals: []node{x.n}, els: y.n}
	return cexpr{n: n, t: t, konst: allConst(cond, x, y)}, nil
}

func buildIf(c *checker, a *ast, args []cexpr) (cexpr, error) {
	cond, err := c.boolean(args[0], "the condition of if")
	if err != nil {
		return cond, err
	}
	return c.ifThenElse(a, cond, args[1], args[2])
}

// buildNullIf compiles nullif(x, y) as Spark does: if(x = y, NULL, x).
func buildNullIf(c *checker, a *ast, args []cexpr) (cexpr, error) {
	cond, err := c.compare(a.pos, "=", args[0], args[1])
	if err != nil {
		return cond, err
	}
	t := args[0].t
	n := &caseNode{conds: []boolNode{asBool(cond.n)}, vals: []node{&litNode{nullValue(t.Kind)}}, els: args[0].n}
	return cexpr{n: n, t: t, konst: allConst(args...)}, nil
}

// buildNvl2 compiles nvl2(x, y, z) as if(x IS NOT NULL, y, z).
func buildNvl2(c *checker, a *ast, args []cexpr) (cexpr, error) {
	cond := cexpr{n: &isNullNode{x: args[0].n, not: true}, t: Type{Kind: Boolean}, konst: args[0].konst}
	return c.ifThenElse(a, cond, args[1], args[2])
}

func buildIsNull(not bool) func(c *checker, a *ast, args []cexpr) (cexpr, error) {
	return func(c *checker, a *ast, args []cexpr) (cexpr, error) {
		return cexpr{n: &isNullNode{x: args[0].n, not: not}, t: Type{Kind: Boolean}, konst: args[0].konst}, nil
	}
}

func buildDateFormat(c *checker, a *ast, args []cexpr) (cexpr, error) {
	x, err := c.implicitCast(args[0], Type{Kind: timestampKindOf(args[0].t)}, "the first argument of date_format")
	if err != nil {
		return x, err
	}
	f, err := c.implicitCast(args[1], Type{Kind: String}, "the format of date_format")
	if err != nil {
		return f, err
	}
	if !f.konst {
		return cexpr{}, &UnsupportedError{Expr: c.src, What: "date_format with a format that is not a constant"}
	}
	fv := f.n.eval(nil)
	if fv.Null {
		return lit(nullValue(String), Type{Kind: String}), nil
	}
	df, msg := compileDateFormat(string(fv.B))
	if df == nil {
		return cexpr{}, &UnsupportedError{Expr: c.src, What: fmt.Sprintf("date_format pattern %q", fv.B),
			Detail: msg + "; supported letters: y M L d D H h k K m s S a E"}
	}
	return cexpr{n: &dateFormatNode{x: x.n, fmt: df}, t: Type{Kind: String}, konst: x.konst}, nil
}

func buildDateTrunc(c *checker, a *ast, args []cexpr) (cexpr, error) {
	u, err := c.implicitCast(args[0], Type{Kind: String}, "the unit of date_trunc")
	if err != nil {
		return u, err
	}
	x, err := c.implicitCast(args[1], Type{Kind: Timestamp}, "the second argument of date_trunc")
	if err != nil {
		return x, err
	}
	return c.trunc(x, u, false)
}

func buildTrunc(c *checker, a *ast, args []cexpr) (cexpr, error) {
	x, err := c.implicitCast(args[0], Type{Kind: Date}, "the first argument of trunc")
	if err != nil {
		return x, err
	}
	u, err := c.implicitCast(args[1], Type{Kind: String}, "the unit of trunc")
	if err != nil {
		return u, err
	}
	return c.trunc(x, u, true)
}

func (c *checker) trunc(x, u cexpr, forDate bool) (cexpr, error) {
	t := Type{Kind: Timestamp}
	if forDate {
		t = Type{Kind: Date}
	}
	n := &truncNode{x: x.n, u: u.n, unit: -1, forDate: forDate}
	if u.konst {
		uv := u.n.eval(nil)
		n.unit = truncInvalid
		if !uv.Null {
			n.unit = truncUnit(uv.B, forDate)
		}
	}
	return cexpr{n: n, t: t, konst: x.konst && u.konst}, nil
}
