package writer

import (
	"encoding/binary"
	"fmt"

	"github.com/sluicelake/sluice/table"
)

// Row keys identify the rows of an upsert table by the values of its key columns. A
// key is the concatenation of one encoded value per key column: a null is the byte 0;
// a value is the byte 1, then an integer-valued column's value (integer types, date,
// timestamp, boolean) as 8 bytes big-endian, or a string or binary column's length as
// a uvarint and its bytes. The same values give the same key whichever Parquet
// physical type held them (an integer widened to a long, say).

// KeyType reports whether a column of type t can be a key column.
func KeyType(t table.DataType) bool {
	switch t {
	case table.Byte, table.Short, table.Integer, table.Long, table.String, table.Binary,
		table.Date, table.Timestamp, table.TimestampNTZ, table.Boolean:
		return true
	}
	return false
}

// AppendKeyNull appends a null key value.
func AppendKeyNull(dst []byte) []byte { return append(dst, 0) }

// AppendKeyInt appends an integer-valued key value.
func AppendKeyInt(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 1), uint64(v))
}

// AppendKeyBytes appends a string or binary key value.
func AppendKeyBytes(dst, v []byte) []byte {
	dst = binary.AppendUvarint(append(dst, 1), uint64(len(v)))
	return append(dst, v...)
}

// AppendKey appends the key of the row being built (before EndRow or AbortRow) from
// the given top-level columns, which must be of a KeyType. A column the row did not
// set is null; nulls is true when a column is.
func (b *Buffer) AppendKey(dst []byte, cols []int) (key []byte, nulls bool, err error) {
	for _, i := range cols {
		c := b.cols[i]
		if !KeyType(c.Type) {
			return dst, false, fmt.Errorf("column %q of type %s cannot be a key column", c.Name, c.Type)
		}
		s := &b.stage[i]
		switch {
		case s.state != stateSet:
			dst, nulls = AppendKeyNull(dst), true
		case c.Type == table.String || c.Type == table.Binary:
			dst = AppendKeyBytes(dst, s.b)
		default:
			dst = AppendKeyInt(dst, s.i)
		}
	}
	return dst, nulls, nil
}

// RowRef names a row appended to a Buffer: the partition it went to and its place
// among that partition's rows. It stays valid while the Pending holding it is.
type RowRef struct {
	part  *part
	index int
}

// Index is the row's place among its partition's rows (0 is the first): in the data
// files of its Pending, the row at FileInfo.FirstRow + i of the file holding it.
func (r RowRef) Index() int { return r.index }

// LastRow names the row the last successful EndRow appended.
func (b *Buffer) LastRow() RowRef { return b.last }

// Holds reports whether r is one of p's rows.
func (p *Pending) Holds(r RowRef) bool { return r.part != nil && r.part == p.part }

// StagedInt returns the value of an integer-valued column (a timestamp's microseconds,
// a date's days) in the row being built, before EndRow; ok is false when the row has
// none (null or not set).
func (b *Buffer) StagedInt(col int) (v int64, ok bool) {
	s := &b.stage[col]
	return s.i, s.state == stateSet
}
