package optimize

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// Result reports an optimize run.
type Result struct {
	Plan *Plan
	// Version is the commit that replaced the files; -1 when nothing was committed
	// (nothing to do, or every bin given up).
	Version      int64
	FilesRemoved int
	FilesAdded   int
	BytesRemoved int64
	BytesAdded   int64
	Rows         int64 // rows copied into the new files
	RowsPurged   int64 // deleted rows (deletion vectors) left out of them
	// BinsDropped counts bins given up because another writer removed or changed one
	// of their files while they were rewritten.
	BinsDropped int
	// Unfit lists bins left as they are because a file's columns do not map onto the
	// table's schema (*writer.LayoutError: a struct field added later, say).
	Unfit []error
}

// Progress is called after each bin is rewritten.
type Progress func(done, total int, bytes int64)

// Run compacts the table: it plans bins on the latest snapshot, rewrites them and
// commits all of them in one OPTIMIZE commit. Concurrent appends never conflict with
// it (the commit lands after them). When another writer removed or changed (deleted
// rows of) a file being compacted, the bins holding such files are given up, their new
// files deleted, and the rest committed. Application transactions (txn) are never
// touched. tbl must track files (not ForAppending).
func Run(ctx context.Context, tbl *table.Table, opts Options, progress Progress) (*Result, error) {
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkTable(tbl, snap); err != nil {
		return nil, err
	}
	plan, err := PlanBins(snap, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{Plan: plan, Version: -1}
	if len(plan.Bins) == 0 {
		return res, nil
	}
	opts, _ = opts.withDefaults(snap)
	cfg := writer.DefaultConfig()
	cfg.TargetFileSize, cfg.Compression, cfg.ZstdLevel = opts.TargetSize, opts.Compression, "default"
	cfg.RowGroupSize = opts.BufferBytes
	if n := snap.Property("delta.dataSkippingNumIndexedCols", ""); n != "" {
		if cfg.NumIndexedCols, err = strconv.Atoi(n); err != nil {
			return nil, fmt.Errorf("optimize: table property delta.dataSkippingNumIndexedCols %q: %w", n, err)
		}
	}
	var done []*rewritten
	var total int64
	pace := newPacer(opts.ReadRate)
	for i, bin := range plan.Bins {
		r, err := rewriteBin(ctx, tbl.Store(), snap, bin, cfg, pace)
		var le *writer.LayoutError
		if errors.As(err, &le) {
			res.Unfit = append(res.Unfit, err)
			continue
		}
		if err != nil {
			discard(ctx, tbl, done)
			return nil, err
		}
		done = append(done, r)
		total += bin.Bytes
		if progress != nil {
			progress(i+1, len(plan.Bins), total)
		}
	}
	if opts.beforeCommit != nil {
		opts.beforeCommit()
	}
	for len(done) > 0 {
		tx := transaction(snap, opts, done)
		cr, err := tbl.Commit(ctx, tx)
		var cde *table.ConcurrentDeleteError
		if errors.As(err, &cde) {
			i := slices.IndexFunc(done, func(r *rewritten) bool {
				return slices.ContainsFunc(r.removes, func(rm table.Remove) bool { return rm.Path == cde.Path })
			})
			if i < 0 {
				discard(ctx, tbl, done)
				return nil, err
			}
			discard(ctx, tbl, done[i:i+1])
			done = slices.Delete(done, i, i+1)
			res.BinsDropped++
			continue
		}
		if err != nil {
			if refused(err) {
				discard(ctx, tbl, done)
				return nil, err
			}
			// The commit may have landed (a lost response): its files must stay. If it did
			// not, they are orphans for vacuum.
			return nil, fmt.Errorf("%w (the commit's outcome is unknown: its new files are kept; vacuum deletes them if it did not land)", err)
		}
		res.Version = cr.Version
		break
	}
	for _, r := range done {
		res.FilesRemoved += len(r.removes)
		res.FilesAdded += len(r.adds)
		res.BytesRemoved += r.bin.Bytes
		for _, a := range r.adds {
			res.BytesAdded += a.Size
		}
		res.Rows += r.rows
		res.RowsPurged += r.deleted
	}
	return res, nil
}

// checkTable refuses tables whose files optimize cannot rewrite faithfully.
func checkTable(tbl *table.Table, snap *table.Snapshot) error {
	if err := snap.Writable(); err != nil {
		return err
	}
	if snap.Property("delta.enableRowTracking", "") == "true" {
		// Copied rows must keep their Row IDs, which needs the materialized Row ID
		// columns written (PROTOCOL.md, "Row Tracking").
		return &table.UnsupportedFeatureError{Table: tbl.URI(), Feature: "optimize of a table with row tracking enabled (delta.enableRowTracking)", Write: true}
	}
	return nil
}

// transaction is the OPTIMIZE commit of the rewritten bins, with commitInfo
// parameters and metrics as Spark writes them.
func transaction(snap *table.Snapshot, opts Options, bins []*rewritten) *table.Transaction {
	tx := &table.Transaction{Operation: "OPTIMIZE", SchemaString: snap.Metadata().SchemaString}
	var sizes []int64
	var removedBytes, addedBytes int64
	dvs := 0
	for _, r := range bins {
		tx.Removes = append(tx.Removes, r.removes...)
		tx.Adds = append(tx.Adds, r.adds...)
		removedBytes += r.bin.Bytes
		for _, a := range r.adds {
			sizes = append(sizes, a.Size)
			addedBytes += a.Size
		}
		for _, f := range r.bin.Files {
			if f.DeletionVector != nil {
				dvs++
			}
		}
	}
	slices.Sort(sizes)
	pct := func(p int) string {
		if len(sizes) == 0 {
			return "0"
		}
		return strconv.FormatInt(sizes[(len(sizes)-1)*p/100], 10)
	}
	predicate := "[]"
	if opts.Where != "" {
		b, _ := json.Marshal([]string{opts.Where})
		predicate = string(b)
	}
	tx.Parameters = map[string]string{"predicate": predicate, "zOrderBy": "[]", "auto": "false"}
	tx.Metrics = map[string]string{
		"numRemovedFiles":           strconv.Itoa(len(tx.Removes)),
		"numAddedFiles":             strconv.Itoa(len(tx.Adds)),
		"numRemovedBytes":           strconv.FormatInt(removedBytes, 10),
		"numAddedBytes":             strconv.FormatInt(addedBytes, 10),
		"minFileSize":               pct(0),
		"p25FileSize":               pct(25),
		"p50FileSize":               pct(50),
		"p75FileSize":               pct(75),
		"maxFileSize":               pct(100),
		"numDeletionVectorsRemoved": strconv.Itoa(dvs),
	}
	return tx
}

// refused reports whether a commit error says the commit was not written: the table
// refused it before the put. Any other error (a failed or timed-out put) leaves its
// outcome unknown.
func refused(err error) bool {
	var cde *table.ConcurrentDeleteError
	var mce *table.MetadataChangedError
	var ufe *table.UnsupportedFeatureError
	var tce *table.TxnConflictError
	var ite *table.InvalidTableError
	return errors.As(err, &cde) || errors.As(err, &mce) || errors.As(err, &ufe) || errors.As(err, &tce) || errors.As(err, &ite)
}

// discard deletes the uploaded files of bins that will not be committed; a failed
// delete leaves an orphan for vacuum.
func discard(ctx context.Context, tbl *table.Table, bins []*rewritten) {
	ctx = context.WithoutCancel(ctx)
	for _, r := range bins {
		for _, a := range r.adds {
			if key, err := table.DecodePath(a.Path); err == nil {
				tbl.Store().Delete(ctx, key)
			}
		}
	}
}
