package schema

import (
	"encoding/binary"
	"fmt"
)

// The Confluent wire format frames every registry-encoded Kafka message value:
//
//	byte 0     magic byte, always 0
//	bytes 1-4  schema id, big-endian int32
//	bytes 5-   payload (Avro binary, JSON, or Protobuf with message indexes)
const (
	wireMagic     = 0
	wireHeaderLen = 5
)

// ParseWire splits a Confluent-framed message into its schema id and payload. The payload
// aliases msg; nothing is allocated unless msg is malformed, in which case the error is a
// *WireError.
func ParseWire(msg []byte) (schemaID int32, payload []byte, err error) {
	if len(msg) < wireHeaderLen {
		return 0, nil, shortWire(len(msg))
	}
	if msg[0] != wireMagic {
		return 0, nil, badMagic(msg[0])
	}
	return int32(binary.BigEndian.Uint32(msg[1:wireHeaderLen])), msg[wireHeaderLen:], nil
}

// AppendWire appends the wire header for schema id and then payload to dst, and returns
// the extended slice.
func AppendWire(dst []byte, id int32, payload []byte) []byte {
	dst = append(dst, wireMagic)
	dst = binary.BigEndian.AppendUint32(dst, uint32(id))
	return append(dst, payload...)
}

func shortWire(n int) error {
	if n == 0 {
		return &WireError{Reason: "message is empty (a tombstone or null value?)"}
	}
	return &WireError{Reason: fmt.Sprintf("message is %d bytes, shorter than the 5-byte header (magic byte 0, 4-byte schema id)", n)}
}

func badMagic(b byte) error {
	reason := fmt.Sprintf("first byte is 0x%02x, not the magic byte 0x00", b)
	switch b {
	case '{', '[', '"':
		reason += " (plain JSON, written without a schema registry serializer?)"
	}
	return &WireError{Reason: reason}
}
