// Package writer turns rows into Parquet data files with Delta statistics.
//
// Decoders (package schema) fill a Buffer row by row: primitive top-level columns with
// typed setters addressed by column index, struct, list and map columns through the
// Nest builder. At EndRow the Buffer computes derived columns, finds the row's
// partition and shreds the row into per-leaf column buffers (values plus Parquet
// definition and repetition levels). Take hands the partitions out as Pending files
// that encode themselves to an io.Writer. Nothing on the append path allocates once
// the buffers have grown; the writer does no storage I/O.
package writer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/expr"
	"github.com/sluicelake/sluice/table/variant"
)

// Spec describes the rows a Buffer accepts.
type Spec struct {
	// Schema is the full table schema, partition and derived columns included.
	Schema *table.StructType
	// PartitionColumns are kept out of data files and become directories, in order.
	PartitionColumns []string
	// Derived maps a column name to the derivation that fills it.
	Derived map[string]*Derivation
	// ColumnMapping writes for a table with column mapping (mode name or id): the data
	// files name every column, nested fields included, by its physical name and carry
	// its column id as the Parquet field id, and statistics and partition values are
	// keyed by physical names. Every field of Schema must have an id then. Columns are
	// still addressed by their display names (Columns, decoders, partition
	// directories). Defaults to false: files and keys use the display names.
	ColumnMapping bool
	// Rules are the CHECK constraints and column invariants every row must satisfy
	// (table.Rules); a row that breaks one is refused with *RuleError. Generated
	// columns (delta.generationExpression in a top-level field's metadata) need no
	// entry: a row without a value (or with NULL) for one gets the expression's, a row
	// with another value is refused with *RuleError.
	Rules []table.Rule
	// BloomFilters lists top-level columns whose data files get a Parquet bloom filter
	// (split block, 10 bits per value: about 1% false positives), which key lookups
	// read to skip files without a key. Defaults to none.
	BloomFilters []string
}

// ValueError is a row the Buffer refuses: a missing or null value for a non-nullable
// field, a value out of range for its type, or a value of the wrong kind.
type ValueError struct {
	Path string // dotted column path: "payload.items.element.qty"
	Msg  string
}

func (e *ValueError) Error() string { return fmt.Sprintf("column %q: %s", e.Path, e.Msg) }

// MissingValueError is returned by EndRow when a non-nullable top-level column got no
// value.
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
	voids   []int // indices of void columns, in no data file: always null
	leaves  []*leaf
	roots   []*snode // data columns' schema nodes, in dataIdx order
	// The data files' Parquet schema and codec, the same for every file; the codec's
	// pool of encoders is safe for concurrent Encode calls.
	fileSchema *parquet.Schema
	codec      compress.Codec
	blooms     []parquet.BloomFilterColumn

	stage     []staged // the row being built: primitive columns
	nest      Nest     // the row being built: nested columns
	variant   variant.Encoder
	exprKinds []expr.Kind    // per column: its kind in expressions (0: expressions cannot read it)
	rules     []compiledRule // generated columns, then Spec.Rules
	// statNodeList and statIndex are the fields that get statistics (statNodes), built
	// by NewBuffer and read-only after.
	statNodeList []*snode
	statIndex    map[*snode]int
	nodeStage    staged // scratch for shredding one nested value
	variantStage staged // scratch for appending a variant's two leaves
	err          error  // first error of the row being built

	keyBuf []byte
	parts  map[string]*part
	order  []*part // parts in creation order, for deterministic output
	// pool holds released parts whose memory the next rows reuse. Pending.Release may
	// run on another goroutine (the one that encoded the file), hence the lock.
	poolMu  sync.Mutex
	pool    []*part
	pooled  int64 // capacity bytes held by pool
	dropped bool  // DropReuse was called: keep nothing more
	rows    int
	bytes   int64
	mem     int64  // memory the parts hold: each part's bytes, or its floor if larger
	last    RowRef // the row the last EndRow appended
}

// staged is one column's value in the row being built.
type staged struct {
	state uint8 // stateUnset, stateNull, stateSet, stateNested
	i     int64
	f     float64
	b     []byte
	root  int32 // nested: the root node of the value tree
	// vmeta and vvalue are a variant column's value, encoded from the JSON text in b.
	vmeta, vvalue []byte
}

const (
	stateUnset uint8 = iota
	stateNull
	stateSet
	stateNested
)

// NewBuffer checks spec and returns an empty buffer.
func NewBuffer(spec Spec, cfg Config) (*Buffer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	codec, err := cfg.codec()
	if err != nil {
		return nil, err
	}
	b := &Buffer{spec: spec, cfg: cfg, codec: codec, byName: map[string]int{}, parts: map[string]*part{}}
	for i, f := range spec.Schema.Fields {
		// A void column holds only null, whatever its field says (table.Void).
		b.cols = append(b.cols, &Column{Index: i, Name: f.Name, Type: f.Type, Nullable: f.Nullable || f.Type == table.Void})
		b.byName[f.Name] = i
	}
	for _, p := range spec.PartitionColumns {
		i, ok := b.byName[p]
		if !ok {
			return nil, fmt.Errorf("partition column %q is not in the schema", p)
		}
		c := b.cols[i]
		if c.Type == table.Void {
			return nil, fmt.Errorf("partition column %q is void (every value null): a void column cannot be a partition column", p)
		}
		if _, err := leafKind(c.Type); err != nil || c.Type == table.Binary {
			return nil, fmt.Errorf("partition column %q: a %s column cannot be a partition column", p, c.Type)
		}
		c.Partition = true
		b.partIdx = append(b.partIdx, i)
	}
	// Data columns are shredded into leaves; partition columns get a detached node.
	st := schemaTree{mapping: spec.ColumnMapping}
	for _, c := range b.cols {
		if c.Partition {
			pt := schemaTree{mapping: spec.ColumnMapping}
			n, err := pt.buildField(c.Name, spec.Schema.Fields[c.Index], 0, 0, false)
			if err != nil {
				return nil, err
			}
			c.node = n
			continue
		}
		n, err := st.buildField(c.Name, spec.Schema.Fields[c.Index], 0, 0, false)
		if err != nil {
			return nil, err
		}
		c.node = n
		if n.void {
			b.voids = append(b.voids, c.Index)
			continue
		}
		b.dataIdx = append(b.dataIdx, c.Index)
		b.roots = append(b.roots, n)
	}
	b.leaves = st.leaves
	if len(b.dataIdx) == 0 {
		return nil, errors.New("every column is a partition or void column; data files need at least one data column")
	}
	names := make([]string, len(b.dataIdx))
	nodes := make([]parquet.Node, len(b.dataIdx))
	for j, i := range b.dataIdx {
		names[j], nodes[j] = b.cols[i].node.name, b.roots[j].parquetNode(cfg.Dictionary)
	}
	b.fileSchema = parquet.NewSchema("spark_schema", newGroup(names, nodes))
	for _, name := range spec.BloomFilters {
		i, ok := b.byName[name]
		if !ok || b.cols[i].node == nil || b.cols[i].node.leaf == nil || slices.Contains(b.partIdx, i) {
			return nil, fmt.Errorf("writer: bloom filter on %q: not a primitive data column", name)
		}
		b.blooms = append(b.blooms, parquet.SplitBlockFilter(10, b.cols[i].node.name))
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
	b.nest.b = b
	if err := b.compileRules(); err != nil {
		return nil, err
	}
	b.statNodes() // built now: files may be encoded on other goroutines
	return b, nil
}

// Columns describes the buffer's columns in schema order.
func (b *Buffer) Columns() []*Column { return b.cols }

// Rows is the number of complete buffered rows.
func (b *Buffer) Rows() int { return b.rows }

// Bytes estimates the memory the buffered values hold: how large their files will be,
// roughly, before compression.
func (b *Buffer) Bytes() int64 { return b.bytes }

// Memory is the memory the buffered rows hold: Bytes, or more while rows fill memory
// taken from the reuse pool (which Config.Reused stops counting as it is taken).
func (b *Buffer) Memory() int64 { return b.mem }

// grew accounts n more estimated bytes in part p.
func (b *Buffer) grew(p *part, n int64) {
	b.mem += max(0, p.bytes+n-p.floor) - max(0, p.bytes-p.floor)
	p.bytes += n
}

func (b *Buffer) fail(path, format string, args ...any) {
	if b.err == nil {
		b.err = &ValueError{Path: path, Msg: fmt.Sprintf(format, args...)}
	}
}

// SetNull sets a top-level column of the current row to null.
func (b *Buffer) SetNull(col int) { b.stage[col].state = stateNull }

// SetInt sets an integer-valued primitive column: long, integer, short, byte, the days
// since the epoch of a date, the microseconds since the epoch of a timestamp, or the
// unscaled value of a decimal(p<=18). Values outside IntRange fail the row.
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
	s.state, s.i = stateSet, 0
	if v {
		s.i = 1
	}
}

// SetBytes sets a string or binary column, or a decimal(p>18) column to its unscaled
// value in big-endian two's complement (any length; it is sign-extended). v is copied.
func (b *Buffer) SetBytes(col int, v []byte) {
	s := &b.stage[col]
	s.state = stateSet
	s.b = append(s.b[:0], v...)
}

// Nested starts (or restarts) the value of a struct, list or map column in the current
// row and returns its builder.
func (b *Buffer) Nested(col int) *Nest {
	b.nest.start(col)
	return &b.nest
}

// AbortRow discards the current row.
func (b *Buffer) AbortRow() {
	for i := range b.stage {
		b.stage[i].state = stateUnset
	}
	b.nest.reset()
	b.err = nil
}

// EndRow completes the current row: missing nullable columns become null, derived
// columns are computed, and the row is appended to its partition. A row that breaks
// the schema returns *MissingValueError or *ValueError and is discarded whole.
func (b *Buffer) EndRow() error {
	if err := b.validateRow(); err != nil {
		b.AbortRow()
		return err
	}
	p := b.partition()
	before := b.bytes
	for j, i := range b.dataIdx {
		s := &b.stage[i]
		n := b.roots[j]
		if n.variant {
			b.bytes += b.appendVariant(p, n, s)
		} else if n.leaf != nil {
			l := n.leaf
			if s.state == stateSet {
				b.bytes += p.leaves[l.index].appendValue(l, 0, n.def, s)
			} else {
				b.bytes += p.leaves[l.index].appendNull(l, 0, 0)
			}
		} else {
			root := int32(-1)
			if s.state == stateNested {
				root = s.root
			}
			b.shred(p, n, root, 0, 0)
		}
		s.state = stateUnset
	}
	for _, i := range b.partIdx {
		b.stage[i].state = stateUnset
	}
	for _, i := range b.voids {
		b.stage[i].state = stateUnset
	}
	b.nest.reset()
	b.grew(p, b.bytes-before)
	b.last = RowRef{part: p, index: p.rows}
	p.rows++
	b.rows++
	return nil
}

// validateRow fills derived columns and checks every top-level value before anything
// is appended, so a bad row never leaves a partial row behind.
func (b *Buffer) validateRow() error {
	if b.nest.depth() > 0 {
		b.fail(b.cols[b.nest.col].Name, "value not finished (unbalanced Begin/End)")
	}
	if b.err != nil {
		return b.err
	}
	for _, i := range b.derived {
		c := b.cols[i]
		src := &b.stage[c.Derived.source]
		if src.state != stateSet {
			b.stage[i].state = stateNull
			continue
		}
		b.stage[i].state, b.stage[i].i = stateSet, c.Derived.eval(b.cols[c.Derived.source].Type, src.i)
	}
	if len(b.rules) > 0 {
		if err := b.applyRules(); err != nil {
			return err
		}
	}
	for i := range b.stage {
		s := &b.stage[i]
		c := b.cols[i]
		switch s.state {
		case stateSet:
			if c.node.void {
				return &ValueError{Path: c.Name, Msg: "a void column holds only null"}
			}
			if c.node.variant {
				if err := b.encodeVariant(c, s); err != nil {
					return err
				}
				continue
			}
			if c.node.leaf == nil {
				return &ValueError{Path: c.Name, Msg: fmt.Sprintf("a %s column needs a nested value", c.Type)}
			}
			if err := checkPrimitive(c.node.leaf, s); err != nil {
				return err
			}
		case stateNested:
			if c.node.leaf != nil || c.node.variant {
				return &ValueError{Path: c.Name, Msg: fmt.Sprintf("a %s column cannot hold a nested value", c.Type)}
			}
		default:
			if !c.Nullable {
				return &MissingValueError{Column: c.Name}
			}
			s.state = stateNull
		}
	}
	return nil
}

// checkPrimitive checks a staged value against its leaf type, and sign-extends wide
// decimals to their fixed length.
func checkPrimitive(l *leaf, s *staged) error {
	switch l.kind {
	case kindInt32, kindInt64:
		if s.i < l.minInt || s.i > l.maxInt {
			return &ValueError{Path: l.path, Msg: fmt.Sprintf("%d is out of range for %s", s.i, l.typ)}
		}
	case kindFloat:
		if !math.IsInf(s.f, 0) && !math.IsNaN(s.f) && math.Abs(s.f) > math.MaxFloat32 {
			return &ValueError{Path: l.path, Msg: fmt.Sprintf("%g is out of range for float", s.f)}
		}
	case kindBytes:
		if l.fixedLen > 0 {
			ext, ok := signExtend(s.b, l.fixedLen)
			if !ok {
				return &ValueError{Path: l.path, Msg: fmt.Sprintf("value does not fit %s", l.typ)}
			}
			s.b = ext
		}
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
		if s.state != stateSet || (b.cols[i].Type == table.String && len(s.b) == 0) {
			k = append(k, 0)
			continue
		}
		k = append(k, 1)
		switch b.cols[i].node.leaf.kind {
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
	var p *part
	var c int64
	b.poolMu.Lock()
	if n := len(b.pool); n > 0 {
		p = b.pool[n-1]
		b.pool = b.pool[:n-1]
		c = p.capacity()
		b.unpool(c)
	}
	b.poolMu.Unlock()
	if p != nil {
		p.reset(values)
		p.floor = c // its memory moves from the pool to the buffer
		b.mem += c
	} else {
		p = &part{values: values, leaves: make([]leafData, len(b.leaves))}
	}
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
		if c.node.leaf.kind == kindBytes {
			v = formatBigDecimal(s.b, t.Scale)
		} else {
			v = formatDecimal(s.i, t.Scale)
		}
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
		case table.Timestamp, table.TimestampNTZ:
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

// release takes back the memory of an encoded part, up to Config.ReuseBytes (and, with
// Config.Reused, up to ReusedMax over every buffer sharing the counter).
func (b *Buffer) release(p *part) {
	c := p.capacity()
	b.poolMu.Lock()
	defer b.poolMu.Unlock()
	if b.dropped || b.pooled+c > b.cfg.ReuseBytes {
		return
	}
	if r := b.cfg.Reused; r != nil && r.Add(c) > b.cfg.ReusedMax {
		r.Add(-c) // other buffers keep enough
		return
	}
	b.pool = append(b.pool, p)
	b.pooled += c
}

// unpool takes n bytes off the pool's size, in Config.Reused too; poolMu is held.
func (b *Buffer) unpool(n int64) {
	b.pooled -= n
	if b.cfg.Reused != nil {
		b.cfg.Reused.Add(-n)
	}
}

// DropReuse lets the memory kept for reuse go, and keeps none from files released
// later: for a Buffer that is being replaced (its files may still be encoding).
func (b *Buffer) DropReuse() {
	b.poolMu.Lock()
	defer b.poolMu.Unlock()
	b.unpool(b.pooled)
	b.pool, b.dropped = nil, true
}

// Take hands out the buffered partitions as pending files and empties the buffer.
func (b *Buffer) Take() []*Pending {
	out := make([]*Pending, 0, len(b.order))
	for _, p := range b.order {
		pf := &Pending{buf: b, part: p, Rows: p.rows, cursors: make([]cursor, len(b.leaves))}
		if len(b.partIdx) > 0 {
			pf.Dir = table.PartitionDir(b.spec.PartitionColumns, p.values)
			pf.PartitionValues = make(map[string]*string, len(b.partIdx))
			for j, i := range b.partIdx {
				pf.PartitionValues[b.cols[i].node.name] = p.values[j]
			}
		} else {
			pf.PartitionValues = map[string]*string{}
		}
		out = append(out, pf)
	}
	b.parts = map[string]*part{}
	b.order = nil
	b.rows = 0
	b.bytes, b.mem = 0, 0
	return out
}
