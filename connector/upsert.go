package connector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/sluicelake/sluice/optimize"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/upsert"
	"github.com/sluicelake/sluice/writer"
)

// replacement is what an upsert commit replaced in the table.
type replacement struct {
	rows   int // table rows marked deleted
	files  int // files given a new deletion vector
	lookup time.Duration
}

// maxUpsertRounds bounds how often a flush recomputes its deletes because another
// writer (optimize, another instance's upsert on other keys) changed a file it marks.
const maxUpsertRounds = 50

// commitUpsert commits an upsert batch (one with keys): against the latest snapshot, it finds the
// live rows of the batch's keys, marks them deleted with deletion vectors, and commits
// that with the batch's new files and txns in one commit. When another writer removed
// or changed one of those files first (optimize, a DELETE, another instance's upsert
// of other keys in the same file), the deletes are computed again against the new
// snapshot: the new files stay as they are.
//
// The lookup needs no lock against other writers: a key's changes all come from one
// partition, and the commit's txn check refuses the batch if another writer committed
// that partition since the batch's start, so no row of these keys can appear between
// the lookup's snapshot and the commit.
func (t *ingestTable) commitUpsert(ctx context.Context, tx *table.Transaction, b *batch) (table.CommitResult, replacement, error) {
	var rep replacement
	newAdds := tx.Adds
	tx.Operation = "MERGE"
	keys := slices.Collect(maps.Keys(b.keys))
	// Copy-on-write files of a round that did not commit are left to vacuum, as the
	// batch's files are when a commit fails: when a commit's response is lost, its retry
	// may be refused because the commit itself landed, and then the table names them.
	cow := t.cfg.UpsertStrategy == CopyOnWrite
	for round := 1; ; round++ {
		var snap *table.Snapshot
		if err := t.retry(ctx, "read table", func() error {
			var err error
			snap, err = t.tbl.Snapshot(ctx)
			return err
		}); err != nil {
			return table.CommitResult{}, rep, err
		}
		if cow && round == 1 {
			// The batch's own replaced rows: its files are written again without them,
			// so that no file of the table has a deletion vector.
			var err error
			if newAdds, err = t.withoutDeadRows(ctx, snap, newAdds); err != nil {
				return table.CommitResult{}, rep, err
			}
		}
		if err := checkUpsertTable(snap, t.cfg, t.keyNames()); err != nil {
			return table.CommitResult{}, rep, fmt.Errorf("table %s: %w", t.cfg.Name, err)
		}
		cols, err := upsert.Columns(snap.Schema(), t.keyNames())
		if err != nil {
			return table.CommitResult{}, rep, &table.InvalidTableError{Table: t.tbl.URI(), Reason: err.Error()}
		}
		ks, err := upsert.NewKeySet(cols, keys)
		if err != nil {
			return table.CommitResult{}, rep, err
		}
		var hits []upsert.Hit
		var st upsert.Stats
		if err := t.retry(ctx, "key lookup", func() error {
			var err error
			hits, st, err = upsert.Find(ctx, t.tbl.Store(), snap.Files(), ks, t.keys)
			return err
		}); err != nil {
			return table.CommitResult{}, rep, fmt.Errorf("table %s: %w", t.cfg.Name, err)
		}
		t.metrics.keyLookup.Observe(st.Took.Seconds())
		t.metrics.keyLookupBytes.Add(float64(st.BytesRead))
		t.metrics.keyCacheBytes.Set(float64(t.keys.Bytes()))
		rep = replacement{lookup: rep.lookup + st.Took}
		tx.Removes, tx.Adds = nil, slices.Clone(newAdds)
		if cow {
			files := make([]*table.Add, 0, len(hits))
			drop := map[string][]uint64{}
			for _, h := range hits {
				files = append(files, h.File)
				drop[h.File.Path] = h.Rows
				rep.rows += len(h.Rows)
				rep.files++
			}
			var adds []table.Add
			var removes []table.Remove
			if err := t.retry(ctx, "rewrite files (copy-on-write)", func() error {
				var err error
				adds, removes, err = optimize.RewriteWithout(ctx, t.tbl.Store(), snap, files, drop, t.cfg.WriterConfig())
				return err
			}); err != nil {
				return table.CommitResult{}, rep, fmt.Errorf("table %s: %w", t.cfg.Name, err)
			}
			tx.Removes = removes
			tx.Adds = append(tx.Adds, adds...)
			hits = nil
		}
		for _, h := range hits {
			var rm table.Remove
			var add table.Add
			var changed bool
			if err := t.retry(ctx, "write deletion vector", func() error {
				var err error
				rm, add, changed, err = table.MarkDeleted(ctx, t.tbl.Store(), h.File, h.Rows)
				return err
			}); err != nil {
				return table.CommitResult{}, rep, fmt.Errorf("table %s: %w", t.cfg.Name, err)
			}
			if changed {
				tx.Removes = append(tx.Removes, rm)
				tx.Adds = append(tx.Adds, add)
				rep.rows += len(h.Rows)
				rep.files++
			}
		}
		tx.Metrics = map[string]string{"numTargetRowsDeleted": fmt.Sprint(rep.rows), "numTargetFilesTouched": fmt.Sprint(rep.files),
			"numKeys": fmt.Sprint(len(keys)), "keyLookupBytesRead": fmt.Sprint(st.BytesRead), "keyLookupFilesRead": fmt.Sprint(st.FilesRead),
			"keyLookupFilesPrunedByStats": fmt.Sprint(st.PrunedByStats), "keyLookupFilesPrunedByBloom": fmt.Sprint(st.PrunedByBloom),
			"keyLookupFilesCached": fmt.Sprint(st.CacheHits)}
		var res table.CommitResult
		err = t.retry(ctx, "commit", func() error {
			var err error
			res, err = t.tbl.Commit(ctx, tx)
			return err
		})
		var cd *table.ConcurrentDeleteError
		if errors.As(err, &cd) && round < maxUpsertRounds {
			t.metrics.conflicts.WithLabelValues("file_changed").Inc()
			t.log.Info("a file the upsert marks changed under it; finding the keys' rows again", "file", cd.Path, "round", round)
			continue
		}
		return res, rep, err
	}
}

// withoutDeadRows writes again, without their dead rows, the batch's files that have
// some (a deletion vector), and deletes the first versions, which no commit attempt
// has named.
func (t *ingestTable) withoutDeadRows(ctx context.Context, snap *table.Snapshot, adds []table.Add) ([]table.Add, error) {
	var withDV []*table.Add
	out := make([]table.Add, 0, len(adds))
	for i := range adds {
		if adds[i].DeletionVector != nil {
			withDV = append(withDV, &adds[i])
		} else {
			out = append(out, adds[i])
		}
	}
	if len(withDV) == 0 {
		return adds, nil
	}
	var again []table.Add
	if err := t.retry(ctx, "rewrite files (copy-on-write)", func() error {
		var err error
		again, _, err = optimize.RewriteWithout(ctx, t.tbl.Store(), snap, withDV, nil, t.cfg.WriterConfig())
		return err
	}); err != nil {
		return nil, fmt.Errorf("table %s: %w", t.cfg.Name, err)
	}
	for _, a := range withDV {
		t.deleteFiles(ctx, []table.Add{*a})
		if dv := a.DeletionVector; dv.StorageType != table.DVInline {
			t.log.Debug("a deletion vector file of a rewritten new file is left to vacuum", "file", a.Path)
		}
	}
	return append(out, again...), nil
}

// deleteFiles deletes data files no commit attempt named (best effort: vacuum deletes
// what is left).
func (t *ingestTable) deleteFiles(ctx context.Context, adds []table.Add) {
	for _, a := range adds {
		if key, err := table.DecodePath(a.Path); err == nil {
			_ = t.tbl.Store().Delete(context.WithoutCancel(ctx), key)
		}
	}
}

// checkUpsertTable refuses a table an upsert cannot write: one with the change data
// feed on (deletes would need change data files), or append-only, or without the key
// columns.
func checkUpsertTable(snap *table.Snapshot, cfg *TableConfig, key []string) error {
	if snap.Property("delta.enableChangeDataFeed", "") == "true" {
		return &table.UnsupportedFeatureError{Table: cfg.Location, Feature: "upserts into a table with the change data feed on (delta.enableChangeDataFeed: deletes would need change data files)", Write: true}
	}
	if snap.Property("delta.appendOnly", "") == "true" {
		return &table.UnsupportedFeatureError{Table: cfg.Location, Feature: "upserts into an append-only table (delta.appendOnly)", Write: true}
	}
	for _, k := range key {
		f := snap.Schema().Field(k)
		if f == nil {
			return fmt.Errorf("key column %q is not a column of the table", k)
		}
		if !writer.KeyType(f.Type) {
			return keyTypeError(k, f.Type)
		}
	}
	return nil
}
