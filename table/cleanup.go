package table

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// Checkpoint writes a checkpoint of the latest snapshot now, whatever the interval, and
// removes expired log files. It is what runs after every delta.checkpointInterval-th
// commit. A table with the v2Checkpoint feature gets a V2-spec checkpoint with
// sidecars (checkpoint_v2.go).
func (t *Table) Checkpoint(ctx context.Context) (version int64, deleted int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.refresh(ctx)
	if err != nil {
		return 0, 0, err
	}
	_, deleted, err = t.checkpoint(ctx)
	return s.version, deleted, err
}

// checkpoint writes a checkpoint of t.snap's version and removes expired log files.
// A ForAppending handle keeps no file list: it writes from a full load of that version,
// held only until the checkpoint is written.
func (t *Table) checkpoint(ctx context.Context) (bool, int, error) {
	now := t.opts.now()
	s := t.snap
	how := "full"
	if s.v2Checkpoints() {
		ok, why, err := s.writeIncrementalCheckpointV2(ctx, t.store, now, sidecarActions)
		if err != nil {
			return false, 0, fmt.Errorf("table %s: %w", t.URI(), err)
		}
		how = "incremental"
		if !ok {
			how = "full (" + why + ")"
		}
	}
	if how != "incremental" {
		if err := t.fullCheckpoint(ctx, now); err != nil {
			return false, 0, err
		}
	}
	t.lastCheckpoint = how
	t.mutable().checkpointVersion = s.version
	if s.Property("delta.enableExpiredLogCleanup", "true") == "false" {
		return true, 0, nil
	}
	n, err := cleanupLog(ctx, t, s, now)
	if err != nil {
		return true, n, fmt.Errorf("table %s: log cleanup: %w", t.URI(), err)
	}
	return true, n, nil
}

// LastCheckpoint says how the handle wrote its last checkpoint: "incremental" (naming
// the previous checkpoint's sidecars again, checkpoint_incremental.go), "full", or
// "full (why an incremental one did not apply)"; "" before the first.
func (t *Table) LastCheckpoint() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastCheckpoint
}

// fullCheckpoint writes a checkpoint of every live file at t.snap's version.
func (t *Table) fullCheckpoint(ctx context.Context, now time.Time) error {
	s := t.snap
	if s.noFiles {
		full, err := load(ctx, t.store, loadConfig{upTo: s.version, fromCheckpoint: s.checkpointVersion})
		if err != nil {
			return fmt.Errorf("checkpoint %d: %w", s.version, err) // err names the table
		}
		if full.version != s.version {
			return fmt.Errorf("table %s: checkpoint %d: the log read back ends at version %d", t.URI(), s.version, full.version)
		}
		s = full
	}
	if err := s.writeCheckpoint(ctx, t.store, now); err != nil {
		return fmt.Errorf("table %s: %w", t.URI(), err)
	}
	return nil
}

// cleanupLog deletes commits, checkpoints and checksums older than
// delta.logRetentionDuration. It keeps the newest expired checkpoint and everything
// after it, so the oldest version left is always covered by a checkpoint and every
// later version can be rebuilt. On a table with the v2Checkpoint feature it then
// deletes the sidecars no checkpoint names any more (cleanupSidecars).
func cleanupLog(ctx context.Context, t *Table, s *Snapshot, now time.Time) (int, error) {
	cutoff := now.Add(-s.logRetention())
	files, err := listExpiredLog(ctx, t, s.version, cutoff)
	if err != nil {
		return 0, err
	}
	keep := int64(-1) // the newest complete checkpoint that is itself expired
	cps := checkpointParts(files)
	for v, parts := range cps {
		if v > s.version {
			continue
		}
		expired := true
		for _, p := range parts {
			expired = expired && p.modTime.Before(cutoff)
		}
		if expired && v > keep {
			keep = v
		}
	}
	if keep <= 0 {
		return 0, nil
	}
	var errs []error
	deleted := 0
	for _, f := range files {
		if f.version < 0 || f.version >= keep || !f.modTime.Before(cutoff) {
			continue
		}
		switch f.kind {
		case logCommit, logCheckpoint, logCheckpointMP, logCheckpointV2, logCRC, logCompaction:
			if err := t.store.Delete(ctx, f.key); err != nil {
				errs = append(errs, err)
				continue
			}
			deleted++
		}
	}
	if s.v2Checkpoints() {
		n, err := cleanupSidecars(ctx, t.store, cps[keep][0].key, cutoff)
		deleted += n
		errs = append(errs, err)
	}
	return deleted, errors.Join(errs...)
}

// cleanupSidecars deletes the sidecar files that are older than cutoff, truncated to
// midnight UTC, and that no checkpoint in the log names (PROTOCOL.md, "Metadata
// Cleanup", steps 4 and 5). The age keeps the sidecars of a checkpoint being written,
// which come before it. A checkpoint that cannot be read stops the deletion.
//
// Finding the sidecars still named means reading every checkpoint left, so that is
// done only when some old sidecar is not named by key, the oldest checkpoint kept. As
// the cutoff is truncated to midnight, the sidecars of the checkpoints cleanup deletes
// become old all at once about once a day, and so does the reading, rather than at
// every checkpoint (as in Spark, whose whole log cleanup truncates the cutoff so).
func cleanupSidecars(ctx context.Context, store storage.Storage, key string, cutoff time.Time) (int, error) {
	cutoff = cutoff.UTC().Truncate(24 * time.Hour)
	old := map[string]string{} // file name → key
	for o, err := range store.List(ctx, sidecarDir, "") {
		if err != nil {
			return 0, fmt.Errorf("list %s: %w", sidecarDir, err)
		}
		name := strings.TrimPrefix(o.Key, sidecarDir)
		if !strings.Contains(name, "/") && o.ModTime.Before(cutoff) {
			old[name] = o.Key
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	named := func(key string) error { // drops from old the sidecars checkpoint key names
		names, err := checkpointSidecars(ctx, store, key)
		if err != nil {
			return fmt.Errorf("sidecars: read checkpoint %s: %w", key, err)
		}
		for _, n := range names {
			delete(old, n)
		}
		return nil
	}
	if err := named(key); err != nil || len(old) == 0 {
		return 0, err
	}
	files, err := listLog(ctx, store, "")
	if err != nil {
		return 0, fmt.Errorf("list log: %w", err)
	}
	for _, f := range files {
		// Multi-part checkpoints are V1 spec: they name no sidecars.
		if (f.kind == logCheckpoint || f.kind == logCheckpointV2) && f.key != key {
			if err := named(f.key); err != nil {
				return 0, err
			}
		}
	}
	var errs []error
	deleted := 0
	for _, k := range slices.Sorted(maps.Values(old)) {
		if err := store.Delete(ctx, k); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted++
	}
	return deleted, errors.Join(errs...)
}

// listExpiredLog lists the log in version order up to the first commit that is not
// expired (or is newer than version), so a long retention does not list the whole log
// every checkpointInterval commits. Later files cannot be deleted: deletion stops at the
// newest expired checkpoint, and a checkpoint is written after its commit.
func listExpiredLog(ctx context.Context, t *Table, version int64, cutoff time.Time) ([]logFile, error) {
	var out []logFile
	for o, err := range t.store.List(ctx, LogDir, "") {
		if err != nil {
			return nil, err
		}
		f := parseLogFile(o)
		if f.kind == logOther {
			continue
		}
		if f.version > version || (f.kind == logCommit && !f.modTime.Before(cutoff)) {
			break
		}
		out = append(out, f)
	}
	return out, nil
}
