package schema

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math/big"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/writer"
)

// fuzzTableFields are the fields the table holds: every kind of value the decoder
// writes.
const fuzzTableFields = `
	{"name":"id","type":"long"},
	{"name":"name","type":["null","string"]},
	{"name":"ok","type":"boolean"},
	{"name":"f","type":"float"},
	{"name":"d","type":["double","null"]},
	{"name":"small","type":"int"},
	{"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
	{"name":"big","type":["null",{"type":"fixed","name":"Big","size":16,"logicalType":"decimal","precision":38,"scale":4}]},
	{"name":"day","type":{"type":"int","logicalType":"date"}},
	{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
	{"name":"lts","type":["null",{"type":"long","logicalType":"local-timestamp-nanos"}]},
	{"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
	{"name":"uid","type":{"type":"fixed","name":"Uid","size":16,"logicalType":"uuid"}},
	{"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}},
	{"name":"raw","type":{"type":"fixed","name":"Raw","size":3}},
	{"name":"blob","type":"bytes"},
	{"name":"addr","type":["null",{"type":"record","name":"Addr","fields":[
		{"name":"city","type":"string"},
		{"name":"geo","type":["null",{"type":"record","name":"Geo","fields":[{"name":"lat","type":"double"},{"name":"lon","type":"double"}]}]}]}]},
	{"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
		{"name":"sku","type":"string"},
		{"name":"qty","type":["null","int"]},
		{"name":"tags","type":{"type":"map","values":["null","string"]}}]}}},
	{"name":"groups","type":{"type":"map","values":{"type":"array","items":["null","long"]}}},
	{"name":"choice","type":["null","int","string","Geo",{"type":"array","items":"Color"}]}`

// fuzzSkippedFields are in the writer schema only: the decoder reads past them.
const fuzzSkippedFields = `
	{"name":"skipTree","type":{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"kids","type":{"type":"array","items":"Node"}}]}},
	{"name":"skipMap","type":{"type":"map","values":["null","float",{"type":"fixed","name":"Five","size":5},{"type":"enum","name":"Bit","symbols":["ZERO","ONE"]}]}},
	{"name":"skipNulls","type":{"type":"array","items":"null"}},
	{"name":"skipBool","type":["boolean","double","bytes"]}`

func fuzzSetup(t testing.TB) (avro.Schema, *writer.Buffer, *AvroDecoder) {
	ts, err := AvroTableSchema(mustParse(t, recordSchema(fuzzTableFields)))
	if err != nil {
		t.Fatal(err)
	}
	w := mustParse(t, recordSchema(fuzzSkippedFields+","+fuzzTableFields))
	cfg := writer.DefaultConfig()
	cfg.Compression = "none"
	cfg.PageSize = 4096
	cfg.Dictionary = false
	buf, err := writer.NewBuffer(writer.Spec{Schema: ts}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewAvroDecoder(w, 1, buf, buf.Columns(), AvroOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return w, buf, dec
}

func fuzzValues() []map[string]any {
	geo := map[string]any{"lat": 59.9, "lon": 10.7}
	node := map[string]any{"v": int32(1), "kids": []any{map[string]any{"v": int32(2), "kids": []any{}}, map[string]any{"v": int32(3), "kids": []any{}}}}
	full := map[string]any{
		"skipTree": node, "skipMap": map[string]any{"a": nil, "b": map[string]any{"float": float32(1)}, "c": map[string]any{"test.Five": [5]byte{1, 2, 3, 4, 5}}, "d": map[string]any{"test.Bit": "ONE"}},
		"skipNulls": []any{nil, nil}, "skipBool": map[string]any{"bytes": []byte("x")},
		"id": int64(1), "name": "ann", "ok": true, "f": float32(1.25), "d": -2.5, "small": int32(-3),
		"price": big.NewRat(-1999, 100), "big": map[string]any{"test.Big": big.NewRat(123456789, 10000)},
		"day": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "ts": int64(1704164645123), "lts": int64(1704164645123456789),
		"tm": time.Duration(3723004) * time.Millisecond, "uid": [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8},
		"color": "GREEN", "raw": [3]byte{7, 8, 9}, "blob": []byte{0, 1},
		"addr":   map[string]any{"test.Addr": map[string]any{"city": "Oslo", "geo": map[string]any{"test.Geo": geo}}},
		"items":  []any{map[string]any{"sku": "a", "qty": int32(2), "tags": map[string]any{"n": nil}}, map[string]any{"sku": "b", "qty": nil, "tags": map[string]any{"k": "v"}}},
		"groups": map[string]any{"g": []any{int64(1), nil}},
		"choice": map[string]any{"array": []any{"RED", "BLUE"}},
	}
	sparse := map[string]any{
		"skipTree": map[string]any{"v": int32(0), "kids": []any{}}, "skipMap": map[string]any{}, "skipNulls": []any{}, "skipBool": map[string]any{"boolean": false},
		"id": int64(-1), "name": nil, "ok": false, "f": float32(0), "d": nil, "small": int32(0),
		"price": big.NewRat(0, 1), "big": nil, "day": time.Unix(0, 0).UTC(), "ts": int64(0), "lts": nil, "tm": time.Duration(0),
		"uid": [16]byte{}, "color": "RED", "raw": [3]byte{}, "blob": []byte{},
		"addr": nil, "items": []any{}, "groups": map[string]any{}, "choice": nil,
	}
	third := map[string]any{}
	for k, v := range sparse {
		third[k] = v
	}
	third["addr"] = map[string]any{"test.Addr": map[string]any{"city": "", "geo": nil}}
	third["choice"] = map[string]any{"test.Geo": geo}
	third["name"] = "bob"
	return []map[string]any{full, sparse, third}
}

// encodeRow decodes msg into an empty buffer and returns the Parquet file of that one
// row, to compare decodes byte for byte.
func encodeRow(t testing.TB, buf *writer.Buffer, dec *AvroDecoder, msg []byte) []byte {
	for _, p := range buf.Take() {
		p.Release()
	}
	if err := dec.Decode(msg); err != nil {
		buf.AbortRow()
		t.Fatalf("valid message: %v", err)
	}
	if err := buf.EndRow(); err != nil {
		t.Fatalf("valid message: EndRow: %v", err)
	}
	var out bytes.Buffer
	for _, p := range buf.Take() {
		for !p.Done() {
			if _, err := p.Encode(&out); err != nil {
				t.Fatal(err)
			}
		}
		p.Release()
	}
	return out.Bytes()
}

// FuzzAvroDecode feeds arbitrary payloads to a decoder of a schema with every kind of
// value and skipped field. A payload must decode into a complete row or fail with an
// *AvroError and leave no row behind; either way a valid message decodes right after
// it: the row it adds has the size the valid message's row has on a fresh decoder and,
// for one payload in 16 (chosen by content, so failures reproduce), encodes to the same
// Parquet bytes. Encoding every time would slow the fuzzer a hundredfold.
func FuzzAvroDecode(f *testing.F) {
	w, buf, dec := fuzzSetup(f)
	var valid [][]byte
	for _, v := range fuzzValues() {
		for _, api := range []avro.API{avro.DefaultConfig, avro.Config{BlockLength: 1, DisableBlockSizeHeader: true}.Freeze()} {
			msg, err := api.Marshal(w, v)
			if err != nil {
				f.Fatal(err)
			}
			valid = append(valid, msg)
			f.Add(msg)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(valid[0][:len(valid[0])/2])
	want := encodeRow(f, buf, dec, valid[0])
	if err := dec.Decode(valid[0]); err != nil {
		f.Fatal(err)
	}
	if err := buf.EndRow(); err != nil {
		f.Fatal(err)
	}
	wantBytes := buf.Bytes()

	f.Fuzz(func(t *testing.T, data []byte) {
		if buf.Rows() > 1000 {
			for _, p := range buf.Take() {
				p.Release()
			}
		}
		rows := buf.Rows()
		if err := dec.Decode(data); err != nil {
			var ae *AvroError
			if !errors.As(err, &ae) {
				t.Fatalf("error is %T, not *AvroError: %v", err, err)
			}
			if ae.Offset < 0 || ae.Offset > len(data) {
				t.Fatalf("offset %d outside the %d-byte payload: %v", ae.Offset, len(data), err)
			}
			buf.AbortRow()
			if buf.Rows() != rows {
				t.Fatalf("a failed decode left %d rows, had %d", buf.Rows(), rows)
			}
		} else if err := buf.EndRow(); err != nil {
			// Decode must catch whatever the row cannot hold.
			t.Fatalf("Decode accepted a row EndRow refuses: %v", err)
		} else if buf.Rows() != rows+1 {
			t.Fatalf("rows = %d after a decoded row, want %d", buf.Rows(), rows+1)
		}
		if crc32.ChecksumIEEE(data)%16 == 0 {
			if got := encodeRow(t, buf, dec, valid[0]); !bytes.Equal(got, want) {
				t.Fatalf("a valid message decodes differently after payload % x", data)
			}
			return
		}
		before := buf.Bytes()
		if err := dec.Decode(valid[0]); err != nil {
			t.Fatalf("valid message after payload % x: %v", data, err)
		}
		if err := buf.EndRow(); err != nil {
			t.Fatalf("valid message after payload % x: EndRow: %v", data, err)
		}
		if got := buf.Bytes() - before; got != wantBytes {
			t.Fatalf("a valid message adds a %d-byte row after payload % x, want %d", got, data, wantBytes)
		}
	})
}

// TestAvroFuzzSeedsRoundTrip checks the fuzz schema's seed messages against DuckDB, so
// the fuzz target starts from values known to decode right.
func TestAvroFuzzSeedsRoundTrip(t *testing.T) {
	w, buf, dec := fuzzSetup(t)
	values := fuzzValues()
	anys := make([]any, len(values))
	for i, v := range values {
		anys[i] = v
	}
	decodeRows(t, avro.DefaultConfig, w, dec, buf, anys)
	checkRows(t, readBackJSON(t, buf), []string{
		`{"id":1,"name":"ann","ok":true,"f":1.25,"d":-2.5,"small":-3,"price":-19.99,"big":12345.6789,"day":"2024-02-29","ts":"2024-01-02 03:04:05.123+00","lts":"2024-01-02 03:04:05.123456","tm":3723004000,"uid":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","color":"GREEN","raw":"\\x07\\x08\\x09","blob":"\\x00\\x01","addr":{"city":"Oslo","geo":{"lat":59.9,"lon":10.7}},"items":[{"sku":"a","qty":2,"tags":{"n":null}},{"sku":"b","qty":null,"tags":{"k":"v"}}],"groups":{"g":[1,null]},"choice":{"int":null,"string":null,"Geo":null,"array":["RED","BLUE"]}}`,
		`{"id":-1,"name":null,"ok":false,"f":0.0,"d":null,"small":0,"price":0.0,"big":null,"day":"1970-01-01","ts":"1970-01-01 00:00:00+00","lts":null,"tm":0,"uid":"00000000-0000-0000-0000-000000000000","color":"RED","raw":"\\x00\\x00\\x00","blob":"","addr":null,"items":[],"groups":{},"choice":null}`,
		`{"id":-1,"name":"bob","ok":false,"f":0.0,"d":null,"small":0,"price":0.0,"big":null,"day":"1970-01-01","ts":"1970-01-01 00:00:00+00","lts":null,"tm":0,"uid":"00000000-0000-0000-0000-000000000000","color":"RED","raw":"\\x00\\x00\\x00","blob":"","addr":{"city":"","geo":null},"items":[],"groups":{},"choice":{"int":null,"string":null,"Geo":{"lat":59.9,"lon":10.7},"array":null}}`,
	})
}
