package optimize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// rewritten is a bin's new files, uploaded, and what the commit needs of it.
type rewritten struct {
	bin     *Bin
	adds    []table.Add
	removes []table.Remove
	rows    int64
	deleted int64 // rows left out: deleted by the files' deletion vectors
}

// dataSchema is the schema of the columns data files hold: the table's minus its
// partition columns.
func dataSchema(snap *table.Snapshot) *table.StructType {
	parts := snap.PartitionColumns()
	out := &table.StructType{}
	for _, f := range snap.Schema().Fields {
		if !slices.Contains(parts, f.Name) {
			out.Fields = append(out.Fields, f)
		}
	}
	return out
}

// rewriteBin copies the rows of the bin's files into new files of about the target
// size, streamed: rows are encoded a row group (Config.RowGroupSize of buffered
// values) at a time into a file that uploads as it is written, so memory holds one row
// group and one input file, not a whole bin. It returns the new files with the removes
// of the old ones. On error, files it uploaded are deleted again.
func rewriteBin(ctx context.Context, store storage.Storage, snap *table.Snapshot, bin *Bin, cfg writer.Config, pace *pacer) (_ *rewritten, err error) {
	return rewrite(ctx, store, snap, bin, cfg, pace, nil)
}

// rewrite is rewriteBin, also leaving out the rows drop lists by file path (row
// indexes within the file); files of a bin with drop are a data change (copy-on-write
// deletes), and not tagged as optimize's.
func rewrite(ctx context.Context, store storage.Storage, snap *table.Snapshot, bin *Bin, cfg writer.Config, pace *pacer, drop map[string][]uint64) (_ *rewritten, err error) {
	buf, err := writer.NewBuffer(writer.Spec{Schema: dataSchema(snap),
		ColumnMapping: snap.ColumnMappingMode() != table.ColumnMappingNone}, cfg)
	if err != nil {
		return nil, fmt.Errorf("optimize: %w", err)
	}
	out := &rewritten{bin: bin}
	var sink *upload
	defer func() {
		if err != nil {
			if sink != nil {
				sink.abort(err)
			}
			for _, a := range out.adds {
				if key, kerr := table.DecodePath(a.Path); kerr == nil {
					store.Delete(context.WithoutCancel(ctx), key)
				}
			}
		}
	}()
	dir := dirOf(bin.Files[0].Path)
	// flush moves the buffered rows into the current file, and closes it once it has
	// reached the target size (or at the end of the bin).
	flush := func(last bool) error {
		for _, p := range buf.Take() {
			if p.Rows == 0 {
				p.Release()
				continue
			}
			if sink == nil {
				sink = startUpload(ctx, store, buf, path.Join(dir, fileName(cfg.Compression)))
			}
			if err := sink.fw.Write(p); err != nil {
				return fmt.Errorf("optimize: encode: %w", err)
			}
		}
		if sink != nil && (last || sink.fw.Size() >= cfg.TargetFileSize) {
			info, err := sink.finish()
			key := sink.key
			sink = nil
			if err != nil {
				return fmt.Errorf("optimize: upload %s: %w", key, err)
			}
			add := table.Add{Path: table.EncodePath(key), PartitionValues: bin.Partition, Size: info.Size,
				ModificationTime: time.Now().UnixMilli(), DataChange: false, Stats: info.Stats, Tags: map[string]string{TagOptimized: "true"}}
			if drop != nil {
				add.DataChange, add.Tags = true, nil
			}
			out.adds = append(out.adds, add)
		}
		return nil
	}
	layouts := map[string]*writer.Layout{}
	for _, f := range bin.Files {
		n, deleted, err := appendFile(ctx, store, buf, f, drop[f.Path], layouts, pace, func() error {
			if buf.Bytes() < cfg.RowGroupSize {
				return nil
			}
			return flush(false)
		})
		if err != nil {
			return nil, fmt.Errorf("optimize: file %s: %w", f.Path, err)
		}
		out.rows += int64(n)
		out.deleted += deleted
	}
	if err := flush(true); err != nil {
		return nil, err
	}
	extended := true
	for _, f := range bin.Files {
		size := f.Size
		out.removes = append(out.removes, table.Remove{Path: f.Path, DataChange: drop != nil, ExtendedFileMetadata: &extended,
			PartitionValues: f.PartitionValues, Size: &size, Tags: f.Tags, DeletionVector: f.DeletionVector,
			BaseRowID: f.BaseRowID, DefaultRowCommit: f.DefaultRowCommit})
	}
	return out, nil
}

// upload is a new data file being written and uploaded at once: the encoder writes
// into a pipe that Storage.Put reads (S3 uploads it in parts).
type upload struct {
	key  string
	fw   *writer.FileWriter
	pipe *io.PipeWriter
	done chan error
}

func startUpload(ctx context.Context, store storage.Storage, buf *writer.Buffer, key string) *upload {
	pr, pw := io.Pipe()
	u := &upload{key: key, pipe: pw, done: make(chan error, 1)}
	go func() {
		err := store.Put(ctx, key, pr, -1)
		pr.CloseWithError(err) // unblocks the encoder if Put gave up early
		u.done <- err
	}()
	u.fw = buf.NewFileWriter(pw)
	return u
}

// finish closes the file and waits for its upload.
func (u *upload) finish() (writer.FileInfo, error) {
	info, err := u.fw.Close()
	u.pipe.CloseWithError(err) // nil: the body ends
	if perr := <-u.done; err == nil {
		err = perr
	}
	return info, err
}

// abort stops the upload; an object it may have stored is left to vacuum.
func (u *upload) abort(cause error) {
	u.pipe.CloseWithError(cause)
	<-u.done
}

// appendFile copies the live rows of one data file into buf, less the rows of drop,
// calling afterRowGroup after each row group, and returns how many rows it copied and
// how many it left out.
func appendFile(ctx context.Context, store storage.Storage, buf *writer.Buffer, f *table.Add, drop []uint64, layouts map[string]*writer.Layout, pace *pacer, afterRowGroup func() error) (int, int64, error) {
	key, err := table.DecodePath(f.Path)
	if err != nil {
		return 0, 0, err
	}
	data, err := store.Get(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	if err := pace.read(ctx, int64(len(data))); err != nil {
		return 0, 0, err
	}
	deleted, err := table.DeletedRows(ctx, store, f)
	if err != nil {
		return 0, 0, err
	}
	if len(drop) > 0 {
		if deleted == nil {
			deleted = roaring64.New()
		}
		deleted.AddMany(drop)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, 0, fmt.Errorf("read parquet: %w", err)
	}
	layout, ok := layouts[pf.Schema().String()]
	if !ok {
		if layout, err = buf.FileLayout(pf.Schema()); err != nil {
			return 0, 0, err
		}
		layouts[pf.Schema().String()] = layout
	}
	var isDeleted func(int64) bool
	if deleted != nil {
		isDeleted = func(row int64) bool { return deleted.Contains(uint64(row)) }
	}
	copied, first := 0, int64(0)
	for _, rg := range pf.RowGroups() {
		n, err := buf.AppendRowGroup(rg, layout, first, isDeleted)
		if err != nil {
			return 0, 0, err
		}
		copied += n
		first += rg.NumRows()
		if err := afterRowGroup(); err != nil {
			return 0, 0, err
		}
	}
	if deleted != nil && int64(deleted.GetCardinality())+int64(copied) != first {
		return 0, 0, errors.New("the deletion vector marks rows past the file's end")
	}
	return copied, first - int64(copied), nil
}

// fileName names a new data file as Spark does: part-00000-<uuid>-c000.<codec>.parquet.
func fileName(codec string) string {
	if codec == "none" {
		return fmt.Sprintf("part-00000-%s-c000.parquet", uuid.NewString())
	}
	return fmt.Sprintf("part-00000-%s-c000.%s.parquet", uuid.NewString(), codec)
}

// dirOf is the directory part of an add.path (decoded), "" at the table root.
func dirOf(p string) string {
	key, err := table.DecodePath(p)
	if err != nil {
		return ""
	}
	if d := path.Dir(key); d != "." {
		return d
	}
	return ""
}

// RewriteWithout rewrites live data files of snap without some of their rows (and
// without the rows their deletion vectors already mark): copy-on-write, for a keyed
// write into a table whose readers do not read deletion vectors. drop lists, by the
// files' add.path, row indexes within each file. It returns the new files' adds and
// the old files' removes, all data changes, for the caller to commit; the new files
// are uploaded (and deleted again when it fails). A file whose rows all go is removed
// with no new file.
func RewriteWithout(ctx context.Context, store storage.Storage, snap *table.Snapshot, files []*table.Add, drop map[string][]uint64, cfg writer.Config) ([]table.Add, []table.Remove, error) {
	if snap.Property("delta.enableRowTracking", "") == "true" {
		return nil, nil, &table.UnsupportedFeatureError{Table: store.URI(), Feature: "copy-on-write rewrites of a table with row tracking enabled (delta.enableRowTracking)", Write: true}
	}
	var adds []table.Add
	var removes []table.Remove
	for _, f := range files {
		out, err := rewrite(ctx, store, snap, &Bin{Partition: f.PartitionValues, Files: []*table.Add{f}, Bytes: f.Size}, cfg, nil, map[string][]uint64{f.Path: drop[f.Path]})
		if err != nil {
			for _, a := range adds {
				if key, kerr := table.DecodePath(a.Path); kerr == nil {
					store.Delete(context.WithoutCancel(ctx), key)
				}
			}
			return nil, nil, err
		}
		adds = append(adds, out.adds...)
		removes = append(removes, out.removes...)
	}
	return adds, removes, nil
}
