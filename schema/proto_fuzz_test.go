package schema

import (
	"bytes"
	"errors"
	"hash/crc32"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// FuzzProtoDecode feeds arbitrary messages to a decoder of a message type with every
// kind of field, and holds it to the Go protobuf runtime as the reference:
//   - a message decodes into a complete row, or fails with a *ProtoError and leaves no
//     row behind;
//   - a message the decoder takes, the runtime parses too (the decoder is the stricter:
//     it refuses wire types a field's declaration forbids, and values its column cannot
//     hold), unless the runtime's reason is invalid UTF-8 in a value that a later one
//     replaced, which the decoder does not look at;
//   - for one accepted message in eight (chosen by content, so failures reproduce),
//     its row encodes to the same Parquet bytes as the row of the runtime's canonical
//     re-encoding of it: repeated scalars, split messages, packed and unpacked
//     elements, oneofs and repeated map keys resolve as Protobuf says. That row leaves
//     the map column out, as the canonical form sorts a map's entries and the decoder
//     keeps their order (TestProtoWireVariants checks maps).
func FuzzProtoDecode(f *testing.F) {
	md := protoMessage(f, parseProto(f, 7, eventProto), 1)
	buf, dec := newProtoDecoder(f, md)
	ts, err := ProtoTableSchema(md)
	if err != nil {
		f.Fatal(err)
	}
	ts.Fields = slices.DeleteFunc(ts.Fields, func(c *table.StructField) bool { return c.Name == "counts" })
	cmpBuf := newAvroBuffer(f, ts)
	cmpDec, err := NewProtoDecoder(md, 7, cmpBuf, cmpBuf.Columns(), ProtoOptions{})
	if err != nil {
		f.Fatal(err)
	}
	for _, text := range []string{
		`{"id":"1","user":"u","ts":"2024-05-06T07:08:09Z","big":"5","color":"RED","addr":{"city":"c"},"nums":[1,2],"addrs":[{"zip":1}],
		  "counts":{"a":"1","b":"2"},"place":{"city":"p"},"maybe":3,"attrs":{"x":[1,null]},"day":{"year":2024,"month":1,"day":2},"inner":{"k":"v"}}`,
		`{"text":"t","took":"3s","delta":"-5","f32":7,"sf64":"-1","ratio":1.5,"u32":9,"note":"","blob":"AQI="}`,
		`{}`,
	} {
		f.Add(protoFromJSON(f, md, text))
	}
	f.Add([]byte{0x62, 0x02, 0x08, 0x01, 0x62, 0x01, 0x02}) // a packed list spread over two fields
	f.Add([]byte{0x72, 0x02, 0x10, 0x03, 0x72, 0x00})       // map entries without key or value

	f.Fuzz(func(t *testing.T, data []byte) {
		if buf.Rows() > 1000 {
			for _, p := range buf.Take() {
				p.Release()
			}
		}
		rows := buf.Rows()
		err := dec.Decode(data)
		if err != nil {
			var pe *ProtoError
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T, not *ProtoError: %v", err, err)
			}
			if pe.Offset < 0 || pe.Offset > len(data) {
				t.Fatalf("offset %d outside the %d-byte message: %v", pe.Offset, len(data), err)
			}
			buf.AbortRow()
			if buf.Rows() != rows {
				t.Fatalf("a failed decode left %d rows, had %d", buf.Rows(), rows)
			}
			return
		}
		if err := buf.EndRow(); err != nil {
			t.Fatalf("Decode accepted a row EndRow refuses: %v", err)
		}
		ref := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(data, ref); err != nil {
			if strings.Contains(err.Error(), "invalid UTF-8") {
				return // in a value a later one replaced: the decoder checks only what it keeps
			}
			t.Fatalf("the decoder took a message the Go runtime refuses (%v): % x", err, data)
		}
		if crc32.ChecksumIEEE(data)%8 != 0 {
			return
		}
		canonical, err := proto.MarshalOptions{Deterministic: true}.Marshal(ref)
		if err != nil {
			t.Fatal(err)
		}
		got, want := protoRow(t, cmpBuf, cmpDec, data), protoRow(t, cmpBuf, cmpDec, canonical)
		if !bytes.Equal(got, want) {
			t.Fatalf("% x decodes unlike its canonical form % x", data, canonical)
		}
	})
}

// protoRow decodes msg into an emptied buffer and returns the Parquet file of that one
// row, to compare decodes byte for byte.
func protoRow(t *testing.T, buf *writer.Buffer, dec *ProtoDecoder, msg []byte) []byte {
	for _, p := range buf.Take() {
		p.Release()
	}
	decodeProtoRows(t, buf, dec, msg)
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
