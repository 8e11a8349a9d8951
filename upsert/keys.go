// Package upsert finds the live rows of a Delta table that hold given keys, so that a
// keyed write (an upsert or a delete by key) can mark them deleted with deletion
// vectors and add the new rows in the same commit: merge-on-read, as Spark's MERGE
// with deletion vectors. The connector's committer calls it once per flush of an
// upsert table; it reads only the key columns of the files whose statistics and
// bloom filters may hold a key of the batch.
package upsert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/sluicelake/sluice/table"
)

// Column is a key column: its logical name, its name in data files and statistics
// (the physical name under column mapping) and its type (a writer.KeyType).
type Column struct {
	Name     string
	Physical string
	Type     table.DataType
}

// Columns returns the key columns names in snap's schema.
func Columns(schema *table.StructType, names []string) ([]Column, error) {
	out := make([]Column, 0, len(names))
	for _, n := range names {
		f := schema.Field(n)
		if f == nil {
			return nil, fmt.Errorf("key column %q is not a column of the table", n)
		}
		out = append(out, Column{Name: f.Name, Physical: f.PhysicalName(), Type: f.Type})
	}
	return out, nil
}

// KeySet is the keys a batch changes, encoded as writer.AppendKey encodes them.
type KeySet struct {
	cols []Column
	keys map[string]struct{}
	// byFirst holds the keys, decoded, sorted by the first column, to find the keys a
	// file's statistics admit without looking at every key.
	byFirst []keyEntry
}

// keyEntry is one key of a set: its values and its encoding.
type keyEntry struct {
	vals []keyValue
	enc  string
}

// keyValue is one column's decoded value: an integer or bytes, or null.
type keyValue struct {
	null bool
	i    int64
	b    []byte
}

func compareValues(a, b keyValue, isBytes bool) int {
	switch {
	case a.null || b.null:
		if a.null == b.null {
			return 0
		}
		if a.null {
			return -1
		}
		return 1
	case isBytes:
		return bytes.Compare(a.b, b.b)
	case a.i < b.i:
		return -1
	case a.i > b.i:
		return 1
	}
	return 0
}

func isBytesType(t table.DataType) bool { return t == table.String || t == table.Binary }

// NewKeySet builds the set of encoded keys over cols.
func NewKeySet(cols []Column, keys []string) (*KeySet, error) {
	ks := &KeySet{cols: cols, keys: make(map[string]struct{}, len(keys))}
	for _, k := range keys {
		vals, err := decodeKey([]byte(k), cols)
		if err != nil {
			return nil, err
		}
		ks.keys[k] = struct{}{}
		ks.byFirst = append(ks.byFirst, keyEntry{vals: vals, enc: k})
	}
	first := len(cols) > 0 && isBytesType(cols[0].Type)
	slices.SortFunc(ks.byFirst, func(a, b keyEntry) int { return compareValues(a.vals[0], b.vals[0], first) })
	return ks, nil
}

// Len is the number of keys.
func (ks *KeySet) Len() int { return len(ks.keys) }

// Has reports whether key is in the set.
func (ks *KeySet) Has(key []byte) bool {
	_, ok := ks.keys[string(key)]
	return ok
}

var errBadKey = errors.New("upsert: malformed key")

// decodeKey splits an encoded key into one value per column.
func decodeKey(k []byte, cols []Column) ([]keyValue, error) {
	out := make([]keyValue, len(cols))
	for i, c := range cols {
		if len(k) == 0 {
			return nil, errBadKey
		}
		tag := k[0]
		k = k[1:]
		switch {
		case tag == 0:
			out[i].null = true
		case tag != 1:
			return nil, errBadKey
		case isBytesType(c.Type):
			l, m := binary.Uvarint(k)
			if m <= 0 || uint64(len(k)-m) < l {
				return nil, errBadKey
			}
			out[i].b = k[m : m+int(l)]
			k = k[m+int(l):]
		default:
			if len(k) < 8 {
				return nil, errBadKey
			}
			out[i].i = int64(binary.BigEndian.Uint64(k))
			k = k[8:]
		}
	}
	if len(k) != 0 {
		return nil, errBadKey
	}
	return out, nil
}
