package writer

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/parquet-go/parquet-go"
)

// Pending is one partition's buffered rows, ready to be encoded as one or more data
// files (Config.TargetFileSize rolls them).
type Pending struct {
	// Dir is the Hive-style partition directory ("day=2024-01-01"), "" when unpartitioned.
	Dir string
	// PartitionValues are the serialized partition values (nil for null), keyed by
	// physical name under Spec.ColumnMapping.
	PartitionValues map[string]*string
	// Rows is the number of rows.
	Rows int

	buf     *Buffer
	part    *part
	cursors []cursor // next entry and value of each leaf
	done    int      // rows encoded so far
}

// FileInfo describes an encoded data file.
type FileInfo struct {
	Size int64
	Rows int
	// FirstRow is the place of the file's first row among the Pending's rows: the file
	// holds rows FirstRow to FirstRow+Rows-1.
	FirstRow int
	Stats    string // add.stats JSON
}

// cursor is the position of the next entry and value to encode in a leaf.
type cursor struct{ entry, val int }

// Mark is a position in a Pending's rows, to encode a file again (Rewind) when writing
// it succeeded but storing it did not.
type Mark struct {
	cursors []cursor
	done    int
}

// Mark returns the current position.
func (p *Pending) Mark() Mark { return Mark{cursors: slices.Clone(p.cursors), done: p.done} }

// Rewind goes back to a position returned by Mark.
func (p *Pending) Rewind(m Mark) {
	copy(p.cursors, m.cursors)
	p.done = m.done
}

// Memory is the memory the rows hold (as Buffer.Memory counted it) until Release; 0
// after.
func (p *Pending) Memory() int64 {
	if p.part == nil {
		return 0
	}
	return max(p.part.bytes, p.part.floor)
}

// Release gives the rows' memory back to the Buffer for its next rows. Call it once
// the Pending is Done and not used any more; it is optional (without it the garbage
// collector takes the memory). Unlike the Buffer's other methods, it may be called from
// another goroutine than the one filling the Buffer.
func (p *Pending) Release() {
	if p.part != nil {
		p.buf.release(p.part)
		p.part = nil
	}
}

// Done reports whether every row has been encoded.
func (p *Pending) Done() bool { return p.done >= p.Rows }

// Encode writes the next data file to w: the remaining rows, or as many whole row
// groups as fit Config.TargetFileSize. Call it until Done. The file streams to w row
// group by row group; nothing but the current row group is held encoded in memory.
// When it fails (w failed, say), nothing is consumed: the next call encodes the same
// rows again, so a failed upload can be retried.
func (p *Pending) Encode(w io.Writer) (info FileInfo, err error) {
	if p.Done() {
		return FileInfo{}, io.EOF
	}
	mark := p.Mark()
	defer func() {
		if err != nil {
			p.Rewind(mark)
		}
	}()
	b := p.buf
	cw := &countingWriter{w: w}
	pw := b.newParquetWriter(cw)
	start := slices.Clone(p.cursors)
	firstRow := p.done
	if err := p.writeRowGroups(pw, b.newEncoders(), func() bool { return cw.n >= b.cfg.TargetFileSize }); err != nil {
		return FileInfo{}, err
	}
	if err := pw.Close(); err != nil {
		return FileInfo{}, fmt.Errorf("writer: close file: %w", err)
	}
	rows := p.done - firstRow
	fs := b.newFileStats()
	fs.gather(p, start, p.cursors)
	return FileInfo{Size: cw.n, Rows: rows, FirstRow: firstRow, Stats: fs.render(rows)}, nil
}

// newParquetWriter opens a data file on w with the buffer's schema and settings.
func (b *Buffer) newParquetWriter(w io.Writer) *parquet.Writer {
	opts := []parquet.WriterOption{
		b.fileSchema,
		parquet.Compression(b.codec),
		parquet.PageBufferSize(b.cfg.PageSize),
		parquet.CreatedBy("sluice", "", ""),
	}
	if len(b.blooms) > 0 {
		opts = append(opts, parquet.BloomFilters(b.blooms...))
	}
	if b.cfg.Dictionary {
		opts = append(opts, parquet.DictionaryMaxBytes(b.cfg.DictionaryMaxBytes))
	}
	return parquet.NewWriter(w, opts...)
}

// writeRowGroups writes the remaining rows as row groups of about
// Config.RowGroupSize, stopping early when full reports true after a row group.
func (p *Pending) writeRowGroups(pw *parquet.Writer, encs []encoder, full func() bool) error {
	b := p.buf
	rowsPerGroup := p.Rows
	if est := p.estimatedBytes(); est > b.cfg.RowGroupSize {
		rowsPerGroup = max(1, int(int64(p.Rows)*b.cfg.RowGroupSize/est))
	}
	for !p.Done() {
		n := min(rowsPerGroup, p.Rows-p.done)
		if err := p.writeLeaves(pw.ColumnWriters(), encs, n); err != nil {
			return err
		}
		if err := pw.Flush(); err != nil {
			return fmt.Errorf("writer: flush row group: %w", err)
		}
		p.done += n
		if full != nil && full() {
			break
		}
	}
	return nil
}

// writeLeaves writes the next n rows of every leaf column into its column writer. With
// several encoders, the columns are encoded concurrently, one goroutine per encoder
// taking the next column not yet done: a column's values, pages and compression are
// its own (the column writers of one row group share nothing but pools), and the row
// group is flushed, in order, once all are done. So the encoding of a flush, which runs
// after its last row arrived, uses every core.
func (p *Pending) writeLeaves(cws []*parquet.ColumnWriter, encs []encoder, n int) error {
	b := p.buf
	var next atomic.Int64
	errs := make([]error, len(b.leaves))
	work := func(enc *encoder) {
		for li := int(next.Add(1) - 1); li < len(b.leaves); li = int(next.Add(1) - 1) {
			errs[li] = enc.writeLeaf(cws[li], b.leaves[li], &p.part.leaves[li], &p.cursors[li], n)
			if errs[li] == nil {
				errs[li] = cws[li].Flush() // its last page, encoded and compressed here rather than by pw.Flush, serially
			}
		}
	}
	if len(encs) == 1 {
		work(&encs[0])
	} else {
		var wg sync.WaitGroup
		for w := range encs {
			wg.Go(func() { work(&encs[w]) })
		}
		wg.Wait()
	}
	for li, err := range errs {
		if err != nil {
			return fmt.Errorf("writer: column %q: %w", b.leaves[li].path, err)
		}
	}
	return nil
}

// newEncoders returns the encoders of one file: Config.Encoders, by default one per
// core, at most maxEncoders, at most one per leaf column.
func (b *Buffer) newEncoders() []encoder {
	n := b.cfg.Encoders
	if n == 0 {
		n = min(runtime.GOMAXPROCS(0), maxEncoders)
	}
	encs := make([]encoder, max(1, min(n, len(b.leaves))))
	for i := range encs {
		encs[i].vals = make([]parquet.Value, 0, chunkValues)
	}
	return encs
}

// maxEncoders bounds the default number of columns of one file encoded at once.
const maxEncoders = 8

func (p *Pending) estimatedBytes() int64 {
	var n int64
	for i := range p.part.leaves {
		d := &p.part.leaves[i]
		n += int64(8*len(d.valid) + len(d.defs) + len(d.reps) + 4*len(d.i32) + 8*len(d.i64) + 4*len(d.f32) + 8*len(d.f64) + len(d.bools) + len(d.data) + 4*len(d.offs))
	}
	return n
}

const chunkValues = 4096

type encoder struct {
	vals []parquet.Value
	defs []uint8 // validity bits expanded to levels, one chunk at a time
}

// writeLeaf writes the entries of the next n rows of one leaf column.
func (e *encoder) writeLeaf(cw *parquet.ColumnWriter, l *leaf, d *leafData, cur *cursor, n int) error {
	if l.maxRep == 0 {
		return e.writeFlat(cw, l, d, cur, n)
	}
	rows := 0
	e.vals = e.vals[:0]
	colIdx := l.index
	for cur.entry < d.n {
		rep := d.rep(l, cur.entry)
		if rep == 0 {
			if rows == n {
				break
			}
			if len(e.vals) >= chunkValues {
				if _, err := cw.WriteRowValues(e.vals); err != nil {
					return err
				}
				e.vals = e.vals[:0]
			}
			rows++
		}
		def := d.def(l, cur.entry)
		cur.entry++
		if def < l.maxDef {
			e.vals = append(e.vals, parquet.NullValue().Level(int(rep), int(def), colIdx))
			continue
		}
		e.vals = append(e.vals, l.value(d, cur.val).Level(int(rep), int(def), colIdx))
		cur.val++
	}
	if len(e.vals) > 0 {
		if _, err := cw.WriteRowValues(e.vals); err != nil {
			return err
		}
	}
	return nil
}

// writeFlat is writeLeaf for a leaf outside lists and maps: one entry per row, in
// chunks, with the value conversion hoisted out of the per-value loop.
func (e *encoder) writeFlat(cw *parquet.ColumnWriter, l *leaf, d *leafData, cur *cursor, n int) error {
	end := cur.entry + n
	for cur.entry < end {
		stop := min(end, cur.entry+chunkValues)
		vals := e.vals[:0]
		var defs []uint8
		switch {
		case l.bitDefs:
			e.defs = e.defs[:0]
			for i := cur.entry; i < stop; i++ {
				e.defs = append(e.defs, d.def(l, i))
			}
			defs = e.defs
		case l.maxDef > 0:
			defs = d.defs[cur.entry:stop]
		}
		j := cur.val
		switch l.kind {
		case kindInt64:
			vals, j = appendLevels(vals, defs, stop-cur.entry, l, d.i64, j, parquet.Int64Value)
		case kindInt32:
			vals, j = appendLevels(vals, defs, stop-cur.entry, l, d.i32, j, parquet.Int32Value)
		case kindDouble:
			vals, j = appendLevels(vals, defs, stop-cur.entry, l, d.f64, j, parquet.DoubleValue)
		case kindFloat:
			vals, j = appendLevels(vals, defs, stop-cur.entry, l, d.f32, j, parquet.FloatValue)
		case kindBool:
			vals, j = appendLevels(vals, defs, stop-cur.entry, l, d.bools, j, parquet.BooleanValue)
		default:
			vals, j = appendBytesLevels(vals, defs, stop-cur.entry, l, d, j)
		}
		e.vals = vals
		if _, err := cw.WriteRowValues(vals); err != nil {
			return err
		}
		cur.entry, cur.val = stop, j
	}
	return nil
}

// appendLevels converts count entries (defs nil: all present) starting at value j.
func appendLevels[T any](vals []parquet.Value, defs []uint8, count int, l *leaf, src []T, j int, conv func(T) parquet.Value) ([]parquet.Value, int) {
	col, maxDef := l.index, int(l.maxDef)
	if defs == nil {
		for _, x := range src[j : j+count] {
			v := conv(x)
			v.SetColumnIndex(col)
			vals = append(vals, v)
		}
		return vals, j + count
	}
	for _, def := range defs {
		var v parquet.Value
		if int(def) < maxDef {
			v = parquet.NullValue()
			v.SetDefinitionLevel(int(def))
		} else {
			v = conv(src[j])
			v.SetDefinitionLevel(maxDef)
			j++
		}
		v.SetColumnIndex(col)
		vals = append(vals, v)
	}
	return vals, j
}

// appendBytesLevels is appendLevels for byte array leaves.
func appendBytesLevels(vals []parquet.Value, defs []uint8, count int, l *leaf, d *leafData, j int) ([]parquet.Value, int) {
	col, maxDef := l.index, l.maxDef
	start := uint32(0)
	if j > 0 {
		start = d.offs[j-1]
	}
	for k := range count {
		var v parquet.Value
		if defs != nil && defs[k] < maxDef {
			v = parquet.NullValue()
			v.SetDefinitionLevel(int(defs[k]))
		} else {
			end := d.offs[j]
			if l.fixedLen > 0 {
				v = parquet.FixedLenByteArrayValue(d.data[start:end])
			} else {
				v = parquet.ByteArrayValue(d.data[start:end])
			}
			v.SetDefinitionLevel(int(maxDef))
			start = end
			j++
		}
		v.SetColumnIndex(col)
		vals = append(vals, v)
	}
	return vals, j
}

// value returns the j-th non-null value of the leaf as a Parquet value.
func (l *leaf) value(d *leafData, j int) parquet.Value {
	switch l.kind {
	case kindInt32:
		return parquet.Int32Value(d.i32[j])
	case kindInt64:
		return parquet.Int64Value(d.i64[j])
	case kindFloat:
		return parquet.FloatValue(d.f32[j])
	case kindDouble:
		return parquet.DoubleValue(d.f64[j])
	case kindBool:
		return parquet.BooleanValue(d.bools[j])
	}
	if l.fixedLen > 0 {
		return parquet.FixedLenByteArrayValue(d.bytesAt(j))
	}
	return parquet.ByteArrayValue(d.bytesAt(j))
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
