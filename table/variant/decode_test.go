package variant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// prim builds a primitive value: the header for type id typ, then the payload.
func prim(typ byte, payload ...byte) []byte { return append([]byte{typ << 2}, payload...) }

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }
func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestDecodePrimitives covers every primitive type, most of which the encoder never
// writes, from bytes built by hand.
func TestDecodePrimitives(t *testing.T) {
	micros := func(y int, mo time.Month, d, h, mi, s, us int) uint64 {
		return uint64(time.Date(y, mo, d, h, mi, s, us*1000, time.UTC).UnixMicro())
	}
	for _, tc := range []struct {
		name  string
		value []byte
		want  string
	}{
		{"null", prim(typeNull), `null`},
		{"true", prim(typeTrue), `true`},
		{"false", prim(typeFalse), `false`},
		{"int8", prim(typeInt8, 0x80), `-128`},
		{"int16", prim(typeInt16, 0x00, 0x80), `-32768`},
		{"int32", prim(typeInt32, le32(0x80000000)...), `-2147483648`},
		{"int64", prim(typeInt64, le64(math.MaxInt64)...), `9223372036854775807`},
		{"double", prim(typeDouble, le64(math.Float64bits(123.456))...), `123.456`},
		{"double -0", prim(typeDouble, le64(math.Float64bits(math.Copysign(0, -1)))...), `-0`},
		{"double 1e21", prim(typeDouble, le64(math.Float64bits(1e21))...), `1e+21`},
		{"double 1e-7", prim(typeDouble, le64(math.Float64bits(1e-7))...), `1e-7`},
		{"double max", prim(typeDouble, le64(math.Float64bits(math.MaxFloat64))...), `1.7976931348623157e+308`},
		{"double NaN", prim(typeDouble, le64(math.Float64bits(math.NaN()))...), `"NaN"`},
		{"double +Inf", prim(typeDouble, le64(math.Float64bits(math.Inf(1)))...), `"Infinity"`},
		{"double -Inf", prim(typeDouble, le64(math.Float64bits(math.Inf(-1)))...), `"-Infinity"`},
		{"float", prim(typeFloat, le32(math.Float32bits(1.5))...), `1.5`},
		{"float 0.1", prim(typeFloat, le32(math.Float32bits(0.1))...), `0.1`},
		{"float small", prim(typeFloat, le32(math.Float32bits(1e-10))...), `1e-10`},
		{"float NaN", prim(typeFloat, le32(math.Float32bits(float32(math.NaN())))...), `"NaN"`},
		{"float -Inf", prim(typeFloat, le32(math.Float32bits(float32(math.Inf(-1))))...), `"-Infinity"`},
		{"decimal4", prim(typeDecimal4, cat([]byte{2}, le32(150))...), `1.50`},
		{"decimal4 neg", prim(typeDecimal4, cat([]byte{3}, le32(uint32(0xFFFFFFFB)))...), `-0.005`},
		{"decimal4 zero", prim(typeDecimal4, cat([]byte{2}, le32(0))...), `0.00`},
		{"decimal4 scale 0", prim(typeDecimal4, cat([]byte{0}, le32(uint32(0xFFFFFF85)))...), `-123`},
		{"decimal8", prim(typeDecimal8, cat([]byte{4}, le64(uint64(1234567890123456789)))...), `123456789012345.6789`},
		{"decimal8 min", prim(typeDecimal8, cat([]byte{18}, le64(1<<63))...), `-9.223372036854775808`},
		{"decimal16 small", prim(typeDecimal16, cat([]byte{38}, le64(1), le64(0))...), `0.00000000000000000000000000000000000001`},
		{"decimal16 38 nines", prim(typeDecimal16, cat([]byte{0}, le64(0x098A223FFFFFFFFF), le64(0x4B3B4CA85A86C47A))...),
			`99999999999999999999999999999999999999`},
		{"decimal16 min", prim(typeDecimal16, cat([]byte{0}, le64(0), le64(1<<63))...), `-170141183460469231731687303715884105728`},
		{"decimal16 -1", prim(typeDecimal16, cat([]byte{1}, le64(math.MaxUint64), le64(math.MaxUint64))...), `-0.1`},
		{"decimal16 10^19", prim(typeDecimal16, cat([]byte{0}, le64(0x8AC7230489E80000), le64(0))...), `10000000000000000000`},
		{"decimal16 10^20", prim(typeDecimal16, cat([]byte{0}, le64(0x6BC75E2D63100000), le64(5))...), `100000000000000000000`},
		{"date epoch", prim(typeDate, le32(0)...), `"1970-01-01"`},
		{"date", prim(typeDate, le32(19723)...), `"2024-01-01"`},
		{"date before epoch", prim(typeDate, le32(uint32(0xFFFFFFFF))...), `"1969-12-31"`},
		{"date year 0", prim(typeDate, le32(uint32(-719528&0xFFFFFFFF))...), `"0000-01-01"`},
		{"date year -1", prim(typeDate, le32(uint32(-719529&0xFFFFFFFF))...), `"-0001-12-31"`},
		{"date year 10000", prim(typeDate, le32(2932897)...), `"+10000-01-01"`},
		{"timestamp", prim(typeTimestamp, le64(micros(2024, 1, 2, 3, 4, 5, 123456))...), `"2024-01-02T03:04:05.123456+00:00"`},
		{"timestamp whole", prim(typeTimestamp, le64(micros(2024, 1, 2, 3, 4, 5, 0))...), `"2024-01-02T03:04:05.000000+00:00"`},
		{"timestamp -1µs", prim(typeTimestamp, le64(uint64(math.MaxUint64))...), `"1969-12-31T23:59:59.999999+00:00"`},
		{"timestamp ntz", prim(typeTimestampNTZ, le64(micros(1999, 12, 31, 23, 59, 59, 1))...), `"1999-12-31T23:59:59.000001"`},
		{"timestamp nanos", prim(typeTimestampNanos, le64(1704164645123456789)...), `"2024-01-02T03:04:05.123456789+00:00"`},
		{"timestamp nanos ntz", prim(typeTimestampNanosNTZ, le64(uint64(math.MaxUint64))...), `"1969-12-31T23:59:59.999999999"`},
		{"time", prim(typeTime, le64(3723000001)...), `"01:02:03.000001"`},
		{"time last", prim(typeTime, le64(86400e6-1)...), `"23:59:59.999999"`},
		{"binary", prim(typeBinary, cat(le32(3), []byte{1, 2, 3})...), `"AQID"`},
		{"binary empty", prim(typeBinary, le32(0)...), `""`},
		{"long string form, short text", prim(typeString, cat(le32(2), []byte("hi"))...), `"hi"`},
		{"long string escapes", prim(typeString, cat(le32(4), []byte("\"\\\n\x00"))...), `"\"\\\n\u0000"`},
		{"uuid", prim(typeUUID, 0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00),
			`"123e4567-e89b-12d3-a456-426614174000"`},
		{"short string", []byte{3<<2 | 1, 'a', 'b', 'c'}, `"abc"`},
		{"trailing bytes ignored", []byte{0x0c, 0x05, 0xff, 0xff}, `5`},
	} {
		if got := decode(t, []byte{0x01, 0, 0}, tc.value); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

// javaDate is how java.time prints a date: four-digit years, a sign beyond.
func javaDate(tm time.Time) string {
	y := tm.Year()
	ys := fmt.Sprintf("%04d", y)
	if y < 0 {
		ys = fmt.Sprintf("-%04d", -y)
	} else if y > 9999 {
		ys = "+" + ys
	}
	return fmt.Sprintf("%s-%02d-%02d", ys, tm.Month(), tm.Day())
}

// TestDecodeCalendar checks the date arithmetic against package time over the whole
// range of the date and timestamp types.
func TestDecodeCalendar(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	days := []int64{0, -1, 1, math.MaxInt32, math.MinInt32, 59, 60, -719528, -719529, 2932897, 11016, -141427}
	for range 2000 {
		days = append(days, int64(int32(r.Uint32())), r.Int64N(800000)-400000)
	}
	for _, d := range days {
		want := `"` + javaDate(time.Unix(d*86400, 0).UTC()) + `"`
		if got := decode(t, []byte{1, 0, 0}, prim(typeDate, le32(uint32(d))...)); got != want {
			t.Fatalf("date %d: got %s, want %s", d, got, want)
		}
	}
	ts := []int64{0, -1, 1, math.MaxInt64, math.MinInt64, 1e6, -1e6, 86400e6 - 1}
	for range 2000 {
		ts = append(ts, int64(r.Uint64()), r.Int64N(1e17)-5e16)
	}
	for _, us := range ts {
		tm := time.UnixMicro(us).UTC()
		want := fmt.Sprintf(`"%sT%02d:%02d:%02d.%06d+00:00"`, javaDate(tm), tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond()/1000)
		if got := decode(t, []byte{1, 0, 0}, prim(typeTimestamp, le64(uint64(us))...)); got != want {
			t.Fatalf("timestamp %d: got %s, want %s", us, got, want)
		}
		tm = time.Unix(0, us).UTC()
		want = fmt.Sprintf(`"%sT%02d:%02d:%02d.%09d"`, javaDate(tm), tm.Hour(), tm.Minute(), tm.Second(), tm.Nanosecond())
		if got := decode(t, []byte{1, 0, 0}, prim(typeTimestampNanosNTZ, le64(uint64(us))...)); got != want {
			t.Fatalf("timestamp nanos %d: got %s, want %s", us, got, want)
		}
	}
}

// TestDecodeLayouts reads containers laid out in ways the encoder does not choose but
// the spec allows: wider sizes than needed, unsorted dictionaries, values out of order.
func TestDecodeLayouts(t *testing.T) {
	for _, tc := range []struct {
		name        string
		meta, value []byte
		want        string
	}{
		{"unsorted dictionary, 2-byte offsets",
			// header 0x41: version 1, unsorted, 2-byte offsets; keys "b", "a".
			[]byte{0x41, 2, 0, 0, 0, 1, 0, 2, 0, 'b', 'a'},
			// Object, field ids 1 ("a") then 0 ("b"); values stored b then a.
			[]byte{0x02, 2, 1, 0, 2, 0, 4, 0x0c, 1, 0x0c, 2},
			`{"a":2,"b":1}`},
		{"object with is_large, 4-byte ids and offsets",
			[]byte{0x11, 1, 0, 1, 'k'},
			cat([]byte{0x02 | (1<<4|3<<2|3)<<2}, le32(1), le32(0), le32(0), le32(1), []byte{0x04}),
			`{"k":true}`},
		{"array with is_large, 3-byte offsets, values out of order",
			[]byte{0x01, 0, 0},
			cat([]byte{0x03 | (1<<2|2)<<2}, le32(2), []byte{2, 0, 0, 0, 0, 0, 4, 0, 0}, []byte{0x0c, 2, 0x0c, 1}),
			`[1,2]`},
		{"reserved bits set",
			[]byte{0x21, 0, 0},                    // metadata bit 5
			[]byte{0x03 | 0x38<<2, 1, 0, 1, 0x00}, // array bits 5-3
			`[null]`},
		{"nested containers sharing the dictionary",
			[]byte{0x11, 2, 0, 1, 2, 'a', 'b'},
			[]byte{0x03, 2, 0, 6, 12,
				0x02, 1, 0, 0, 1, 0x04, // {"a":true}
				0x02, 1, 1, 0, 1, 0x08, // {"b":false}
			},
			`[{"a":true},{"b":false}]`},
		{"key needing escapes",
			[]byte{0x11, 1, 0, 3, '"', '\n', 0x7f},
			[]byte{0x02, 1, 0, 0, 1, 0x00},
			"{\"\\\"\\n\x7f\":null}"},
	} {
		if got := decode(t, tc.meta, tc.value); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

// nestArrays wraps inner in n arrays with 4-byte offsets.
func nestArrays(n int) []byte {
	v := []byte{0x03, 0, 0}
	for range n - 1 {
		v = cat([]byte{0x03 | 3<<2, 1}, le32(0), le32(uint32(len(v))), v)
	}
	return v
}

func TestDecodeMalformed(t *testing.T) {
	meta0 := []byte{0x11, 0, 0}
	for _, tc := range []struct {
		name        string
		meta, value []byte
		inMeta      bool
		msg         string
	}{
		{"empty metadata", nil, []byte{0}, true, "empty metadata"},
		{"metadata version 2", []byte{0x12, 0, 0}, []byte{0}, true, "version 2"},
		{"metadata version 0", []byte{0x00, 0, 0}, []byte{0}, true, "version 0"},
		{"metadata without size", []byte{0xd1, 0, 0}, []byte{0}, true, "dictionary size"},
		{"metadata offsets cut", []byte{0x11, 5, 0, 1}, []byte{0}, true, "dictionary offsets"},
		{"metadata huge dictionary", []byte{0xd1, 0xff, 0xff, 0xff, 0xff}, []byte{0}, true, "dictionary offsets"},
		{"key offsets decrease", []byte{0x11, 1, 2, 1, 'a', 'a'}, []byte{0x02, 1, 0, 0, 1, 0}, true, "dictionary string 0"},
		{"key beyond bytes", []byte{0x11, 1, 0, 3, 'a'}, []byte{0x02, 1, 0, 0, 1, 0}, true, "dictionary string 0"},
		{"key not UTF-8", []byte{0x11, 1, 0, 1, 0xff}, []byte{0x02, 1, 0, 0, 1, 0}, true, "not valid UTF-8"},
		{"empty value", meta0, nil, false, "header missing"},
		{"field id out of range", meta0, []byte{0x02, 1, 5, 0, 1, 0}, false, "field id 5"},
		{"unknown type", meta0, []byte{21 << 2}, false, "unknown primitive type 21"},
		{"unknown type 63", meta0, []byte{63 << 2}, false, "unknown primitive type 63"},
		{"element offset outside", meta0, []byte{0x03, 1, 5, 1, 0}, false, "outside"},
		{"element data overruns", meta0, []byte{0x03, 1, 0, 9, 0}, false, "overruns"},
		{"element count overruns", meta0, []byte{0x03, 200, 0, 1}, false, "truncated"},
		{"is_large count overruns", meta0, []byte{0x03 | 1<<4, 0xff, 0xff, 0xff, 0xff, 0}, false, "truncated"},
		{"element truncated", meta0, []byte{0x03, 1, 0, 1, 0x0c}, false, "truncated int8"},
		{"decimal scale 39", meta0, prim(typeDecimal4, cat([]byte{39}, le32(1))...), false, "scale 39"},
		{"decimal scale 255", meta0, prim(typeDecimal16, cat([]byte{255}, le64(1), le64(0))...), false, "scale 255"},
		{"time past midnight", meta0, prim(typeTime, le64(86400e6)...), false, "outside one day"},
		{"time negative", meta0, prim(typeTime, le64(math.MaxUint64)...), false, "outside one day"},
		{"short string not UTF-8", meta0, []byte{1<<2 | 1, 0xff}, false, "not valid UTF-8"},
		{"long string not UTF-8", meta0, prim(typeString, cat(le32(2), []byte{0xed, 0xa0})...), false, "not valid UTF-8"},
		{"long string length", meta0, prim(typeString, cat(le32(0xffffffff), []byte("abc"))...), false, "truncated"},
		{"binary length", meta0, prim(typeBinary, le32(4)...), false, "truncated"},
		{"short string length", meta0, []byte{10<<2 | 1, 'a'}, false, "truncated short string"},
		{"uuid short", meta0, prim(typeUUID, 1, 2, 3), false, "truncated uuid"},
		// Two elements at the same offset: more bytes visited than exist.
		{"overlapping elements", meta0, []byte{0x03, 2, 0, 0, 1, 0x00}, false, "overlap"},
		{"too deep", meta0, nestArrays(MaxDepth + 1), false, "nest deeper"},
	} {
		out, err := AppendJSON([]byte("keep"), tc.meta, tc.value)
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Errorf("%s: error %v, want a *MalformedError", tc.name, err)
			continue
		}
		if me.InMetadata != tc.inMeta || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q (in metadata: %v)", tc.name, err, tc.msg, tc.inMeta)
		}
		if string(out) != "keep" {
			t.Errorf("%s: dst changed on error: %q", tc.name, out)
		}
	}
	if got := decode(t, meta0, nestArrays(MaxDepth)); got != strings.Repeat("[", MaxDepth)+strings.Repeat("]", MaxDepth) {
		t.Errorf("%d nested arrays: %.20s", MaxDepth, got)
	}
}

// TestDecodeOverlapBlowup is an array whose elements all point at one array whose
// elements all point at one array...: valid-looking offsets whose output would be
// 255^depth bytes. The visit budget stops it.
func TestDecodeOverlapBlowup(t *testing.T) {
	v := []byte{0x00}
	for range 8 {
		hdr := []byte{0x03 | 3<<2, 255}
		for range 255 {
			hdr = append(hdr, le32(0)...)
		}
		v = cat(hdr, le32(uint32(len(v))), v)
	}
	if _, err := AppendJSON(nil, []byte{1, 0, 0}, v); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("got %v, want an overlap error", err)
	}
}

// TestTruncated cuts valid encodings at every length: each cut must be an error, never
// a panic or a partial success.
func TestTruncated(t *testing.T) {
	docs := []string{
		`null`, `5`, `-300`, `70000`, `1e3`, `1.50`, `12345678901234567890.5`, `"hi"`,
		`"` + strings.Repeat("long", 20) + `"`,
		`{"a":1,"b":"x"}`, `[1,2]`, `[]`, `{}`,
		`{"name":"n","list":[1,[2,{"deep":[true,false,null]}],"s"],"obj":{"a":{},"b":[]}}`,
		`[` + strings.Repeat(`{"k":1},`, 300) + `0]`,
	}
	for _, d := range docs {
		meta, value := encode(t, d)
		want := decode(t, meta, value)
		for k := range len(value) {
			if out, err := AppendJSON(nil, meta, value[:k]); err == nil {
				t.Errorf("%.30s: value cut to %d of %d bytes decoded as %.40s", d, k, len(value), out)
			}
		}
		for k := range len(meta) {
			if out, err := AppendJSON(nil, meta[:k], value); err == nil {
				t.Errorf("%.30s: metadata cut to %d of %d bytes decoded as %.40s", d, k, len(meta), out)
			}
		}
		// Trailing bytes are ignored, as Spark ignores them.
		if got := decode(t, append(meta, 0xff), append(value, 0xff)); got != want {
			t.Errorf("%.30s: trailing bytes changed the result", d)
		}
	}
}
