package table

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2/roaring64"

	"github.com/sluicelake/sluice/table/storage"
)

// DeleteRows marks rows of one live data file deleted, in one commit (merge-on-read,
// as Spark's DELETE with deletion vectors): the file is removed with its old deletion
// vector and added again with one holding the old rows and the new. path is the file's
// add.path as Files returns it; rows are row indexes within the file (0 is its first
// row). A table whose protocol lacks the deletionVectors feature moves to it in the same
// commit.
//
// It returns *ConcurrentDeleteError when another writer removed or changed the file
// first; the caller may read the new snapshot and try again. The handle must track
// files (not ForAppending).
func (t *Table) DeleteRows(ctx context.Context, path string, rows []uint64) (CommitResult, error) {
	snap, err := t.Snapshot(ctx)
	if err != nil {
		return CommitResult{}, err
	}
	if snap.noFiles {
		return CommitResult{}, fmt.Errorf("table %s: delete rows: a handle opened ForAppending does not track files", t.URI())
	}
	if snap.metadata.Configuration["delta.enableChangeDataFeed"] == "true" {
		return CommitResult{}, &UnsupportedFeatureError{Table: t.URI(), Feature: "deleting rows of a table with the change data feed on (it needs change data files)", Write: true}
	}
	if snap.metadata.Configuration["delta.appendOnly"] == "true" {
		return CommitResult{}, &UnsupportedFeatureError{Table: t.URI(), Feature: "deleting rows of an append-only table (delta.appendOnly)", Write: true}
	}
	key, err := DecodePath(path)
	if err != nil {
		return CommitResult{}, fmt.Errorf("table %s: delete rows: %w", t.URI(), err)
	}
	var f *Add
	for k, a := range snap.files {
		if k.path == key {
			f = a
			break
		}
	}
	if f == nil {
		return CommitResult{}, &ConcurrentDeleteError{Table: t.URI(), Path: path}
	}
	rm, add, changed, err := MarkDeleted(ctx, t.store, f, rows)
	if err != nil {
		return CommitResult{}, fmt.Errorf("table %s: %w", t.URI(), err)
	}
	if !changed {
		return CommitResult{Version: snap.Version()}, nil // every row was deleted already
	}
	return t.Commit(ctx, &Transaction{Operation: "DELETE", Removes: []Remove{rm}, Adds: []Add{add},
		Parameters: map[string]string{"predicate": jsonStringList([]string{fmt.Sprintf("%d rows of %s", len(rows), path)})}})
}

// MarkDeleted returns the actions that mark more rows of the live file f deleted: f
// removed with its deletion vector, and added again with one holding the old rows and
// rows (row indexes within the file). A vector of up to inlineDVRows rows goes inline
// in the log; a larger one is written to store, the table's root. changed is false
// when every row was deleted already (then there is nothing to commit).
func MarkDeleted(ctx context.Context, store storage.Storage, f *Add, rows []uint64) (rm Remove, add Add, changed bool, err error) {
	stats, ok := f.ParseStats()
	if !ok {
		return rm, add, false, fmt.Errorf("delete rows of %s: the file has no numRecords statistic, which a deletion vector needs", f.Path)
	}
	deleted := roaring64.New()
	if old, err := DeletedRows(ctx, store, f); err != nil {
		return rm, add, false, err
	} else if old != nil {
		deleted.Or(old)
	}
	deleted.AddMany(rows)
	if !deleted.IsEmpty() && deleted.Maximum() >= uint64(stats.NumRecords) {
		return rm, add, false, fmt.Errorf("delete rows of %s: row %d is past the file's %d rows", f.Path, deleted.Maximum(), stats.NumRecords)
	}
	if f.DeletionVector != nil && deleted.GetCardinality() == uint64(f.DeletionVector.Cardinality) {
		return rm, add, false, nil
	}
	var dv *DeletionVector
	if deleted.GetCardinality() <= inlineDVRows {
		dv, err = InlineDeletionVector(deleted)
	} else {
		dv, err = WriteDeletionVector(ctx, store, deleted)
	}
	if err != nil {
		return rm, add, false, err
	}
	statsText, err := LooseStats(f.Stats)
	if err != nil {
		return rm, add, false, fmt.Errorf("delete rows of %s: stats: %w", f.Path, err)
	}
	size := f.Size
	extended := true
	rm = Remove{Path: f.Path, DataChange: true, ExtendedFileMetadata: &extended, PartitionValues: f.PartitionValues,
		Size: &size, Tags: f.Tags, DeletionVector: f.DeletionVector, BaseRowID: f.BaseRowID, DefaultRowCommit: f.DefaultRowCommit}
	add = *f
	add.DataChange, add.DeletionVector, add.Stats = true, dv, statsText
	return rm, add, true, nil
}

// inlineDVRows is the most rows a deletion vector MarkDeleted writes inline in the log
// holds: a few rows' vector is smaller than the path of a file, and needs no read.
const inlineDVRows = 16

// LooseStats marks a file's statistics as wide ("tightBounds": false): with rows
// deleted, its min and max may be values no live row holds any more.
func LooseStats(stats string) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stats), &m); err != nil {
		return "", err
	}
	m["tightBounds"] = json.RawMessage("false")
	b, err := json.Marshal(m)
	return string(b), err
}
