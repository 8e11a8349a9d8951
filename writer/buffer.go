// Package writer turns rows into Parquet data files with Delta statistics.
//
// Decoders (package schema) fill a Buffer row by row through typed setters addressed by
// column index; the Buffer splits rows by partition value into column buffers, and Take
// hands the buffered partitions out as Pending files that encode themselves to an
// io.Writer. The writer does no storage I/O; the connector uploads what it encodes.
package writer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sluicelake/sluice/table"
)

// Spec describes the rows a Buffer accepts.
type Spec struct {
	// Schema is the full table schema, partition and derived columns included.
	Schema *table.StructType
	// PartitionColumns are kept out of data files and become directories, in order.
	PartitionColumns []string
	// Derived maps a column name to the derivation that fills it.
	Derived map[string]*Derivation
}

// MissingValueError is returned by EndRow when a non-nullable column got no value.
type MissingValueError struct{ Column string }

func (e *MissingValueError) Error() string {
	return fmt.Sprintf("column %q is not nullable but the message has no value for it", e.Column)
}

// Buffer accumulates rows for one table, split by partition. It is not safe for
// concurrent use.
type Buffer struct {
	spec    Spec
	cfg     Config
	cols    []*Column
	byName  map[string]int
	partIdx []int // indices of partition columns, in partition order
	dataIdx []int // indices of data-file columns, in schema order
	derived []int // indices of derived columns, in schema order

	stage []staged // the row being built

	keyBuf []byte
	parts  map[string]*part
	order  []*part // parts in creation order, for deterministic output
	rows   int
	bytes  int64
	first  time.Time // when the oldest buffered row was added
}

// staged is one column's value in the row being built.
type staged struct {
	state uint8 // stateUnset, stateNull, stateSet
	i     int64
	f     float64
	b     []byte
}

const (
	stateUnset uint8 = iota
	stateNull
	stateSet
)

// NewBuffer checks spec and returns an empty buffer.
func NewBuffer(spec Spec, cfg Config) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Buffer{spec: spec, cfg: cfg, byName: map[string]int{}, parts: map[string]*part{}}
	for i, f := range spec.Schema.Fields {
		c, err := newColumn(i, f)
		if err != nil {
			return nil, err
		}
		b.cols = append(b.cols, c)
		b.byName[f.Name] = i
	}
	for _, p := range spec.PartitionColumns {
		i, ok := b.byName[p]
		if !ok {
			return nil, fmt.Errorf("partition column %q is not in the schema", p)
		}
		if b.cols[i].Type == table.Binary {
			return nil, fmt.Errorf("partition column %q: binary columns cannot be partition columns", p)
		}
		b.cols[i].Partition = true
		b.partIdx = append(b.partIdx, i)
	}
	for _, c := range b.cols {
		if !c.Partition {
			b.dataIdx = append(b.dataIdx, c.Index)
		}
	}
	if len(b.dataIdx) == 0 {
		return nil, errors.New("every column is a partition column; data files need at least one data column")
	}
	for name, d := range spec.Derived {
		i, ok := b.byName[name]
		if !ok {
			return nil, fmt.Errorf("derived column %q is not in the schema", name)
		}
		src, ok := b.byName[d.Source]
		if !ok {
			return nil, fmt.Errorf("derived column %q: source column %q is not in the schema", name, d.Source)
		}
		rt, err := d.ResultType(b.cols[src].Type)
		if err != nil {
			return nil, fmt.Errorf("derived column %q: %w", name, err)
		}
		if rt != b.cols[i].Type {
			return nil, fmt.Errorf("derived column %q: %s(%s) is a %s but the column is %s", name, d.Func, d.Source, rt, b.cols[i].Type)
		}
		dd := *d
		dd.source = src
		b.cols[i].Derived = &dd
	}
	for _, c := range b.cols {
		if c.Derived != nil {
			b.derived = append(b.derived, c.Index)
		}
	}
	b.stage = make([]staged, len(b.cols))
	return b, nil
}

// Columns describes the buffer's columns in schema order.
func (b *Buffer) Columns() []*Column { return b.cols }

// Column returns the column with this name, or nil.
func (b *Buffer) Column(name string) *Column {
	if i, ok := b.byName[name]; ok {
		return b.cols[i]
	}
	return nil
}

// Spec returns the spec the buffer was built from.
func (b *Buffer) Spec() Spec { return b.spec }

// Rows is the number of complete buffered rows.
func (b *Buffer) Rows() int { return b.rows }

// Bytes estimates the memory the buffered values hold.
func (b *Buffer) Bytes() int64 { return b.bytes }

// Oldest is when the oldest buffered row was added (zero when empty).
func (b *Buffer) Oldest() time.Time { return b.first }

// SetNull sets the column of the current row to null.
func (b *Buffer) SetNull(col int) { b.stage[col].state = stateNull }

// SetInt sets an integer-valued column: long, integer, short, byte, the days since the
// epoch of a date, the microseconds since the epoch of a timestamp, or the unscaled
// value of a decimal. The caller checks the value against Column.IntRange.
func (b *Buffer) SetInt(col int, v int64) {
	s := &b.stage[col]
	s.state, s.i = stateSet, v
}

// SetFloat sets a float or double column.
func (b *Buffer) SetFloat(col int, v float64) {
	s := &b.stage[col]
	s.state, s.f = stateSet, v
}

// SetBool sets a boolean column.
func (b *Buffer) SetBool(col int, v bool) {
	s := &b.stage[col]
	s.state = stateSet
	if v {
		s.i = 1
	} else {
		s.i = 0
	}
}

// SetBytes sets a string or binary column; v is copied.
func (b *Buffer) SetBytes(col int, v []byte) {
	s := &b.stage[col]
	s.state = stateSet
	s.b = append(s.b[:0], v...)
}

// IsSet reports whether the current row has a value (or null) for the column.
func (b *Buffer) IsSet(col int) bool { return b.stage[col].state != stateUnset }

// AbortRow discards the current row.
func (b *Buffer) AbortRow() {
	for i := range b.stage {
		b.stage[i].state = stateUnset
	}
}

// EndRow completes the current row: missing nullable columns become null, derived
// columns are computed, and the row is appended to its partition. A missing value for a
// non-nullable column returns *MissingValueError and discards the row.
func (b *Buffer) EndRow() error {
	for _, i := range b.derived {
		c := b.cols[i]
		src := &b.stage[c.Derived.source]
		if src.state != stateSet {
			b.stage[i].state = stateNull
			continue
		}
		b.stage[i].state, b.stage[i].i = stateSet, c.Derived.eval(b.cols[c.Derived.source].Type, src.i)
	}
	for i := range b.stage {
		if b.stage[i].state == stateSet {
			continue
		}
		if !b.cols[i].Nullable {
			b.AbortRow()
			return &MissingValueError{Column: b.cols[i].Name}
		}
		b.stage[i].state = stateNull
	}
	p := b.partition()
	for _, i := range b.dataIdx {
		b.bytes += p.cols[i].append(b.cols[i], &b.stage[i])
		b.stage[i].state = stateUnset
	}
	for _, i := range b.partIdx {
		b.stage[i].state = stateUnset
	}
	p.rows++
	b.rows++
	if b.rows == 1 {
		b.first = time.Now()
	}
	return nil
}

// partition returns the part for the staged row's partition values, creating it.
func (b *Buffer) partition() *part {
	if len(b.partIdx) == 0 {
		if len(b.order) == 0 {
			b.newPart("", nil)
		}
		return b.order[0]
	}
	k := b.keyBuf[:0]
	for _, i := range b.partIdx {
		s := &b.stage[i]
		if s.state != stateSet {
			k = append(k, 0)
			continue
		}
		k = append(k, 1)
		switch b.cols[i].kind {
		case kindBytes:
			k = binary.AppendUvarint(k, uint64(len(s.b)))
			k = append(k, s.b...)
		case kindFloat, kindDouble:
			k = binary.LittleEndian.AppendUint64(k, math.Float64bits(s.f))
		default:
			k = binary.LittleEndian.AppendUint64(k, uint64(s.i))
		}
	}
	b.keyBuf = k
	if p, ok := b.parts[string(k)]; ok {
		return p
	}
	values := make([]*string, len(b.partIdx))
	for j, i := range b.partIdx {
		values[j] = partitionValue(b.cols[i], &b.stage[i])
	}
	return b.newPart(string(k), values)
}

func (b *Buffer) newPart(key string, values []*string) *part {
	p := &part{values: values, cols: make([]colData, len(b.cols))}
	b.parts[key] = p
	b.order = append(b.order, p)
	return p
}

// partitionValue serializes a partition value as the Delta protocol specifies.
// Empty strings become null, as Spark writes them.
func partitionValue(c *Column, s *staged) *string {
	if s.state != stateSet {
		return nil
	}
	var v string
	switch t := c.Type.(type) {
	case *table.DecimalType:
		v = formatDecimal(s.i, t.Scale)
	case table.PrimitiveType:
		switch t {
		case table.String:
			if len(s.b) == 0 {
				return nil
			}
			v = string(s.b)
		case table.Boolean:
			v = strconv.FormatBool(s.i != 0)
		case table.Float:
			v = strconv.FormatFloat(s.f, 'g', -1, 32)
		case table.Double:
			v = strconv.FormatFloat(s.f, 'g', -1, 64)
		case table.Date:
			v = formatDate(s.i)
		case table.Timestamp:
			v = time.UnixMicro(s.i).UTC().Format("2006-01-02 15:04:05.999999")
		case table.TimestampNTZ:
			v = time.UnixMicro(s.i).UTC().Format("2006-01-02 15:04:05.999999")
		default:
			v = strconv.FormatInt(s.i, 10)
		}
	}
	return &v
}

func formatDate(days int64) string {
	return time.Unix(days*86400, 0).UTC().Format("2006-01-02")
}

// formatDecimal renders an unscaled value with scale digits after the point.
func formatDecimal(unscaled int64, scale int) string {
	s := strconv.FormatInt(unscaled, 10)
	if scale == 0 {
		return s
	}
	neg := unscaled < 0
	if neg {
		s = s[1:]
	}
	for len(s) <= scale {
		s = "0" + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	if neg {
		s = "-" + s
	}
	return s
}

// Take hands out the buffered partitions as pending files and empties the buffer.
func (b *Buffer) Take() []*Pending {
	out := make([]*Pending, 0, len(b.order))
	for _, p := range b.order {
		pf := &Pending{buf: b, part: p, Rows: p.rows}
		if len(b.partIdx) > 0 {
			pf.Dir = table.PartitionDir(b.spec.PartitionColumns, p.values)
			pf.PartitionValues = make(map[string]*string, len(b.partIdx))
			for j, name := range b.spec.PartitionColumns {
				pf.PartitionValues[name] = p.values[j]
			}
		} else {
			pf.PartitionValues = map[string]*string{}
		}
		out = append(out, pf)
	}
	b.parts = map[string]*part{}
	b.order = nil
	b.rows = 0
	b.bytes = 0
	b.first = time.Time{}
	return out
}
