package variant

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Encoder turns JSON text into variant binaries. It is a type rather than a function so
// that the scratch space one record needs (the parse tape, the key dictionary and its
// hash index) is kept for the next: once it has grown to the size of the records seen,
// encoding allocates nothing beyond growing the caller's meta and value. The zero value
// is ready to use. An Encoder is not safe for concurrent use; give each goroutine one.
type Encoder struct {
	// MaxSize bounds the metadata and the value, each, in bytes: an encoding over it
	// fails with ErrTooLarge, so that no variant Spark cannot read is ever written.
	// Zero means SparkSizeLimit; a negative value leaves only the encoding's own limit
	// (4-byte offsets).
	MaxSize int

	in      []byte   // the JSON text of the current call; nil between calls
	nodes   []node   // the parse tape, one node per value in document order
	strs    []byte   // unescaped strings and keys (those that had escapes)
	pending []member // fields of the objects still open, innermost last
	members []member // fields of the closed objects, each object's contiguous
	keys    []keyRef // distinct keys by provisional id (order of first appearance)
	order   []uint32 // provisional ids sorted by key bytes: final id -> provisional id
	rank    []uint32 // provisional id -> final id
	table   []slot   // open-addressing hash index over keys
	gen     uint32   // table slots from another call have another gen and count as empty
	seed    maphash.Seed
	seeded  bool
}

const (
	kindPrimitive = iota // typ holds the primitive type id
	kindString
	kindArray
	kindObject
)

// node is one JSON value on the parse tape. A container's elements follow it on the
// tape, each element's subtree ending where the next begins (next).
type node struct {
	kind    uint8
	typ     uint8  // kindPrimitive: primitive type id
	scale   uint8  // decimals
	scratch bool   // kindString: the bytes are in Encoder.strs, not the input
	n       uint32 // kindString: length; containers: number of elements
	off     uint32 // kindString: offset of the bytes; kindObject: first member in Encoder.members
	next    uint32 // index of the first node after this one's subtree
	size    uint32 // encoded size
	data    uint32 // containers: size of the element data, the last field offset
	lo, hi  uint64 // primitives: int64, float64 bits or decimal unscaled (two's complement)
}

// member is one field of an object.
type member struct {
	id   uint32 // key id: provisional while parsing, final (dictionary index) after measure
	node uint32 // the field's value
	at   uint32 // input offset of the key, for DuplicateKeyError
}

// keyRef locates one distinct key's bytes.
type keyRef struct {
	off, n  uint32
	scratch bool
	hash    uint64
	prefix  uint64 // the first 8 bytes, big-endian and zero-padded, to sort by
}

type slot struct {
	gen uint32
	id  uint32
}

// AppendJSON parses one JSON text and appends its variant encoding: the metadata (key
// dictionary) to meta and the value to value, returning both extended slices. Appending
// lets a caller encode a batch of records into one buffer and slice it, instead of
// allocating two binaries per record. On error meta and value are returned unchanged and
// the error is a *SyntaxError, a *DuplicateKeyError or wraps ErrTooLarge. The JSON text
// is not retained.
func (e *Encoder) AppendJSON(meta, value, json []byte) ([]byte, []byte, error) {
	// Positions and lengths are kept as uint32, with room for a long string's header.
	if uint64(len(json)) > math.MaxUint32-16 {
		return meta, value, fmt.Errorf("%w: JSON text of %d bytes", ErrTooLarge, len(json))
	}
	e.reset(json)
	err := e.parse()
	if err == nil {
		err = e.measure()
	}
	var metaSize, offSize int
	if err == nil {
		metaSize, offSize, err = e.metadataSize()
	}
	if err == nil {
		limit := e.MaxSize
		if limit == 0 {
			limit = SparkSizeLimit
		}
		if limit > 0 && (metaSize > limit || int(e.nodes[0].size) > limit) {
			err = fmt.Errorf("%w: metadata of %d bytes and value of %d bytes, more than the limit of %d",
				ErrTooLarge, metaSize, e.nodes[0].size, limit)
		}
	}
	if err != nil {
		e.in = nil
		return meta, value, err
	}
	meta = e.appendMetadata(slices.Grow(meta, metaSize), offSize)
	value = e.emit(slices.Grow(value, int(e.nodes[0].size)), 0)
	e.in = nil
	return meta, value, nil
}

func (e *Encoder) reset(json []byte) {
	e.in = json
	e.nodes = e.nodes[:0]
	e.strs = e.strs[:0]
	e.pending = e.pending[:0]
	e.members = e.members[:0]
	e.keys = e.keys[:0]
	if !e.seeded {
		e.seed = maphash.MakeSeed()
		e.seeded = true
	}
	e.gen++
	if e.gen == 0 { // wrapped: stale slots could look current
		clear(e.table)
		e.gen = 1
	}
	if len(e.table) == 0 {
		e.table = make([]slot, 64)
	}
}

func (e *Encoder) syntax(at int, format string, args ...any) error {
	return &SyntaxError{Offset: int64(at), msg: fmt.Sprintf(format, args...)}
}

func (e *Encoder) eof() error {
	return &SyntaxError{Offset: int64(len(e.in)), msg: "unexpected end of JSON input"}
}

// quoteByte describes the byte at a syntax error in the message.
func quoteByte(c byte) string {
	if c < utf8.RuneSelf {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func skipSpace(in []byte, p int) int {
	for p < len(in) {
		switch in[p] {
		case ' ', '\t', '\n', '\r':
			p++
		default:
			return p
		}
	}
	return p
}

func (e *Encoder) parse() error {
	p, err := e.value(skipSpace(e.in, 0), 0)
	if err != nil {
		return err
	}
	if p = skipSpace(e.in, p); p < len(e.in) {
		return e.syntax(p, "invalid character %s after top-level value", quoteByte(e.in[p]))
	}
	return nil
}

// prim appends a primitive node.
func (e *Encoder) prim(typ uint8, size uint32, lo, hi uint64, scale uint8) {
	next := uint32(len(e.nodes) + 1)
	e.nodes = append(e.nodes, node{kind: kindPrimitive, typ: typ, scale: scale, next: next, size: size, lo: lo, hi: hi})
}

// value parses the JSON value at in[p], depth containers deep, and returns the position
// after it.
func (e *Encoder) value(p, depth int) (int, error) {
	in := e.in
	if p >= len(in) {
		return p, e.eof()
	}
	switch c := in[p]; c {
	case '{':
		return e.object(p, depth)
	case '[':
		return e.array(p, depth)
	case '"':
		off, n, scratch, q, err := e.str(p)
		if err != nil {
			return q, err
		}
		size := 1 + n
		if n > maxShortString {
			size += 4
		}
		next := uint32(len(e.nodes) + 1)
		e.nodes = append(e.nodes, node{kind: kindString, scratch: scratch, n: n, off: off, next: next, size: size})
		return q, nil
	case 't':
		if !bytes.HasPrefix(in[p:], []byte("true")) {
			return p, e.literalError(p, "true")
		}
		e.prim(typeTrue, 1, 0, 0, 0)
		return p + 4, nil
	case 'f':
		if !bytes.HasPrefix(in[p:], []byte("false")) {
			return p, e.literalError(p, "false")
		}
		e.prim(typeFalse, 1, 0, 0, 0)
		return p + 5, nil
	case 'n':
		if !bytes.HasPrefix(in[p:], []byte("null")) {
			return p, e.literalError(p, "null")
		}
		e.prim(typeNull, 1, 0, 0, 0)
		return p + 4, nil
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return e.number(p)
		}
		return p, e.syntax(p, "invalid character %s looking for beginning of value", quoteByte(c))
	}
}

func (e *Encoder) literalError(p int, lit string) error {
	in := e.in
	for i := 0; i < len(lit); i++ {
		if p+i >= len(in) {
			return e.eof()
		}
		if in[p+i] != lit[i] {
			return e.syntax(p+i, "invalid character %s in literal %s", quoteByte(in[p+i]), lit)
		}
	}
	return e.syntax(p, "invalid literal")
}

func (e *Encoder) object(p, depth int) (int, error) {
	if depth >= MaxDepth {
		return p, e.syntax(p, "arrays and objects nest deeper than %d", MaxDepth)
	}
	in := e.in
	idx := len(e.nodes)
	e.nodes = append(e.nodes, node{kind: kindObject})
	base := len(e.pending)
	p = skipSpace(in, p+1)
	if p < len(in) && in[p] == '}' {
		p++
	} else {
		for {
			if p >= len(in) {
				return p, e.eof()
			}
			if in[p] != '"' {
				return p, e.syntax(p, "invalid character %s looking for beginning of object key", quoteByte(in[p]))
			}
			at := p
			off, n, scratch, q, err := e.str(p)
			if err != nil {
				return q, err
			}
			id := e.intern(off, n, scratch)
			if p = skipSpace(in, q); p >= len(in) {
				return p, e.eof()
			}
			if in[p] != ':' {
				return p, e.syntax(p, "invalid character %s after object key", quoteByte(in[p]))
			}
			e.pending = append(e.pending, member{id: id, node: uint32(len(e.nodes)), at: uint32(at)})
			if p, err = e.value(skipSpace(in, p+1), depth+1); err != nil {
				return p, err
			}
			if p = skipSpace(in, p); p >= len(in) {
				return p, e.eof()
			}
			if in[p] == ',' {
				p = skipSpace(in, p+1)
				continue
			}
			if in[p] == '}' {
				p++
				break
			}
			return p, e.syntax(p, "invalid character %s after object value", quoteByte(in[p]))
		}
	}
	first := len(e.members)
	e.members = append(e.members, e.pending[base:]...)
	nd := &e.nodes[idx]
	nd.n = uint32(len(e.pending) - base)
	nd.off = uint32(first)
	nd.next = uint32(len(e.nodes))
	e.pending = e.pending[:base]
	return p, nil
}

func (e *Encoder) array(p, depth int) (int, error) {
	if depth >= MaxDepth {
		return p, e.syntax(p, "arrays and objects nest deeper than %d", MaxDepth)
	}
	in := e.in
	idx := len(e.nodes)
	e.nodes = append(e.nodes, node{kind: kindArray})
	var n uint32
	p = skipSpace(in, p+1)
	if p < len(in) && in[p] == ']' {
		p++
	} else {
		for {
			var err error
			if p, err = e.value(p, depth+1); err != nil {
				return p, err
			}
			n++
			if p = skipSpace(in, p); p >= len(in) {
				return p, e.eof()
			}
			if in[p] == ',' {
				p = skipSpace(in, p+1)
				continue
			}
			if in[p] == ']' {
				p++
				break
			}
			return p, e.syntax(p, "invalid character %s after array element", quoteByte(in[p]))
		}
	}
	nd := &e.nodes[idx]
	nd.n = n
	nd.next = uint32(len(e.nodes))
	return p, nil
}

// plain marks the bytes that stand for themselves inside a JSON string: not a quote,
// backslash, control character or the start of a multi-byte UTF-8 sequence.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str parses the string whose opening quote is at in[p]. A string without escapes is
// left where it is in the input (scratch false); one with escapes is unescaped into
// e.strs. q is the position after the closing quote.
func (e *Encoder) str(p int) (off, n uint32, scratch bool, q int, err error) {
	in := e.in
	start := p + 1
	i := start
	for i < len(in) {
		c := in[i]
		if plain[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return uint32(start), uint32(i - start), false, i + 1, nil
		case c == '\\':
			return e.strEscaped(start, i)
		case c < 0x20:
			return 0, 0, false, i, e.syntax(i, "invalid control character %s in string", quoteByte(c))
		}
		r, size := utf8.DecodeRune(in[i:])
		if r == utf8.RuneError && size == 1 {
			return 0, 0, false, i, e.syntax(i, "invalid UTF-8 in string")
		}
		i += size
	}
	return 0, 0, false, i, e.eof()
}

// strEscaped continues str from the first backslash at in[i], copying the string's bytes
// so far (from start) and the rest, unescaped, to e.strs.
func (e *Encoder) strEscaped(start, i int) (off, n uint32, scratch bool, q int, err error) {
	in := e.in
	base := len(e.strs)
	e.strs = append(e.strs, in[start:i]...)
	for i < len(in) {
		c := in[i]
		if plain[c] {
			j := i + 1
			for j < len(in) && plain[in[j]] {
				j++
			}
			e.strs = append(e.strs, in[i:j]...)
			i = j
			continue
		}
		switch {
		case c == '"':
			return uint32(base), uint32(len(e.strs) - base), true, i + 1, nil
		case c < 0x20:
			return 0, 0, false, i, e.syntax(i, "invalid control character %s in string", quoteByte(c))
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && size == 1 {
				return 0, 0, false, i, e.syntax(i, "invalid UTF-8 in string")
			}
			e.strs = append(e.strs, in[i:i+size]...)
			i += size
			continue
		}
		// A backslash.
		if i+1 >= len(in) {
			return 0, 0, false, i, e.eof()
		}
		var b byte
		switch in[i+1] {
		case '"', '\\', '/':
			b = in[i+1]
		case 'b':
			b = '\b'
		case 'f':
			b = '\f'
		case 'n':
			b = '\n'
		case 'r':
			b = '\r'
		case 't':
			b = '\t'
		case 'u':
			r, err := e.unicodeEscape(i)
			if err != nil {
				return 0, 0, false, i, err
			}
			e.strs = utf8.AppendRune(e.strs, r)
			if r >= 0x10000 {
				i += 12
			} else {
				i += 6
			}
			continue
		default:
			return 0, 0, false, i, e.syntax(i, "invalid escape character %s in string", quoteByte(in[i+1]))
		}
		e.strs = append(e.strs, b)
		i += 2
	}
	return 0, 0, false, i, e.eof()
}

// unicodeEscape decodes the \uXXXX escape at in[i], joined with the low surrogate escape
// after it when it is a high surrogate. A surrogate that is not part of a pair has no
// UTF-8 form, so it is an error.
func (e *Encoder) unicodeEscape(i int) (rune, error) {
	in := e.in
	r, ok := hex4(in, i+2)
	if !ok {
		if i+6 > len(in) && allHex(in[i+2:]) {
			return 0, e.eof()
		}
		return 0, e.syntax(i, "invalid \\u escape in string")
	}
	if !utf16.IsSurrogate(r) {
		return r, nil
	}
	if r < 0xDC00 && i+12 <= len(in) && in[i+6] == '\\' && in[i+7] == 'u' {
		if r2, ok := hex4(in, i+8); ok && 0xDC00 <= r2 && r2 < 0xE000 {
			return utf16.DecodeRune(r, r2), nil
		}
	}
	return 0, e.syntax(i, "lone surrogate \\u%04X in string: it has no UTF-8 form", r)
}

func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	var r rune
	for _, c := range in[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func allHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number parses the JSON number at in[p] and chooses its variant type as Spark's
// parse_json does (see the package documentation).
func (e *Encoder) number(p int) (int, error) {
	in := e.in
	i := p
	neg := in[i] == '-'
	if neg {
		i++
	}
	intStart := i
	switch {
	case i >= len(in):
		return i, e.eof()
	case in[i] == '0':
		i++
	case isDigit(in[i]):
		for i < len(in) && isDigit(in[i]) {
			i++
		}
	default:
		return i, e.syntax(i, "invalid character %s in numeric literal", quoteByte(in[i]))
	}
	intEnd := i
	fracStart, fracEnd := i, i
	if i < len(in) && in[i] == '.' {
		i++
		fracStart = i
		for i < len(in) && isDigit(in[i]) {
			i++
		}
		if i == fracStart {
			if i >= len(in) {
				return i, e.eof()
			}
			return i, e.syntax(i, "invalid character %s after decimal point in numeric literal", quoteByte(in[i]))
		}
		fracEnd = i
	}
	exp := false
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		exp = true
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		start := i
		for i < len(in) && isDigit(in[i]) {
			i++
		}
		if i == start {
			if i >= len(in) {
				return i, e.eof()
			}
			return i, e.syntax(i, "invalid character %s in exponent of numeric literal", quoteByte(in[i]))
		}
	}
	if !exp {
		if fracStart == fracEnd && intEnd-intStart <= 19 {
			var u uint64 // 19 digits always fit
			for _, c := range in[intStart:intEnd] {
				u = u*10 + uint64(c-'0')
			}
			if !neg && u <= math.MaxInt64 {
				e.int(int64(u))
				return i, nil
			}
			if neg && u <= 1<<63 {
				e.int(int64(-u))
				return i, nil
			}
		}
		if e.decimal(neg, in[intStart:intEnd], in[fracStart:fracEnd]) {
			return i, nil
		}
	}
	// The text is valid, so the only possible error is ErrRange: ±Inf beyond the double
	// range (what Java's Double.parseDouble gives Spark), or zero below it.
	f, _ := strconv.ParseFloat(string(in[p:i]), 64)
	e.prim(typeDouble, 9, math.Float64bits(f), 0, 0)
	return i, nil
}

// int appends v as the smallest integer type holding it.
func (e *Encoder) int(v int64) {
	switch {
	case v == int64(int8(v)):
		e.prim(typeInt8, 2, uint64(v), 0, 0)
	case v == int64(int16(v)):
		e.prim(typeInt16, 3, uint64(v), 0, 0)
	case v == int64(int32(v)):
		e.prim(typeInt32, 5, uint64(v), 0, 0)
	default:
		e.prim(typeInt64, 9, uint64(v), 0, 0)
	}
}

// decimal appends the number with integer digits ip and fraction digits fp as a decimal
// with exactly those digits, and reports false, appending nothing, when its precision or
// scale is beyond 38.
func (e *Encoder) decimal(neg bool, ip, fp []byte) bool {
	scale := len(fp)
	if scale > maxDecimalScale {
		return false
	}
	var hi, lo uint64
	sig := 0
	for k := 0; k < 2; k++ {
		digits := ip
		if k == 1 {
			digits = fp
		}
		for _, c := range digits {
			d := uint64(c - '0')
			if sig == 0 && d == 0 {
				continue // leading zeros are not precision
			}
			if sig++; sig > maxDecimalScale {
				return false
			}
			// (hi, lo) = (hi, lo)*10 + d; 38 digits fit in 127 bits.
			h, l := bits.Mul64(lo, 10)
			var carry uint64
			lo, carry = bits.Add64(l, d, 0)
			hi = hi*10 + h + carry
		}
	}
	precision := max(sig, 1)
	if neg {
		var borrow uint64
		lo, borrow = bits.Sub64(0, lo, 0)
		hi, _ = bits.Sub64(0, hi, borrow)
	}
	switch {
	case precision <= 9 && scale <= 9:
		e.prim(typeDecimal4, 6, lo, hi, uint8(scale))
	case precision <= 18 && scale <= 18:
		e.prim(typeDecimal8, 10, lo, hi, uint8(scale))
	default:
		e.prim(typeDecimal16, 18, lo, hi, uint8(scale))
	}
	return true
}

func (e *Encoder) bytesAt(off, n uint32, scratch bool) []byte {
	if scratch {
		return e.strs[off : off+n]
	}
	return e.in[off : off+n]
}

func (e *Encoder) key(provisional uint32) []byte {
	k := &e.keys[provisional]
	return e.bytesAt(k.off, k.n, k.scratch)
}

// intern returns the provisional id of a key, adding it on first sight.
func (e *Encoder) intern(off, n uint32, scratch bool) uint32 {
	b := e.bytesAt(off, n, scratch)
	h := maphash.Bytes(e.seed, b)
	mask := uint64(len(e.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &e.table[i]
		if s.gen != e.gen {
			id := uint32(len(e.keys))
			e.keys = append(e.keys, keyRef{off: off, n: n, scratch: scratch, hash: h, prefix: prefix(b)})
			*s = slot{gen: e.gen, id: id}
			if 2*len(e.keys) > len(e.table) {
				e.growTable()
			}
			return id
		}
		if k := &e.keys[s.id]; k.hash == h && bytes.Equal(e.bytesAt(k.off, k.n, k.scratch), b) {
			return s.id
		}
	}
}

// prefix is b's first 8 bytes as a big-endian number, so that comparing prefixes orders
// keys as bytes.Compare does unless they share those bytes.
func prefix(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	var p uint64
	for i, c := range b {
		p |= uint64(c) << (56 - 8*i)
	}
	return p
}

// compareKeys orders provisional ids by their keys' bytes.
func (e *Encoder) compareKeys(a, b uint32) int {
	ka, kb := &e.keys[a], &e.keys[b]
	if ka.prefix != kb.prefix {
		return cmp.Compare(ka.prefix, kb.prefix)
	}
	return bytes.Compare(e.bytesAt(ka.off, ka.n, ka.scratch), e.bytesAt(kb.off, kb.n, kb.scratch))
}

// sortKeys sorts e.order by key. Records have few keys, so insertion sort, with no
// call through a function value, is the common case.
func (e *Encoder) sortKeys() {
	o := e.order
	if len(o) > 16 {
		slices.SortFunc(o, e.compareKeys)
		return
	}
	for i := 1; i < len(o); i++ {
		for j := i; j > 0 && e.compareKeys(o[j-1], o[j]) > 0; j-- {
			o[j-1], o[j] = o[j], o[j-1]
		}
	}
}

// sortMembers sorts an object's fields by final id, then input position, which is
// unique; a repeated key ends up next to its first occurrence.
func sortMembers(ms []member) {
	less := func(a, b member) bool { return a.id < b.id || a.id == b.id && a.at < b.at }
	if len(ms) > 16 {
		slices.SortFunc(ms, func(a, b member) int {
			if less(a, b) {
				return -1
			}
			return 1 // never equal: at is unique
		})
		return
	}
	for i := 1; i < len(ms); i++ {
		for j := i; j > 0 && less(ms[j], ms[j-1]); j-- {
			ms[j-1], ms[j] = ms[j], ms[j-1]
		}
	}
}

func (e *Encoder) growTable() {
	e.table = make([]slot, 2*len(e.table))
	mask := uint64(len(e.table) - 1)
	for id := range e.keys {
		i := e.keys[id].hash & mask
		for e.table[i].gen == e.gen {
			i = (i + 1) & mask
		}
		e.table[i] = slot{gen: e.gen, id: uint32(id)}
	}
}

// measure sorts the dictionary, gives each object's fields their final ids in key order
// (finding duplicates on the way), and computes every node's encoded size, children
// before parents, so that emit can write each header before its elements.
func (e *Encoder) measure() error {
	nk := len(e.keys)
	e.order = e.order[:0]
	for id := range nk {
		e.order = append(e.order, uint32(id))
	}
	e.sortKeys()
	e.rank = slices.Grow(e.rank[:0], nk)[:nk]
	for final, id := range e.order {
		e.rank[id] = uint32(final)
	}
	nodes := e.nodes
	for i := len(nodes) - 1; i >= 0; i-- {
		nd := &nodes[i]
		var data, header uint64
		switch nd.kind {
		case kindArray:
			c := uint32(i + 1)
			for range nd.n {
				data += uint64(nodes[c].size)
				c = nodes[c].next
			}
			header = 1 + countSize(nd.n) + (uint64(nd.n)+1)*uint64(intSize(data))
		case kindObject:
			ms := e.members[nd.off : nd.off+nd.n]
			for j := range ms {
				ms[j].id = e.rank[ms[j].id]
			}
			if len(ms) > 1 {
				sortMembers(ms)
				for j := 1; j < len(ms); j++ {
					if ms[j].id == ms[j-1].id {
						return &DuplicateKeyError{Key: string(e.key(e.order[ms[j].id])), Offset: int64(ms[j].at)}
					}
				}
			}
			var maxID uint64
			if len(ms) > 0 {
				maxID = uint64(ms[len(ms)-1].id)
			}
			for _, m := range ms {
				data += uint64(nodes[m.node].size)
			}
			header = 1 + countSize(nd.n) + uint64(nd.n)*uint64(intSize(maxID)) + (uint64(nd.n)+1)*uint64(intSize(data))
		default:
			continue
		}
		if data+header > math.MaxUint32 {
			return fmt.Errorf("%w: a nested value over 4 GiB", ErrTooLarge)
		}
		nd.data = uint32(data)
		nd.size = uint32(data + header)
	}
	return nil
}

func countSize(n uint32) uint64 {
	if n > 0xFF {
		return 4
	}
	return 1
}

// metadataSize is the size of the metadata and the width of its offsets: the fewest
// bytes holding both the dictionary size and the total key length, as both are stored
// in that width.
func (e *Encoder) metadataSize() (size, offSize int, err error) {
	var total uint64
	for _, k := range e.keys {
		total += uint64(k.n)
	}
	if total > math.MaxUint32 {
		return 0, 0, fmt.Errorf("%w: object keys total over 4 GiB", ErrTooLarge)
	}
	nk := uint64(len(e.keys))
	offSize = intSize(max(total, nk))
	return int(1 + uint64(offSize)*(nk+2) + total), offSize, nil
}

func (e *Encoder) appendMetadata(dst []byte, offSize int) []byte {
	dst = append(dst, metadataVersion|sortedStrings|byte(offSize-1)<<6)
	dst = appendUint(dst, uint32(len(e.keys)), offSize)
	var off uint32
	for _, id := range e.order {
		dst = appendUint(dst, off, offSize)
		off += e.keys[id].n
	}
	dst = appendUint(dst, off, offSize)
	for _, id := range e.order {
		dst = append(dst, e.key(id)...)
	}
	return dst
}

// emit appends the encoding of node i.
func (e *Encoder) emit(dst []byte, i uint32) []byte {
	nodes := e.nodes
	nd := &nodes[i]
	switch nd.kind {
	case kindPrimitive:
		dst = append(dst, nd.typ<<2|basicPrimitive)
		switch nd.typ {
		case typeInt8:
			dst = append(dst, byte(nd.lo))
		case typeInt16:
			dst = binary.LittleEndian.AppendUint16(dst, uint16(nd.lo))
		case typeInt32:
			dst = binary.LittleEndian.AppendUint32(dst, uint32(nd.lo))
		case typeInt64, typeDouble:
			dst = binary.LittleEndian.AppendUint64(dst, nd.lo)
		case typeDecimal4:
			dst = binary.LittleEndian.AppendUint32(append(dst, nd.scale), uint32(nd.lo))
		case typeDecimal8:
			dst = binary.LittleEndian.AppendUint64(append(dst, nd.scale), nd.lo)
		case typeDecimal16:
			dst = binary.LittleEndian.AppendUint64(append(dst, nd.scale), nd.lo)
			dst = binary.LittleEndian.AppendUint64(dst, nd.hi)
		}
	case kindString:
		if nd.n <= maxShortString {
			dst = append(dst, byte(nd.n)<<2|basicShortString)
		} else {
			dst = binary.LittleEndian.AppendUint32(append(dst, typeString<<2|basicPrimitive), nd.n)
		}
		dst = append(dst, e.bytesAt(nd.off, nd.n, nd.scratch)...)
	case kindArray:
		offSize := intSize(uint64(nd.data))
		header := byte(offSize - 1)
		if nd.n > 0xFF {
			header |= 1 << 2
		}
		dst = appendCount(append(dst, header<<2|basicArray), nd.n)
		var off uint32
		c := i + 1
		for range nd.n {
			dst = appendUint(dst, off, offSize)
			off += nodes[c].size
			c = nodes[c].next
		}
		dst = appendUint(dst, off, offSize)
		c = i + 1
		for range nd.n {
			dst = e.emit(dst, c)
			c = nodes[c].next
		}
	case kindObject:
		ms := e.members[nd.off : nd.off+nd.n]
		var maxID uint32
		if len(ms) > 0 {
			maxID = ms[len(ms)-1].id
		}
		idSize := intSize(uint64(maxID))
		offSize := intSize(uint64(nd.data))
		header := byte(idSize-1)<<2 | byte(offSize-1)
		if nd.n > 0xFF {
			header |= 1 << 4
		}
		dst = appendCount(append(dst, header<<2|basicObject), nd.n)
		for _, m := range ms {
			dst = appendUint(dst, m.id, idSize)
		}
		var off uint32
		for _, m := range ms {
			dst = appendUint(dst, off, offSize)
			off += nodes[m.node].size
		}
		dst = appendUint(dst, off, offSize)
		for _, m := range ms {
			dst = e.emit(dst, m.node)
		}
	}
	return dst
}

func appendCount(dst []byte, n uint32) []byte {
	if n > 0xFF {
		return binary.LittleEndian.AppendUint32(dst, n)
	}
	return append(dst, byte(n))
}
