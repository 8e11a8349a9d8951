package schema

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseWire(t *testing.T) {
	cases := []struct {
		name    string
		msg     []byte
		id      int32
		payload []byte
		reason  string // substring of the WireError reason; "" means no error
	}{
		{name: "avro", msg: []byte{0, 0, 0, 0, 42, 2, 'h', 'i'}, id: 42, payload: []byte{2, 'h', 'i'}},
		{name: "empty payload", msg: []byte{0, 0, 0, 1, 0}, id: 256, payload: []byte{}},
		{name: "big id", msg: []byte{0, 0x7f, 0xff, 0xff, 0xff, 9}, id: 1<<31 - 1, payload: []byte{9}},
		{name: "high bit id", msg: []byte{0, 0xff, 0xff, 0xff, 0xff}, id: -1, payload: []byte{}},
		{name: "empty", msg: nil, reason: "empty (a tombstone"},
		{name: "one byte", msg: []byte{0}, reason: "1 bytes, shorter than the 5-byte header"},
		{name: "four bytes", msg: []byte{0, 0, 0, 1}, reason: "4 bytes, shorter"},
		{name: "wrong magic", msg: []byte{1, 0, 0, 0, 1, 2}, reason: "first byte is 0x01, not the magic byte 0x00"},
		{name: "plain json", msg: []byte(`{"id": 1}`), reason: "0x7b, not the magic byte 0x00 (plain JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, payload, err := ParseWire(tc.msg)
			if tc.reason != "" {
				// The connector wraps the error with topic, partition and offset.
				wrapped := fmt.Errorf("topic orders partition 3 offset 17: %w", err)
				var we *WireError
				if !errors.As(wrapped, &we) {
					t.Fatalf("ParseWire(%x) error = %v, want a *WireError", tc.msg, err)
				}
				if !strings.Contains(we.Reason, tc.reason) || !strings.HasPrefix(we.Error(), "not in Confluent wire format: ") {
					t.Errorf("error %q, want reason containing %q", we.Error(), tc.reason)
				}
				if id != 0 || payload != nil {
					t.Errorf("on error got id %d payload %x, want zero values", id, payload)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseWire(%x): %v", tc.msg, err)
			}
			if id != tc.id || !bytes.Equal(payload, tc.payload) {
				t.Errorf("ParseWire(%x) = %d, %x; want %d, %x", tc.msg, id, payload, tc.id, tc.payload)
			}
			if got := AppendWire(nil, id, payload); !bytes.Equal(got, tc.msg) {
				t.Errorf("AppendWire(nil, %d, %x) = %x, want %x", id, payload, got, tc.msg)
			}
		})
	}
}

func TestAppendWireKeepsPrefix(t *testing.T) {
	dst := append(make([]byte, 0, 64), "key="...)
	got := AppendWire(dst, 7, []byte("v"))
	if want := []byte("key=\x00\x00\x00\x00\x07v"); !bytes.Equal(got, want) {
		t.Errorf("AppendWire = %q, want %q", got, want)
	}
}

func TestParseWireAllocatesNothing(t *testing.T) {
	msg := AppendWire(nil, 12345, []byte("payload"))
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := ParseWire(msg); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseWire allocates %v times per call, want 0", allocs)
	}
}

func FuzzParseWire(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 2, 3}, int32(1), []byte("x"))
	f.Add([]byte{}, int32(0), []byte{})
	f.Add([]byte{0, 0, 0}, int32(-1), []byte(nil))
	f.Add([]byte(`{"a":1}`), int32(1<<31-1), []byte(`{"a":1}`))
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff}, int32(-1<<31), []byte{0})
	f.Fuzz(func(t *testing.T, msg []byte, id int32, payload []byte) {
		gotID, gotPayload, err := ParseWire(msg)
		valid := len(msg) >= 5 && msg[0] == 0
		switch {
		case valid && err != nil:
			t.Fatalf("ParseWire(%x): %v", msg, err)
		case !valid:
			var we *WireError
			if !errors.As(err, &we) || we.Reason == "" {
				t.Fatalf("ParseWire(%x) = %v, want a *WireError", msg, err)
			}
		default:
			if again := AppendWire(nil, gotID, gotPayload); !bytes.Equal(again, msg) {
				t.Fatalf("AppendWire(ParseWire(%x)) = %x", msg, again)
			}
		}

		framed := AppendWire(nil, id, payload)
		gotID, gotPayload, err = ParseWire(framed)
		if err != nil || gotID != id || !bytes.Equal(gotPayload, payload) {
			t.Fatalf("ParseWire(AppendWire(%d, %x)) = %d, %x, %v", id, payload, gotID, gotPayload, err)
		}
	})
}

func BenchmarkParseWire(b *testing.B) {
	msg := AppendWire(nil, 12345, make([]byte, 200))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseWire(msg); err != nil {
			b.Fatal(err)
		}
	}
}
