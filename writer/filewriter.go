package writer

import (
	"fmt"
	"io"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// FileWriter encodes one data file from the rows of several Pendings of one Buffer,
// in order, with statistics over all of them: compaction streams a partition's rows
// through it a row group at a time, so that memory holds the rows of one row group,
// not of the whole file. It is not safe for concurrent use.
type FileWriter struct {
	b     *Buffer
	cw    *countingWriter
	pw    *parquet.Writer
	encs  []encoder
	stats *fileStats
	rows  int
}

// NewFileWriter starts a data file on w.
func (b *Buffer) NewFileWriter(w io.Writer) *FileWriter {
	cw := &countingWriter{w: w}
	return &FileWriter{b: b, cw: cw, pw: b.newParquetWriter(cw), encs: b.newEncoders(),
		stats: b.newFileStats()}
}

// Write encodes every remaining row of p into the file, as row groups of about
// Config.RowGroupSize, and releases p. p must come from the FileWriter's Buffer.
func (f *FileWriter) Write(p *Pending) error {
	if p.buf != f.b {
		return fmt.Errorf("writer: FileWriter.Write: the Pending is another Buffer's")
	}
	start := slices.Clone(p.cursors)
	first := p.done
	if err := p.writeRowGroups(f.pw, f.encs, nil); err != nil {
		return err
	}
	f.stats.gather(p, start, p.cursors)
	f.rows += p.done - first
	p.Release()
	return nil
}

// Size is the number of bytes written to the file so far (a row group is written
// when it is complete).
func (f *FileWriter) Size() int64 { return f.cw.n }

// Rows is the number of rows written so far.
func (f *FileWriter) Rows() int { return f.rows }

// Close finishes the file and describes it.
func (f *FileWriter) Close() (FileInfo, error) {
	if err := f.pw.Close(); err != nil {
		return FileInfo{}, fmt.Errorf("writer: close file: %w", err)
	}
	return FileInfo{Size: f.cw.n, Rows: f.rows, Stats: f.stats.render(f.rows)}, nil
}
