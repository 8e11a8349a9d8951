package variant

import (
	"errors"
	"fmt"
)

// SyntaxError reports JSON text that Encoder.AppendJSON refuses, with where: records can
// be large, and a byte offset is what lets a user find the fault. The text is refused when
// it is not JSON (RFC 8259), when a string holds invalid UTF-8 or a lone surrogate escape,
// or when arrays and objects nest deeper than MaxDepth.
type SyntaxError struct {
	Offset int64 // byte offset in the input where the problem was found
	msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("variant: invalid JSON at byte %d: %s", e.Offset, e.msg)
}

// DuplicateKeyError reports an object with a key twice. It is an error, not last-wins,
// because the variant encoding cannot hold both fields and Spark's parse_json refuses such
// text too; silently dropping one would lose data.
type DuplicateKeyError struct {
	Key    string // the repeated key
	Offset int64  // byte offset of its second occurrence in the input
}

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("variant: duplicate object key %q at byte %d", e.Key, e.Offset)
}

// ErrTooLarge is returned (wrapped) by Encoder.AppendJSON when the metadata or the value
// would exceed Encoder.MaxSize, or the 4-byte offsets the encoding has: writing it would
// give a variant Spark cannot read, or no variant at all.
var ErrTooLarge = errors.New("variant: too large")

// MalformedError reports variant binaries that AppendJSON cannot decode. It names the
// binary and the byte offset so that a bad row can be diagnosed from the error alone.
type MalformedError struct {
	InMetadata bool // the problem is in the metadata binary, not the value
	Offset     int  // byte offset within that binary
	Reason     string
}

func (e *MalformedError) Error() string {
	part := "value"
	if e.InMetadata {
		part = "metadata"
	}
	return fmt.Sprintf("variant: malformed %s at byte %d: %s", part, e.Offset, e.Reason)
}
