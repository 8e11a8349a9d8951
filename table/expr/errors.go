package expr

import "fmt"

// SyntaxError reports an expression that is not well-formed, or a malformed
// literal in it (DATE 'x', an out-of-range number, a bad LIKE pattern). Pos is
// the byte offset (from 0) in Expr where the problem was found, as Spark's
// parser reports "pos".
type SyntaxError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("expression %q: syntax error at position %d: %s", e.Expr, e.Pos, e.Msg)
}

// UnsupportedError reports a well-formed Spark expression that uses a
// construct outside the subset this package implements. What names the
// construct ("function foo", "nested field reference a.b", "subquery"...), so
// that a table whose constraints or generated columns use it can be refused
// by that name; Detail, if not empty, says more (the supported functions, or
// why the construct is refused).
type UnsupportedError struct {
	Expr   string
	What   string
	Detail string
}

func (e *UnsupportedError) Error() string {
	s := fmt.Sprintf("expression %q: %s is not supported", e.Expr, e.What)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// TypeError reports operands whose types do not fit the operation (such as
// 'a' + true), a wrong number of function arguments or an impossible cast.
// Pos is the byte offset (from 0) of the offending operator or call.
type TypeError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("expression %q: type error at position %d: %s", e.Expr, e.Pos, e.Msg)
}

// UnknownColumnError reports a column reference the Resolver does not know.
type UnknownColumnError struct {
	Expr string
	Pos  int
	Name string
}

func (e *UnknownColumnError) Error() string {
	return fmt.Sprintf("expression %q: unknown column %s at position %d", e.Expr, quoteIdent(e.Name), e.Pos)
}

// EvalError reports a row that Eval cannot evaluate: a value whose Kind is not
// its column's, or an invalid LIKE pattern computed from the row. Ordinary
// SQL failures (division by zero, failed casts, overflow) are not errors: they
// give NULL or wrap around, as Spark does with ANSI mode off.
type EvalError struct {
	Expr string
	Msg  string
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("expression %q: %s", e.Expr, e.Msg)
}

// quoteIdent returns name backquoted if it is not a plain identifier.
func quoteIdent(name string) string {
	plain := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return name
	}
	b := []byte{'`'}
	for i := 0; i < len(name); i++ {
		if name[i] == '`' {
			b = append(b, '`')
		}
		b = append(b, name[i])
	}
	return string(append(b, '`'))
}
