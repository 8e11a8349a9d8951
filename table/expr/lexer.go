package expr

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // a bare identifier or keyword, text as written
	tQuoted         // a backquoted identifier, text unescaped
	tString         // a string literal, text unescaped
	tNumber         // a numeric literal, text as written
	tOp             // an operator or punctuation
)

type token struct {
	kind tokKind
	pos  int
	text string
}

// describe names the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tString:
		return "string literal"
	case tQuoted:
		return quoteIdent(t.text)
	}
	return "'" + t.text + "'"
}

// operators, longest first so that the longest match wins.
var operators = []string{
	"<=>", ">>>",
	"<>", "<=", ">=", "!=", "==", "!<", "!>", "||", "::", "->", "=>", "<<", ">>", "&&",
	"(", ")", ",", ".", "[", "]", "{", "}", "+", "-", "*", "/", "%", "=", "<", ">",
	"!", "~", "&", "|", "^", ":", ";", "?",
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// identRun returns the end of the run of identifier characters starting at i.
func identRun(src string, i int) int {
	for i < len(src) {
		c := src[i]
		if isIdentByte(c) {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			break
		}
		r, n := utf8.DecodeRuneInString(src[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		i += n
	}
	return i
}

// tokenize splits src into tokens, following Spark's lexer: case-insensitive
// keywords are left to the parser, identifiers may start with a digit when
// they are not numbers (Spark's longest-match rule), strings take backslash
// escapes and -- and /* */ comments are skipped.
func tokenize(src string) ([]token, *SyntaxError) {
	var toks []token
	i := 0
	for {
		// Skip white space and comments.
		for i < len(src) {
			c := src[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				i++
			} else if strings.HasPrefix(src[i:], "--") {
				for i < len(src) && src[i] != '\n' {
					i++
				}
			} else if strings.HasPrefix(src[i:], "/*") {
				start, depth := i, 0
				for {
					if i >= len(src) {
						return nil, &SyntaxError{Expr: src, Pos: start, Msg: "unterminated comment"}
					}
					if strings.HasPrefix(src[i:], "/*") {
						depth++
						i += 2
					} else if strings.HasPrefix(src[i:], "*/") {
						depth--
						i += 2
						if depth == 0 {
							break
						}
					} else {
						i++
					}
				}
			} else {
				break
			}
		}
		if i >= len(src) {
			return append(toks, token{kind: tEOF, pos: i}), nil
		}
		c := src[i]
		switch {
		case isDigit(c) || c == '.' && i+1 < len(src) && isDigit(src[i+1]):
			end, dotted := scanNumber(src, i)
			if id := identRun(src, i); !dotted && id > end {
				toks = append(toks, token{kind: tIdent, pos: i, text: src[i:id]})
				i = id
				break
			}
			if end < len(src) && identRun(src, end) > end {
				return nil, &SyntaxError{Expr: src, Pos: i, Msg: "invalid numeric literal " + src[i:identRun(src, end)]}
			}
			toks = append(toks, token{kind: tNumber, pos: i, text: src[i:end]})
			i = end
		case c == '\'' || c == '"':
			s, end, err := scanString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tString, pos: i, text: s})
			i = end
		case c == '`':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, &SyntaxError{Expr: src, Pos: i, Msg: "unterminated quoted identifier"}
				}
				if src[j] == '`' {
					if j+1 < len(src) && src[j+1] == '`' {
						b.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			toks = append(toks, token{kind: tQuoted, pos: i, text: b.String()})
			i = j + 1
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf:
			end := identRun(src, i)
			if end == i {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, &SyntaxError{Expr: src, Pos: i, Msg: "unexpected character " + strconvQuoteRune(r)}
			}
			toks = append(toks, token{kind: tIdent, pos: i, text: src[i:end]})
			i = end
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, &SyntaxError{Expr: src, Pos: i, Msg: "unexpected character " + strconvQuoteRune(r)}
			}
			toks = append(toks, token{kind: tOp, pos: i, text: op})
			i += len(op)
		}
	}
}

func strconvQuoteRune(r rune) string {
	if r == utf8.RuneError {
		return "(invalid UTF-8)"
	}
	return "'" + string(r) + "'"
}

// scanNumber returns the end of the numeric literal starting at i, following
// Spark's lexer: DIGIT+ [L|S|Y], DECIMAL_DIGITS, exponents, and the suffixes F,
// D and BD. dotted tells whether it holds a decimal point.
func scanNumber(src string, i int) (end int, dotted bool) {
	j := i
	for j < len(src) && isDigit(src[j]) {
		j++
	}
	plain := true
	if j < len(src) && src[j] == '.' {
		dotted, plain = true, false
		j++
		for j < len(src) && isDigit(src[j]) {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			for k < len(src) && isDigit(src[k]) {
				k++
			}
			j, plain = k, false
		}
	}
	if j < len(src) {
		switch src[j] {
		case 'l', 'L', 's', 'S', 'y', 'Y':
			if plain {
				j++
			}
		case 'f', 'F', 'd', 'D':
			j++
		case 'b', 'B':
			if j+1 < len(src) && (src[j+1] == 'd' || src[j+1] == 'D') {
				j += 2
			}
		}
	}
	return j, dotted
}

// scanString scans the string literal starting at the quote at i and returns
// its unescaped value and the end of the literal.
func scanString(src string, i int) (string, int, *SyntaxError) {
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case q:
			return unescapeSQL(src[i+1 : j]), j + 1, nil
		}
	}
	return "", 0, &SyntaxError{Expr: src, Pos: i, Msg: "unterminated string literal"}
}

// unescapeSQL decodes the backslash escapes of a Spark string literal, as
// Spark's unescapeSQLString does: \0 \' \" \b \n \r \t \Z \\, octal \ooo,
// \uXXXX (UTF-16, surrogate pairs combined); \% and \_ keep their backslash
// (for LIKE patterns) and any other escaped character stands for itself.
func unescapeSQL(raw string) string {
	if strings.IndexByte(raw, '\\') < 0 {
		return raw
	}
	var b []byte
	var units []uint16 // pending \u code units
	flush := func() {
		if len(units) > 0 {
			for _, r := range utf16.Decode(units) {
				b = utf8.AppendRune(b, r)
			}
			units = units[:0]
		}
	}
	for k := 0; k < len(raw); {
		c := raw[k]
		if c != '\\' || k+1 >= len(raw) {
			flush()
			b = append(b, c)
			k++
			continue
		}
		n := raw[k+1]
		if n == 'u' && k+6 <= len(raw) && isHex(raw[k+2:k+6]) {
			var u uint16
			for _, h := range []byte(raw[k+2 : k+6]) {
				u = u<<4 | uint16(hexVal(h))
			}
			units = append(units, u)
			k += 6
			continue
		}
		flush()
		if k+4 <= len(raw) && raw[k+1] >= '0' && raw[k+1] <= '1' && raw[k+2] >= '0' && raw[k+2] <= '7' && raw[k+3] >= '0' && raw[k+3] <= '7' {
			r := rune(raw[k+1]-'0')<<6 | rune(raw[k+2]-'0')<<3 | rune(raw[k+3]-'0')
			b = utf8.AppendRune(b, r)
			k += 4
			continue
		}
		switch n {
		case '0':
			b = append(b, 0)
		case 'b':
			b = append(b, '\b')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'Z':
			b = append(b, 0x1a)
		case '%', '_':
			b = append(b, '\\', n)
		default:
			_, size := utf8.DecodeRuneInString(raw[k+1:])
			b = append(b, raw[k+1:k+1+size]...)
			k += size - 1
		}
		k += 2
	}
	flush()
	return string(b)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
