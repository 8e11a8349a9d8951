package optimize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

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
// size, uploads them under the partition's directory and returns them with the
// removes of the old files. On error, files it uploaded are deleted again.
func rewriteBin(ctx context.Context, store storage.Storage, snap *table.Snapshot, bin *Bin, cfg writer.Config) (_ *rewritten, err error) {
	buf, err := writer.NewBuffer(writer.Spec{Schema: dataSchema(snap),
		ColumnMapping: snap.ColumnMappingMode() != table.ColumnMappingNone}, cfg)
	if err != nil {
		return nil, fmt.Errorf("optimize: %w", err)
	}
	out := &rewritten{bin: bin}
	defer func() {
		if err != nil {
			for _, a := range out.adds {
				if key, kerr := table.DecodePath(a.Path); kerr == nil {
					store.Delete(context.WithoutCancel(ctx), key)
				}
			}
		}
	}()
	layouts := map[string]*writer.Layout{}
	for _, f := range bin.Files {
		n, deleted, err := appendFile(ctx, store, buf, f, layouts)
		if err != nil {
			return nil, fmt.Errorf("optimize: file %s: %w", f.Path, err)
		}
		out.rows += int64(n)
		out.deleted += deleted
	}
	dir := dirOf(bin.Files[0].Path)
	for _, p := range buf.Take() {
		for !p.Done() {
			var data bytes.Buffer
			info, err := p.Encode(&data)
			if err != nil {
				p.Release()
				return nil, fmt.Errorf("optimize: encode: %w", err)
			}
			key := path.Join(dir, fileName(cfg.Compression))
			if err := store.Put(ctx, key, &data, int64(data.Len())); err != nil {
				p.Release()
				return nil, fmt.Errorf("optimize: upload %s: %w", key, err)
			}
			out.adds = append(out.adds, table.Add{Path: table.EncodePath(key), PartitionValues: bin.Partition, Size: info.Size,
				ModificationTime: time.Now().UnixMilli(), DataChange: false, Stats: info.Stats})
		}
		p.Release()
	}
	extended := true
	for _, f := range bin.Files {
		size := f.Size
		out.removes = append(out.removes, table.Remove{Path: f.Path, DataChange: false, ExtendedFileMetadata: &extended,
			PartitionValues: f.PartitionValues, Size: &size, Tags: f.Tags, DeletionVector: f.DeletionVector,
			BaseRowID: f.BaseRowID, DefaultRowCommit: f.DefaultRowCommit})
	}
	return out, nil
}

// appendFile copies the live rows of one data file into buf and returns how many it
// copied and how many its deletion vector left out.
func appendFile(ctx context.Context, store storage.Storage, buf *writer.Buffer, f *table.Add, layouts map[string]*writer.Layout) (int, int64, error) {
	key, err := table.DecodePath(f.Path)
	if err != nil {
		return 0, 0, err
	}
	data, err := store.Get(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	deleted, err := table.DeletedRows(ctx, store, f)
	if err != nil {
		return 0, 0, err
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
