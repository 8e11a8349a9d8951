package table

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// VacuumOptions say what Vacuum deletes.
type VacuumOptions struct {
	// Retention is how old a file must be, and how long ago it must have been removed,
	// before Vacuum deletes it: time travel to a version within it keeps working. Nil
	// means the table's delta.deletedFileRetentionDuration (default 7 days).
	Retention *time.Duration
	// Force allows a Retention shorter than delta.deletedFileRetentionDuration (Spark's
	// spark.databricks.delta.retentionDurationCheck.enabled=false). A short retention
	// may delete files a concurrent writer uploaded but has not committed yet, and
	// files that readers of older versions still read. Defaults to off.
	Force bool
	// DryRun lists what would be deleted and deletes nothing. Defaults to off.
	DryRun bool
}

// VacuumResult is what Vacuum deleted, or would delete on a dry run.
type VacuumResult struct {
	Version   int64         // the snapshot whose files were kept
	Retention time.Duration // the retention applied
	DryRun    bool
	Files     []storage.ObjectInfo // deleted (or to delete), in key order
	Bytes     int64                // their total size
}

// Vacuum deletes the files in the table's directory that the latest snapshot does not
// need, as Spark's VACUUM does: every file that no live add names (data file or
// deletion vector file), that no remove within the retention names, and that was last
// modified before the retention; files no commit ever named (failed uploads) included.
// It never touches _delta_log, nor hidden files and directories (a name starting with
// "_" or ".", or "metadata"), except partition directories ("_col=…") and
// _change_data, as Spark. Time is the handle's Clock.
//
// A retention below delta.deletedFileRetentionDuration is refused unless opts.Force.
// A table that lists vacuumProtocolCheck is refused with *UnsupportedFeatureError
// unless this package could write to it (PROTOCOL.md, "VACUUM Protocol Check").
//
// Tombstones are only kept for delta.deletedFileRetentionDuration: a retention longer
// than that does not protect the files of older removes that checkpoints dropped.
// A failed delete does not stop the others: their errors are joined, and Files lists
// only what was deleted.
func (t *Table) Vacuum(ctx context.Context, opts VacuumOptions) (VacuumResult, error) {
	snap, err := t.Snapshot(ctx)
	if err != nil {
		return VacuumResult{}, err
	}
	if snap.noFiles { // a ForAppending handle keeps no file list: read it all
		if snap, err = load(ctx, t.store, loadConfig{upTo: snap.version, fromCheckpoint: snap.checkpointVersion}); err != nil {
			return VacuumResult{}, fmt.Errorf("vacuum: %w", err) // err names the table
		}
	}
	if slices.Contains(snap.protocol.WriterFeatures, "vacuumProtocolCheck") {
		if err := checkWrite(t.URI(), snap.protocol, snap.metadata, snap.schema); err != nil {
			return VacuumResult{}, err
		}
	}
	configured := snap.tombstoneRetention()
	retention := configured
	if opts.Retention != nil {
		retention = *opts.Retention
	}
	switch {
	case retention < 0:
		return VacuumResult{}, fmt.Errorf("table %s: vacuum: retention %s is negative", t.URI(), retention)
	case retention < configured && !opts.Force:
		return VacuumResult{}, fmt.Errorf("table %s: vacuum: retention %s is shorter than delta.deletedFileRetentionDuration (%s): "+
			"files that readers of recent versions or uncommitted writes still need could be deleted; force it if no reader or writer is that far behind",
			t.URI(), retention, configured)
	}
	now := t.opts.now()
	keep, err := vacuumKeep(t.store, snap, now.Add(-retention).UnixMilli())
	if err != nil {
		return VacuumResult{}, fmt.Errorf("table %s: vacuum: %w", t.URI(), err)
	}
	res := VacuumResult{Version: snap.version, Retention: retention, DryRun: opts.DryRun}
	cutoff := now.Add(-retention)
	var errs []error
	for o, err := range t.store.List(ctx, "", "") {
		if err != nil {
			return res, fmt.Errorf("table %s: vacuum: list: %w", t.URI(), errors.Join(append(errs, err)...))
		}
		if keep[o.Key] || vacuumHidden(o.Key, snap.metadata.PartitionColumns) || !o.ModTime.Before(cutoff) {
			continue
		}
		if !opts.DryRun {
			if err := t.store.Delete(ctx, o.Key); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		res.Files = append(res.Files, o)
		res.Bytes += o.Size
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("table %s: vacuum: %w", t.URI(), err)
	}
	return res, nil
}

// vacuumKeep returns the keys of the files s still needs: live adds and their
// deletion vector files, and those of the removes at or after cutoff (Unix ms), which
// time travel to a version within the retention reads. A remove without a
// deletionTimestamp is kept. Files outside the table are not listed.
func vacuumKeep(store storage.Storage, s *Snapshot, cutoff int64) (map[string]bool, error) {
	keep := make(map[string]bool, len(s.files))
	add := func(path string, dv *DeletionVector) error {
		if key, ok := storeKey(store, path); ok {
			keep[key] = true
		}
		var key string
		var err error
		switch {
		case dv == nil || dv.StorageType == DVInline:
			return nil
		case dv.StorageType == DVAbsolutePath:
			// A vector outside the table keeps nothing: its key never matches a listed one.
			key, err = DecodePath(dv.PathOrInlineDv)
		default:
			key, err = dvKey(store, dv)
		}
		if err != nil { // its file would be deleted: stop
			return fmt.Errorf("deletion vector of %s: %w", path, err)
		}
		if k, ok := storeKey(store, key); ok {
			keep[k] = true
		}
		return nil
	}
	for k, a := range s.files {
		if err := add(k.path, a.DeletionVector); err != nil {
			return nil, err
		}
	}
	for k, r := range s.tombstones {
		if expired(r, cutoff) {
			continue
		}
		if err := add(k.path, r.DeletionVector); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// storeKey turns a decoded file path (DecodePath) into a key of store, and false for a
// file outside it.
func storeKey(store storage.Storage, path string) (string, bool) {
	if !strings.Contains(path, "://") {
		return path, true
	}
	root := strings.TrimSuffix(store.URI(), "/") + "/"
	return strings.CutPrefix(path, root)
}

// vacuumHidden reports whether key is in _delta_log or is hidden from vacuum: some
// segment starts with "_" or ".", and is neither a partition directory of the table
// nor _change_data, or is "metadata" (Spark's DeltaTableUtils.isHiddenDirectory).
// Other tools keep their own files there (_SUCCESS, .crc files, Iceberg metadata).
func vacuumHidden(key string, partitionColumns []string) bool {
	if strings.HasPrefix(key, LogDir) {
		return true
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "metadata" { // Iceberg metadata of a UniForm table
			return true
		}
		if seg == "" || seg[0] != '_' && seg[0] != '.' || strings.HasPrefix(seg, "_change_data") {
			continue
		}
		partition := slices.ContainsFunc(partitionColumns, func(c string) bool {
			return strings.HasPrefix(seg, EscapePartitionValue(c)+"=")
		})
		if !partition {
			return true
		}
	}
	return false
}
