package table

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2/roaring64"
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
	stats, ok := f.ParseStats()
	if !ok {
		return CommitResult{}, fmt.Errorf("table %s: delete rows of %s: the file has no numRecords statistic, which a deletion vector needs", t.URI(), path)
	}
	deleted := roaring64.New()
	if old, err := DeletedRows(ctx, t.store, f); err != nil {
		return CommitResult{}, err
	} else if old != nil {
		deleted.Or(old)
	}
	deleted.AddMany(rows)
	if !deleted.IsEmpty() && deleted.Maximum() >= uint64(stats.NumRecords) {
		return CommitResult{}, fmt.Errorf("table %s: delete rows of %s: row %d is past the file's %d rows", t.URI(), path, deleted.Maximum(), stats.NumRecords)
	}
	if f.DeletionVector != nil && deleted.GetCardinality() == uint64(f.DeletionVector.Cardinality) {
		return CommitResult{Version: snap.Version()}, nil // every row was deleted already
	}
	dv, err := WriteDeletionVector(ctx, t.store, deleted)
	if err != nil {
		return CommitResult{}, err
	}
	statsText, err := wideBounds(f.Stats)
	if err != nil {
		return CommitResult{}, fmt.Errorf("table %s: delete rows of %s: stats: %w", t.URI(), path, err)
	}
	size := f.Size
	extended := true
	rm := Remove{Path: f.Path, DataChange: true, ExtendedFileMetadata: &extended, PartitionValues: f.PartitionValues,
		Size: &size, Tags: f.Tags, DeletionVector: f.DeletionVector, BaseRowID: f.BaseRowID, DefaultRowCommit: f.DefaultRowCommit}
	add := *f
	add.DataChange, add.DeletionVector, add.Stats = true, dv, statsText
	return t.Commit(ctx, &Transaction{Operation: "DELETE", Removes: []Remove{rm}, Adds: []Add{add},
		Parameters: map[string]string{"predicate": jsonStringList([]string{fmt.Sprintf("%d rows of %s", len(rows), path)})}})
}

// wideBounds marks a file's statistics as wide ("tightBounds": false): with rows
// deleted, its min and max may be values no live row holds any more.
func wideBounds(stats string) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stats), &m); err != nil {
		return "", err
	}
	m["tightBounds"] = json.RawMessage("false")
	b, err := json.Marshal(m)
	return string(b), err
}
