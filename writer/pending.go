package writer

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// Pending is one partition's buffered rows, ready to be encoded as a data file.
type Pending struct {
	// Dir is the Hive-style partition directory ("day=2024-01-01"), "" when unpartitioned.
	Dir string
	// PartitionValues are the serialized partition values (nil for null).
	PartitionValues map[string]*string
	// Rows is the number of rows.
	Rows int

	buf  *Buffer
	part *part
}

// FileInfo describes an encoded data file.
type FileInfo struct {
	Size  int64
	Stats string // add.stats JSON
}

// Encode encodes the rows as one Parquet file to w and computes its Delta statistics.
func (p *Pending) Encode(w io.Writer) (FileInfo, error) {
	b := p.buf
	codec, err := b.cfg.codec()
	if err != nil {
		return FileInfo{}, err
	}
	names := make([]string, len(b.dataIdx))
	nodes := make([]parquet.Node, len(b.dataIdx))
	for j, i := range b.dataIdx {
		names[j], nodes[j] = b.cols[i].Name, b.cols[i].parquetNode()
	}
	schema := parquet.NewSchema("spark_schema", newGroup(names, nodes))
	cw := &countingWriter{w: w}
	pw := parquet.NewWriter(cw, schema,
		parquet.Compression(codec),
		parquet.PageBufferSize(b.cfg.PageSize),
		parquet.CreatedBy("sluice", "", ""),
	)
	rowsPerGroup := p.Rows
	if est := p.estimatedBytes(); est > b.cfg.RowGroupSize {
		rowsPerGroup = max(1, int(int64(p.Rows)*b.cfg.RowGroupSize/est))
	}
	enc := encoder{vals: make([]parquet.Value, 0, chunkValues)}
	cursors := make([]cursor, len(b.dataIdx))
	for start := 0; start < p.Rows; start += rowsPerGroup {
		n := min(rowsPerGroup, p.Rows-start)
		for j, i := range b.dataIdx {
			if err := enc.writeColumn(pw.ColumnWriters()[j], j, b.cols[i], &p.part.cols[i], &cursors[j], n); err != nil {
				return FileInfo{}, fmt.Errorf("writer: column %q: %w", b.cols[i].Name, err)
			}
		}
		if err := pw.Flush(); err != nil {
			return FileInfo{}, fmt.Errorf("writer: flush row group: %w", err)
		}
	}
	if err := pw.Close(); err != nil {
		return FileInfo{}, fmt.Errorf("writer: close file: %w", err)
	}
	return FileInfo{Size: cw.n, Stats: p.stats()}, nil
}

func (p *Pending) estimatedBytes() int64 {
	var n int64
	for i := range p.part.cols {
		d := &p.part.cols[i]
		n += int64(len(d.defs) + 4*len(d.i32) + 8*len(d.i64) + 4*len(d.f32) + 8*len(d.f64) + len(d.bools) + len(d.data) + 4*len(d.offs))
	}
	return n
}

const chunkValues = 4096

// cursor is the position of the next row and value to encode in a colData.
type cursor struct{ row, val int }

type encoder struct {
	vals []parquet.Value
}

// writeColumn writes the next n rows of one column.
func (e *encoder) writeColumn(cw *parquet.ColumnWriter, colIdx int, c *Column, d *colData, cur *cursor, n int) error {
	end := cur.row + n
	for cur.row < end {
		e.vals = e.vals[:0]
		for cur.row < end && len(e.vals) < chunkValues {
			if c.Nullable && d.defs[cur.row] == 0 {
				e.vals = append(e.vals, parquet.NullValue().Level(0, 0, colIdx))
				cur.row++
				continue
			}
			var v parquet.Value
			switch c.kind {
			case kindInt32:
				v = parquet.Int32Value(d.i32[cur.val])
			case kindInt64:
				v = parquet.Int64Value(d.i64[cur.val])
			case kindFloat:
				v = parquet.FloatValue(d.f32[cur.val])
			case kindDouble:
				v = parquet.DoubleValue(d.f64[cur.val])
			case kindBool:
				v = parquet.BooleanValue(d.bools[cur.val])
			case kindBytes:
				v = parquet.ByteArrayValue(d.bytesAt(cur.val))
			}
			def := 0
			if c.Nullable {
				def = 1
			}
			e.vals = append(e.vals, v.Level(0, def, colIdx))
			cur.row++
			cur.val++
		}
		if _, err := cw.WriteRowValues(e.vals); err != nil {
			return err
		}
	}
	return nil
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
