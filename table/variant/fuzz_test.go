package variant

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are JSON texts the fuzz targets start from.
var fuzzSeeds = []string{
	`null`, `true`, `false`, `0`, `-0`, `5`, `-129`, `70000`, `9223372036854775807`,
	`-9223372036854775809`, `1.50`, `-0.005`, `0.00`, `1e3`, `1E-400`, `1e400`, `2.5e+25`,
	`99999999999999999999999999999999999999`, `999999999999999999999999999999999999999`,
	`0.000000000000000000000000000000000000001`, `""`, `"hi"`, `"\u00e9\ud83d\ude00\n\"\\"`,
	`"` + strings.Repeat("x", 70) + `"`, `[]`, `{}`, `[1,2]`, `{"a":1,"b":"x"}`,
	`{"b":[{"z":1,"a":null}],"a":{"c":{}}}`, `{"a":1,"a":2}`, `[1,]`, `{"\u0061":1,"a":2}`,
	`"\ud800"`, "\"\xff\"", benchDoc,
}

// FuzzJSONRoundTrip checks that whatever JSON the encoder accepts decodes to JSON with the
// same meaning (encoding/json, UseNumber), objects sorted by key, and that it refuses
// only what it documents refusing.
//
// Numbers are compared by value, not spelling: a number the encoder keeps exactly
// (integer or decimal) must come back equal as a rational ("1.50" as "1.50", "-0" as 0);
// one it stores as a double (exponent forms, beyond 38 digits) must come back as the
// same float64, and ±Inf (text beyond the double range) as the strings "Infinity" and
// "-Infinity".
func FuzzJSONRoundTrip(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	var e Encoder // reused across inputs, as the writer will
	f.Fuzz(func(t *testing.T, in []byte) {
		meta, value, err := e.AppendJSON(nil, nil, in)
		valid := json.Valid(in)
		if err != nil {
			var se *SyntaxError
			var de *DuplicateKeyError
			switch {
			case errors.As(err, &de):
				if !valid {
					t.Fatalf("duplicate key reported for invalid JSON %q", in)
				}
			case errors.As(err, &se):
				// encoding/json accepts invalid UTF-8 and lone surrogates (replacing
				// them) and nests up to 10000 deep; nothing else it accepts may fail.
				if valid && utf8.Valid(in) && !bytes.Contains(bytes.ToLower(in), []byte(`\ud`)) &&
					!strings.Contains(err.Error(), "nest deeper") {
					t.Fatalf("refused valid JSON %q: %v", in, err)
				}
				if se.Offset < 0 || se.Offset > int64(len(in)) {
					t.Fatalf("offset %d outside the input of %d bytes", se.Offset, len(in))
				}
			case errors.Is(err, ErrTooLarge):
			default:
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		out, err := AppendJSON(nil, meta, value)
		if err != nil {
			t.Fatalf("decoding the encoding of %q: %v", in, err)
		}
		if !json.Valid(out) {
			t.Fatalf("%q decoded to invalid JSON %q", in, out)
		}
		want, got := unmarshal(t, in), unmarshal(t, out)
		if !sameJSON(want, got) {
			t.Fatalf("%q decoded to %q", in, out)
		}
		checkSortedKeys(t, out)
	})
}

// FuzzDecode checks that no metadata and value make the decoder panic, and that what
// it accepts it renders as valid JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds {
		var e Encoder
		if meta, value, err := e.AppendJSON(nil, nil, []byte(s)); err == nil {
			f.Add(meta, value)
		}
	}
	m0 := []byte{0x01, 0, 0}
	for _, v := range [][]byte{
		prim(typeFloat, 0, 0, 0xc0, 0x7f), prim(typeDate, 1, 2, 3, 4), prim(typeTimestamp, 1, 2, 3, 4, 5, 6, 7, 8),
		prim(typeTimestampNTZ, 1, 2, 3, 4, 5, 6, 7, 0x80), prim(typeTime, 1, 2, 3, 4, 0, 0, 0, 0),
		prim(typeTimestampNanos, 1, 2, 3, 4, 5, 6, 7, 8), prim(typeTimestampNanosNTZ, 1, 2, 3, 4, 5, 6, 7, 8),
		prim(typeBinary, 2, 0, 0, 0, 0xff, 0), prim(typeUUID, make([]byte, 16)...),
		prim(typeDecimal16, append([]byte{5}, bytes.Repeat([]byte{0xff}, 16)...)...),
		nestArrays(3), {0x03, 2, 0, 0, 1, 0x00},
	} {
		f.Add(m0, v)
	}
	f.Fuzz(func(t *testing.T, meta, value []byte) {
		out, err := AppendJSON([]byte("x"), meta, value)
		if err != nil {
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if string(out) != "x" {
				t.Fatalf("dst changed on error")
			}
			return
		}
		if out[0] != 'x' || !json.Valid(out[1:]) {
			t.Fatalf("decoded to invalid JSON %q", out[1:])
		}
	})
}

func unmarshal(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("encoding/json cannot read %q: %v", b, err)
	}
	return v
}

// sameJSON compares the input's value a with the decoded output's b (see
// FuzzJSONRoundTrip for how numbers compare).
func sameJSON(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		return sameNumber(string(a), b)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !sameJSON(v, w) {
				return false
			}
		}
		return true
	default: // string, bool, nil
		return a == b
	}
}

func sameNumber(in string, b any) bool {
	if storedAsDouble(in) {
		f, _ := strconv.ParseFloat(in, 64)
		switch b := b.(type) {
		case string:
			return math.IsInf(f, 1) && b == "Infinity" || math.IsInf(f, -1) && b == "-Infinity"
		case json.Number:
			g, err := strconv.ParseFloat(string(b), 64)
			return err == nil && f == g
		}
		return false
	}
	n, ok := b.(json.Number)
	if !ok || strings.ContainsAny(string(n), "eE") { // exact values print plainly
		return false
	}
	x, ok1 := new(big.Rat).SetString(in)
	y, ok2 := new(big.Rat).SetString(string(n))
	return ok1 && ok2 && x.Cmp(y) == 0
}

// storedAsDouble reports whether the encoder stores the JSON number s as a double: an
// exponent form, or more than 38 digits of precision or scale.
func storedAsDouble(s string) bool {
	if strings.ContainsAny(s, "eE") {
		return true
	}
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	digits := strings.TrimLeft(ip+fp, "0")
	return len(fp) > 38 || len(digits) > 38
}

// checkSortedKeys checks that every object in the JSON text lists its keys in strictly
// increasing byte order.
func checkSortedKeys(t *testing.T, text []byte) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	var walk func() error
	walk = func() error {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			prev, first := "", true
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				if !first && key <= prev {
					t.Fatalf("keys out of order in %q: %q after %q", text, key, prev)
				}
				prev, first = key, false
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = d.Token()
		case json.Delim('['):
			for d.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = d.Token()
		}
		return err
	}
	if err := walk(); err != nil {
		t.Fatalf("reading %q: %v", text, err)
	}
}
