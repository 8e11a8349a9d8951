package variant

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// unhex turns "11 02 00" into bytes; the tests spell encodings the way the spec draws them.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func encode(t testing.TB, json string) (meta, value []byte) {
	t.Helper()
	var e Encoder
	meta, value, err := e.AppendJSON(nil, nil, []byte(json))
	if err != nil {
		t.Fatalf("AppendJSON(%.80q): %v", json, err)
	}
	return meta, value
}

func decode(t testing.TB, meta, value []byte) string {
	t.Helper()
	out, err := AppendJSON(nil, meta, value)
	if err != nil {
		t.Fatalf("AppendJSON(% x, % x): %v", meta, value, err)
	}
	return string(out)
}

const emptyMeta = "11 00 00" // version 1, sorted, 1-byte offsets, no keys

// TestEncodeExact checks encodings computed by hand from VariantEncoding.md.
func TestEncodeExact(t *testing.T) {
	for _, tc := range []struct {
		json, meta, value string
	}{
		{`null`, emptyMeta, "00"},
		{`true`, emptyMeta, "04"},
		{`false`, emptyMeta, "08"},
		{`5`, emptyMeta, "0c 05"},                                  // int8 (type 3)
		{`-1`, emptyMeta, "0c ff"},                                 // int8
		{`300`, emptyMeta, "10 2c 01"},                             // int16 (type 4)
		{`70000`, emptyMeta, "14 70 11 01 00"},                     // int32 (type 5)
		{`1099511627776`, emptyMeta, "18 00 00 00 00 00 01 00 00"}, // int64 (type 6), 2^40
		{`"hi"`, emptyMeta, "09 68 69"},                            // short string, length 2
		{`""`, emptyMeta, "01"},                                    // empty short string
		{`1.50`, emptyMeta, "20 02 96 00 00 00"},                   // decimal4 (type 8), scale 2, 150
		{`-0.05`, emptyMeta, "20 02 fb ff ff ff"},                  // decimal4, scale 2, -5
		{`1e3`, emptyMeta, "1c 00 00 00 00 00 40 8f 40"},           // double (type 7) 1000
		{`[1,2]`, emptyMeta, "03 02 00 02 04 0c 01 0c 02"},
		{`[]`, emptyMeta, "03 00 00"},
		{`{}`, emptyMeta, "02 00 00"},
		// Dictionary "a","b"; ids 0,1; offsets 0,2,4; values int8 1, short string "x".
		{`{"a":1,"b":"x"}`, "11 02 00 01 02 61 62", "02 02 00 01 00 02 04 0c 01 05 78"},
		// Same keys out of order: fields listed (and stored) by key.
		{`{"b":"x","a":1}`, "11 02 00 01 02 61 62", "02 02 00 01 00 02 04 0c 01 05 78"},
		// The inner array [true] is 03 01 00 01 04.
		{`{"a":[true]}`, "11 01 00 01 61", "02 01 00 00 05 03 01 00 01 04"},
		// Keys shared by nested objects appear once; dictionary sorted: "a" < "b".
		{`{"b":{"a":null},"a":{"b":null}}`, "11 02 00 01 02 61 62",
			"02 02 00 01 00 06 0c 02 01 01 00 01 00 02 01 00 00 01 00"},
	} {
		meta, value := encode(t, tc.json)
		if want := unhex(t, tc.meta); !bytes.Equal(meta, want) {
			t.Errorf("%s: metadata % x, want % x", tc.json, meta, want)
		}
		if want := unhex(t, tc.value); !bytes.Equal(value, want) {
			t.Errorf("%s: value % x, want % x", tc.json, value, want)
		}
	}
}

// TestEncodeNumbers checks the type chosen for each number form, as Spark's parse_json
// chooses it.
func TestEncodeNumbers(t *testing.T) {
	le64 := func(f float64) string {
		b := make([]byte, 8)
		u := math.Float64bits(f)
		for i := range b {
			b[i] = byte(u >> (8 * i))
		}
		return hex.EncodeToString(b)
	}
	for _, tc := range []struct{ json, value string }{
		{`0`, "0c 00"},
		{`-0`, "0c 00"},
		{`127`, "0c 7f"},
		{`128`, "10 80 00"},
		{`-128`, "0c 80"},
		{`-129`, "10 7f ff"},
		{`32767`, "10 ff 7f"},
		{`32768`, "14 00 80 00 00"},
		{`2147483647`, "14 ff ff ff 7f"},
		{`2147483648`, "18 00 00 00 80 00 00 00 00"},
		{`9223372036854775807`, "18 ff ff ff ff ff ff ff 7f"},
		{`-9223372036854775808`, "18 00 00 00 00 00 00 00 80"},
		// Beyond int64: decimal16 scale 0 (precision 19).
		{`9223372036854775808`, "28 00 00 00 00 00 00 00 00 80 00 00 00 00 00 00 00 00"},
		{`-9223372036854775809`, "28 00 ff ff ff ff ff ff ff 7f ff ff ff ff ff ff ff ff"},
		// Fractions: exact digits, trailing zeros kept.
		{`-0.0`, "20 01 00 00 00 00"},
		{`0.00`, "20 02 00 00 00 00"},
		{`123456789.0`, "24 01 d2 02 96 49 00 00 00 00"},                                   // precision 10: decimal8
		{`0.000000001`, "20 09 01 00 00 00"},                                               // scale 9, precision 1: decimal4
		{`0.0000000001`, "24 0a 01 00 00 00 00 00 00 00"},                                  // scale 10: decimal8
		{`0.1000000000000000000`, "28 13 00 00 64 a7 b3 b6 e0 0d 00 00 00 00 00 00 00 00"}, // scale 19
		{`99999999999999999999999999999999999999`, "28 00 ff ff ff ff 3f 22 8a 09 7a c4 86 5a a8 4c 3b 4b"},
		{`0.00000000000000000000000000000000000001`, "28 26 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
		// Beyond 38 digits of precision or scale, and every exponent form: double.
		{`999999999999999999999999999999999999999`, "1c " + le64(1e39)},
		{`0.000000000000000000000000000000000000001`, "1c " + le64(1e-39)},
		{`1.000000000000000000000000000000000000000`, "1c " + le64(1)},
		{`1E3`, "1c " + le64(1000)},
		{`1e0`, "1c " + le64(1)},
		{`-2.5e-3`, "1c " + le64(-0.0025)},
		{`1e400`, "1c " + le64(math.Inf(1))},
		{`-1e400`, "1c " + le64(math.Inf(-1))},
		{`1e-400`, "1c " + le64(0)},
	} {
		meta, value := encode(t, tc.json)
		if want := unhex(t, emptyMeta); !bytes.Equal(meta, want) {
			t.Errorf("%s: metadata % x, want % x", tc.json, meta, want)
		}
		if want := unhex(t, tc.value); !bytes.Equal(value, want) {
			t.Errorf("%s: value\n% x, want\n% x", tc.json, value, want)
		}
	}
}

// TestRoundTrip encodes JSON and decodes it back; objects come back sorted by key.
func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`null`, `null`},
		{` true `, `true`},
		{"\t\r\n false \n", `false`},
		{`{"b":1,"a":2,"c":3}`, `{"a":2,"b":1,"c":3}`},
		{`{"B":1,"a":2,"_":3,"é":4,"z":5}`, `{"B":1,"_":3,"a":2,"z":5,"é":4}`}, // byte order
		{`{"a":{"z":[{"y":1,"x":2}],"b":{}},"A":[]}`, `{"A":[],"a":{"b":{},"z":[{"x":2,"y":1}]}}`},
		{`[1, 2.50 , -3.0e2, "x", null, true, false, {}, []]`, `[1,2.50,-300,"x",null,true,false,{},[]]`},
		{`"héllo \u00e9 \ud83d\ude00 日本 \uFFFF"`, "\"héllo é 😀 日本 \uffff\""},
		{`"a\"b\\c\/d\b\f\n\r\t\u0001\u001f\u007f"`, `"a\"b\\c/d\b\f\n\r\t\u0001\u001f` + "\x7f\""},
		{`{"k\u0000ey":"\u0000"}`, `{"k\u0000ey":"\u0000"}`},
		{`"</script>&"`, `"</script>&"`},
		{`12345678901234567890`, `12345678901234567890`},
		{`-9223372036854775808`, `-9223372036854775808`},
		{`99999999999999999999999999999999999999`, `99999999999999999999999999999999999999`},
		{`-99999999999999999999999999999999999999`, `-99999999999999999999999999999999999999`},
		{`0.1`, `0.1`},
		{`-0.0`, `0.0`},
		{`1.50`, `1.50`},
		{`-123456789.123456789`, `-123456789.123456789`},
		{`0.00000000000000000000000000000000000001`, `0.00000000000000000000000000000000000001`},
		{`1e400`, `"Infinity"`},
		{`-1e400`, `"-Infinity"`},
		{`1E-400`, `0`},
		{`1.5e-7`, `1.5e-7`},
		{`2.5e25`, `2.5e+25`},
		{`123456789012345678901234567890123456789`, `1.2345678901234568e+38`},
		{`1.000000000000000000000000000000000000000`, `1`},
		{`[[[[[[]]]]]]`, `[[[[[[]]]]]]`},
		{`{"":""}`, `{"":""}`},
	} {
		meta, value := encode(t, tc.in)
		if got := decode(t, meta, value); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestRoundTripLarge covers the size fields beyond one byte: more than 255 elements
// (is_large), more than 255 keys (2-byte field ids), long strings, data beyond 64 KiB
// (3-byte offsets) and a long dictionary (2-byte metadata offsets).
func TestRoundTripLarge(t *testing.T) {
	var b strings.Builder
	join := func(n int, f func(i int) string) string {
		b.Reset()
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f(i))
		}
		return b.String()
	}
	long := strings.Repeat("x", 64)
	short := strings.Repeat("y", 63)
	huge := strings.Repeat("é", 40000) // 80,000 bytes
	arr300 := "[" + join(300, func(i int) string { return fmt.Sprint(i) }) + "]"
	// Keys written backwards so that the object must be sorted.
	obj300 := "{" + join(300, func(i int) string { return fmt.Sprintf(`"k%03d":%d`, 299-i, 299-i) }) + "}"
	obj300sorted := "{" + join(300, func(i int) string { return fmt.Sprintf(`"k%03d":%d`, i, i) }) + "}"
	for _, tc := range []struct{ name, in, want string }{
		{"array of 300", arr300, arr300},
		{"object of 300", obj300, obj300sorted},
		{"64-byte string", `"` + long + `"`, `"` + long + `"`},
		{"63-byte string", `"` + short + `"`, `"` + short + `"`},
		{"80 KB string in array", `["` + huge + `",1]`, `["` + huge + `",1]`},
		{"80 KB key", `{"` + huge + `":1,"a":2}`, `{"a":2,"` + huge + `":1}`},
		{"nested 300s", "[" + arr300 + "," + obj300 + "]", "[" + arr300 + "," + obj300sorted + "]"},
	} {
		meta, value := encode(t, tc.in)
		if got := decode(t, meta, value); got != tc.want {
			t.Errorf("%s: round trip differs (got %d bytes, want %d)", tc.name, len(got), len(tc.want))
		}
	}

	// The headers themselves.
	_, value := encode(t, arr300)
	if value[0] != 0x03|(1<<2|1)<<2 { // is_large, 2-byte offsets
		t.Errorf("array of 300: header %#x", value[0])
	}
	meta, value := encode(t, obj300)
	if value[0] != 0x02|(1<<4|1<<2|1)<<2 { // is_large, 2-byte ids, 2-byte offsets
		t.Errorf("object of 300: header %#x", value[0])
	}
	if meta[0] != 0x11|1<<6 { // 2-byte metadata offsets (1,200 bytes of keys)
		t.Errorf("object of 300: metadata header %#x", meta[0])
	}
	_, value = encode(t, `["`+huge+`",1]`)
	if value[0] != 0x03|2<<2 { // 3-byte offsets
		t.Errorf("80 KB array: header %#x", value[0])
	}
	if value[1+1+3*3] != typeString<<2 { // long string primitive
		t.Errorf("80 KB array: element header %#x", value[1+1+3*3])
	}
}

// TestEncoderReuse checks that a reused Encoder gives what a fresh one does, whatever it
// encoded before, and that it appends after existing bytes.
func TestEncoderReuse(t *testing.T) {
	docs := []string{
		`{"z":1,"y":{"x":[1,2,{"w":"v"}]}}`,
		`{"a":"\u00e9","b":[{"a":1,"c":2}]}`,
		`[1,2,3]`,
		`{"z":1,"y":{"x":[1,2,{"w":"v"}]}}`,
		`{"k\"":1}`,
	}
	var e Encoder
	meta, value := []byte("M"), []byte("V")
	for round := range 3 {
		for _, d := range docs {
			m0, v0 := encode(t, d)
			var err error
			meta, value, err = e.AppendJSON(meta[:1], value[:1], []byte(d))
			if err != nil {
				t.Fatal(err)
			}
			if meta[0] != 'M' || value[0] != 'V' || !bytes.Equal(meta[1:], m0) || !bytes.Equal(value[1:], v0) {
				t.Errorf("round %d, %s: reused encoder differs", round, d)
			}
		}
		// A failure in between leaves the slices and the encoder intact.
		m, v, err := e.AppendJSON(meta[:1], value[:1], []byte(`{"a":1,"a":2}`))
		if err == nil || len(m) != 1 || len(v) != 1 {
			t.Errorf("duplicate keys: %v, %d, %d", err, len(m), len(v))
		}
	}
	// Force the generation counter to wrap.
	e.gen = math.MaxUint32
	for _, d := range docs {
		m0, v0 := encode(t, d)
		m, v, err := e.AppendJSON(nil, nil, []byte(d))
		if err != nil || !bytes.Equal(m, m0) || !bytes.Equal(v, v0) {
			t.Errorf("after wrap, %s: differs (%v)", d, err)
		}
	}
}

// TestManyKeys grows the key index well past its first size.
func TestManyKeys(t *testing.T) {
	var b strings.Builder
	b.WriteByte('[')
	for i := range 5000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"key%d":%d,"shared":0}`, i*7919%5000, i)
	}
	b.WriteByte(']')
	meta, value := encode(t, b.String())
	got := decode(t, meta, value)
	if !strings.HasPrefix(got, `[{"key0":0,"shared":0},{"key2919":1,"shared":0},`) {
		t.Errorf("got %.100s", got)
	}
	// 5001 keys in the dictionary, sorted.
	d := decoder{}
	if err := d.init(meta, value); err != nil || d.keys != 5001 {
		t.Fatalf("dictionary: %v, %d keys", err, d.keys)
	}
	prev := []byte(nil)
	for id := range d.keys {
		k, err := d.key(id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if id > 0 && bytes.Compare(prev, k) >= 0 {
			t.Fatalf("dictionary not sorted at %d: %q >= %q", id, prev, k)
		}
		prev = k
	}
}

// TestKeyOrder checks dictionary and field order for keys that share long prefixes or
// differ only in zero bytes and length, with few keys and with many.
func TestKeyOrder(t *testing.T) {
	base := []string{ // JSON string contents, escapes included
		`user_name_last`, `user_name_first`, `user_name`, `user_name_`, `user_nam`,
		`a`, `a\u0000`, `a\u0000\u0000`, `abcdefgh`, `abcdefg`, `abcdefgh\u0000`, `abcdefghi`,
		`\u00e9`, `\uffff`, `\ud83d\ude00`, `Z`, ``, `~`, `\u007f`,
	}
	var keys []string
	for n := range 5 { // 12, 19, 38, 57 and 76 keys: both sort paths
		if n == 0 {
			keys = base[:12]
		} else {
			if n == 1 {
				keys = nil
			}
			for _, k := range base {
				keys = append(keys, strings.Repeat("p", n-1)+k)
			}
		}
		var b strings.Builder
		b.WriteByte('{')
		for i := len(keys) - 1; i >= 0; i-- { // reversed
			if i < len(keys)-1 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"%s":%d`, keys[i], i)
		}
		b.WriteByte('}')
		meta, value := encode(t, b.String())
		got := unmarshalOrdered(t, decode(t, meta, value))
		for i := 1; i < len(got); i++ {
			if got[i-1] >= got[i] {
				t.Fatalf("%d keys: %q before %q", len(keys), got[i-1], got[i])
			}
		}
		if len(got) != len(keys) {
			t.Fatalf("%d keys came back as %d", len(keys), len(got))
		}
		d := decoder{}
		if err := d.init(meta, value); err != nil || meta[0]&sortedStrings == 0 {
			t.Fatalf("metadata: %v, header %#x", err, meta[0])
		}
		for id := range d.keys {
			k, _ := d.key(id, 0)
			if string(k) != got[id] {
				t.Fatalf("dictionary entry %d is %q, object field %d is %q", id, k, id, got[id])
			}
		}
	}
}

// unmarshalOrdered returns the keys of the JSON object text in the order they appear.
func unmarshalOrdered(t *testing.T, text string) []string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(text))
	var keys []string
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %.40s", text)
	}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestEncodeErrors(t *testing.T) {
	for _, tc := range []struct {
		in     string
		offset int64
		msg    string
	}{
		{``, 0, "unexpected end"},
		{`   `, 3, "unexpected end"},
		{`{`, 1, "unexpected end"},
		{`{"a"}`, 4, "after object key"},
		{`{"a":1,}`, 7, "beginning of object key"},
		{`{"a":1 "b":2}`, 7, "after object value"},
		{`{1:2}`, 1, "beginning of object key"},
		{`[1,]`, 3, "beginning of value"},
		{`[1 2]`, 3, "after array element"},
		{`[`, 1, "unexpected end"},
		{`01`, 1, "after top-level value"},
		{`1.`, 2, "unexpected end"},
		{`1.e5`, 2, "after decimal point"},
		{`1e`, 2, "unexpected end"},
		{`1e+`, 3, "unexpected end"},
		{`1ex`, 2, "exponent"},
		{`-`, 1, "unexpected end"},
		{`-a`, 1, "numeric literal"},
		{`+1`, 0, "beginning of value"},
		{`.5`, 0, "beginning of value"},
		{`tru`, 3, "unexpected end"},
		{`nul l`, 3, "in literal null"},
		{`falsy`, 4, "in literal false"},
		{`NaN`, 0, "beginning of value"},
		{`Infinity`, 0, "beginning of value"},
		{`'a'`, 0, "beginning of value"},
		{`{"a":1}x`, 7, "after top-level value"},
		{`1 2`, 2, "after top-level value"},
		{"\ufeff1", 0, "beginning of value"},
		{`"abc`, 4, "unexpected end"},
		{`"a\`, 3, "unexpected end"},
		{"\"a\x01\"", 2, "control character"},
		{"\"a\nb\"", 2, "control character"},
		{`"\q"`, 1, "invalid escape"},
		{`"\u12"`, 1, "invalid \\u escape"},
		{`"\u12`, 5, "unexpected end"},
		{`"\uzzzz"`, 1, "invalid \\u escape"},
		{`"\ud800"`, 1, "lone surrogate"},
		{`"\udc00\ud800"`, 1, "lone surrogate"},
		{`"x\ud800\u0041"`, 2, "lone surrogate"},
		{`"\ud800\ud800"`, 1, "lone surrogate"},
		{"\"\xff\"", 1, "invalid UTF-8"},
		{"\"ab\xc0\xaf\"", 3, "invalid UTF-8"},   // overlong '/'
		{"\"\xed\xa0\x80\"", 1, "invalid UTF-8"}, // surrogate in UTF-8
		{"\"\\n\xe6\x97\"", 3, "invalid UTF-8"},  // truncated sequence after an escape
		{"{\"\xff\":1}", 2, "invalid UTF-8"},     // in a key
		{strings.Repeat("[", MaxDepth+1), MaxDepth, "nest deeper"},
		{strings.Repeat(`{"a":`, MaxDepth) + "{", int64(5 * MaxDepth), "nest deeper"},
	} {
		var e Encoder
		meta, value, err := e.AppendJSON([]byte("m"), []byte("v"), []byte(tc.in))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%.40q: error %v, want a *SyntaxError", tc.in, err)
			continue
		}
		if se.Offset != tc.offset || !strings.Contains(se.Error(), tc.msg) {
			t.Errorf("%.40q: %v (offset %d), want offset %d and %q", tc.in, err, se.Offset, tc.offset, tc.msg)
		}
		if string(meta) != "m" || string(value) != "v" {
			t.Errorf("%.40q: slices changed on error", tc.in)
		}
	}
}

func TestDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		in     string
		key    string
		offset int64
	}{
		{`{"a":1,"a":2}`, "a", 7},
		{`{"a":1,"b":2,"a":3}`, "a", 13},
		{`{"x":{"k":1,"j":2,"k":3}}`, "k", 18},
		{`{"a":1,"\u0061":2}`, "a", 7}, // the same key spelled differently
		{`[{"a":1},{"b":1,"b":1}]`, "b", 16},
	} {
		var e Encoder
		_, _, err := e.AppendJSON(nil, nil, []byte(tc.in))
		var de *DuplicateKeyError
		if !errors.As(err, &de) || de.Key != tc.key || de.Offset != tc.offset {
			t.Errorf("%s: %v, want duplicate %q at %d", tc.in, err, tc.key, tc.offset)
		} else if !strings.Contains(err.Error(), `"`+tc.key+`"`) {
			t.Errorf("%s: message %q does not name the key", tc.in, err)
		}
	}
	// The same key in different objects is fine.
	encode(t, `{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}`)
}

func TestDepth(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	meta, value := encode(t, deep)
	if got := decode(t, meta, value); got != deep {
		t.Errorf("%d nested arrays do not round-trip", MaxDepth)
	}
	deepObj := strings.Repeat(`{"a":`, MaxDepth-1) + "[]" + strings.Repeat("}", MaxDepth-1)
	meta, value = encode(t, deepObj)
	if got := decode(t, meta, value); got != deepObj {
		t.Errorf("%d nested objects do not round-trip", MaxDepth)
	}
}

func TestMaxSize(t *testing.T) {
	doc := []byte(`{"key":"` + strings.Repeat("x", 100) + `"}`)
	e := Encoder{MaxSize: 100}
	if _, _, err := e.AppendJSON(nil, nil, doc); !errors.Is(err, ErrTooLarge) {
		t.Errorf("value over MaxSize: %v", err)
	}
	e.MaxSize = 200
	if _, _, err := e.AppendJSON(nil, nil, doc); err != nil {
		t.Errorf("value under MaxSize: %v", err)
	}
	e.MaxSize = 10
	if _, _, err := e.AppendJSON(nil, nil, []byte(`{"`+strings.Repeat("k", 20)+`":1}`)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("metadata over MaxSize: %v", err)
	}
	// The default is Spark's 16 MiB; -1 lifts it.
	big := []byte(`"` + strings.Repeat("x", SparkSizeLimit) + `"`)
	var d Encoder
	if _, _, err := d.AppendJSON(nil, nil, big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("value over 16 MiB by default: %v", err)
	}
	d.MaxSize = -1
	if _, v, err := d.AppendJSON(nil, nil, big); err != nil || len(v) != 5+SparkSizeLimit {
		t.Errorf("value over 16 MiB with MaxSize -1: %v", err)
	}
	// A container over 16 MiB takes 4-byte offsets.
	arr := append(append([]byte("[1,"), big...), ']')
	m, v, err := d.AppendJSON(nil, nil, arr)
	if err != nil || v[0] != 0x03|3<<2 {
		t.Fatalf("array over 16 MiB: %v, header %#x", err, v[0])
	}
	out, err := AppendJSON(nil, m, v)
	if err != nil || !bytes.Equal(out, arr) {
		t.Errorf("array over 16 MiB does not round-trip: %v", err)
	}
}

// TestAllocs checks that a warmed-up Encoder allocates nothing.
func TestAllocs(t *testing.T) {
	doc := []byte(benchDoc)
	var e Encoder
	meta, value, err := e.AppendJSON(nil, nil, doc)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		meta, value, _ = e.AppendJSON(meta[:0], value[:0], doc)
	}); n != 0 {
		t.Errorf("%v allocations per steady-state AppendJSON, want 0", n)
	}
	esc := []byte(`{"b\u00e9":"\ud83d\ude00\n","a":[1.5e300,-12345678901234567890.5,"x"]}`)
	meta, value, _ = e.AppendJSON(meta[:0], value[:0], esc)
	if n := testing.AllocsPerRun(100, func() {
		meta, value, _ = e.AppendJSON(meta[:0], value[:0], esc)
	}); n != 0 {
		t.Errorf("%v allocations per steady-state AppendJSON with escapes, want 0", n)
	}
}
