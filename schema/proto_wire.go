package schema

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// A Protobuf payload in the Confluent wire format starts, after the 5-byte header, with
// the message indexes: which message type of the schema's file wrote it. They are a
// count then that many indexes, each a zig-zag varint; the common case, the file's first
// message, is the single byte 0 (count 0 stands for [0]).

// maxProtoIndexes bounds the nesting depth an index array may claim.
const maxProtoIndexes = 64

// SplitProtoIndexes splits a Protobuf payload (after ParseWire) into the raw bytes of
// its message indexes and the message itself; both alias payload. Equal raw bytes name
// the same message type, so a caller may key its decoders by them; ProtoIndexes reads
// them. A malformed index array is a *WireError.
func SplitProtoIndexes(payload []byte) (raw, msg []byte, err error) {
	count, n := protowire.ConsumeVarint(payload)
	if n < 0 {
		return nil, nil, &WireError{Reason: "the Protobuf message indexes are cut short"}
	}
	c := protowire.DecodeZigZag(count)
	if c < 0 || c > maxProtoIndexes {
		return nil, nil, &WireError{Reason: fmt.Sprintf("the Protobuf message indexes claim %d entries", c)}
	}
	pos := n
	for range c {
		v, n := protowire.ConsumeVarint(payload[pos:])
		if n < 0 {
			return nil, nil, &WireError{Reason: "the Protobuf message indexes are cut short"}
		}
		if i := protowire.DecodeZigZag(v); i < 0 || i > 1<<20 {
			return nil, nil, &WireError{Reason: fmt.Sprintf("a Protobuf message index is %d", i)}
		}
		pos += n
	}
	return payload[:pos], payload[pos:], nil
}

// ProtoIndexes reads raw message indexes (from SplitProtoIndexes) into the message path
// ProtoMessage takes.
func ProtoIndexes(raw []byte) []int {
	count, n := protowire.ConsumeVarint(raw)
	c := protowire.DecodeZigZag(count)
	if n < 0 || c <= 0 {
		return []int{0}
	}
	out := make([]int, 0, c)
	raw = raw[n:]
	for range c {
		v, n := protowire.ConsumeVarint(raw)
		if n < 0 {
			break
		}
		out = append(out, int(protowire.DecodeZigZag(v)))
		raw = raw[n:]
	}
	return out
}

// AppendProtoIndexes appends the message indexes of a message type (its path, as
// ProtoMessage takes it) to dst, as Confluent's serializers write them.
func AppendProtoIndexes(dst []byte, indexes []int) []byte {
	if len(indexes) == 0 || len(indexes) == 1 && indexes[0] == 0 {
		return append(dst, 0)
	}
	dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(int64(len(indexes))))
	for _, i := range indexes {
		dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(int64(i)))
	}
	return dst
}
