package expr

import (
	"bytes"
	"unicode/utf8"
)

// likeMatcher is a compiled LIKE pattern: literal runs, _ (one character)
// and % (any sequence, including none). Matching is on UTF-8 characters and
// case-sensitive; _ and % match new lines too, as in Spark.
type likeMatcher struct {
	toks []likeTok
}

type likeTok struct {
	kind byte // 'l' literal, '_' one character, '%' any sequence
	lit  []byte
}

// compileLike compiles pattern as Spark's escapeLikeRegex reads it: the
// escape character may only precede %, _ or itself, and may not end the
// pattern.
func compileLike(pattern []byte, esc rune) (*likeMatcher, string) {
	m := &likeMatcher{}
	addLit := func(r rune) {
		if n := len(m.toks); n > 0 && m.toks[n-1].kind == 'l' {
			m.toks[n-1].lit = utf8.AppendRune(m.toks[n-1].lit, r)
			return
		}
		m.toks = append(m.toks, likeTok{kind: 'l', lit: utf8.AppendRune(nil, r)})
	}
	for i := 0; i < len(pattern); {
		r, size := utf8.DecodeRune(pattern[i:])
		i += size
		switch {
		case r == esc:
			if i >= len(pattern) {
				return nil, "it is not allowed to end with the escape character"
			}
			c, size := utf8.DecodeRune(pattern[i:])
			i += size
			if c != '%' && c != '_' && c != esc {
				return nil, "the escape character is not allowed to precede '" + string(c) + "'"
			}
			addLit(c)
		case r == '%':
			if n := len(m.toks); n == 0 || m.toks[n-1].kind != '%' {
				m.toks = append(m.toks, likeTok{kind: '%'})
			}
		case r == '_':
			m.toks = append(m.toks, likeTok{kind: '_'})
		case r == utf8.RuneError && size == 1:
			// An invalid byte stands for itself.
			if n := len(m.toks); n > 0 && m.toks[n-1].kind == 'l' {
				m.toks[n-1].lit = append(m.toks[n-1].lit, pattern[i-1])
			} else {
				m.toks = append(m.toks, likeTok{kind: 'l', lit: []byte{pattern[i-1]}})
			}
		default:
			addLit(r)
		}
	}
	return m, ""
}

// match reports whether s matches, backtracking to the last % on failure
// (linear in the common cases, O(len(s)*len(pattern)) at worst). It does not
// allocate.
func (m *likeMatcher) match(s []byte) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for {
		if p < len(m.toks) {
			t := &m.toks[p]
			switch t.kind {
			case '%':
				starP, starI = p, i
				p++
				continue
			case '_':
				if i < len(s) {
					_, size := utf8.DecodeRune(s[i:])
					i += size
					p++
					continue
				}
			default:
				if bytes.HasPrefix(s[i:], t.lit) {
					i += len(t.lit)
					p++
					continue
				}
			}
		} else if i == len(s) {
			return true
		}
		// Mismatch: let the last % take one more character.
		if starP < 0 || starI >= len(s) {
			return false
		}
		_, size := utf8.DecodeRune(s[starI:])
		starI += size
		p, i = starP+1, starI
	}
}

type likeNode struct {
	x, pat node
	m      *likeMatcher // for a constant pattern
	esc    rune
	ilike  bool
}

func (n *likeNode) eval(r Row) Value { return n.test(r).value() }

func (n *likeNode) test(r Row) tri {
	v := n.x.eval(r)
	if v.Null {
		return triNull
	}
	m := n.m
	if m == nil {
		p := n.pat.eval(r)
		if p.Null {
			return triNull
		}
		pb := p.B
		if n.ilike {
			pb = bytes.ToLower(pb)
		}
		var msg string
		if m, msg = compileLike(pb, n.esc); m == nil {
			panic(evalFailure("invalid LIKE pattern " + string(p.B) + ": " + msg))
		}
	}
	s := v.B
	if n.ilike {
		s = bytes.ToLower(s)
	}
	return triBool(m.match(s))
}
