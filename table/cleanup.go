package table

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Checkpoint writes a checkpoint of the latest snapshot now, whatever the interval, and
// removes expired log files. It is what runs after every delta.checkpointInterval-th
// commit. written is false when the table takes no checkpoint from Sluice.
func (t *Table) Checkpoint(ctx context.Context) (version int64, written bool, deleted int, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.refresh(ctx)
	if err != nil {
		return 0, false, 0, err
	}
	written, deleted, err = t.checkpoint(ctx)
	return s.version, written, deleted, err
}

// checkpoint writes a checkpoint of t.snap's version and removes expired log files.
// A ForAppending handle keeps no file list: it writes from a full load of that version,
// held only until the checkpoint is written. A table with the v2Checkpoint feature
// gets no checkpoint and no log cleanup (Snapshot.v2Checkpoints).
func (t *Table) checkpoint(ctx context.Context) (bool, int, error) {
	now := t.opts.now()
	s := t.snap
	if s.v2Checkpoints() {
		return false, 0, nil
	}
	if s.noFiles {
		full, err := load(ctx, t.store, loadConfig{upTo: s.version, fromCheckpoint: s.checkpointVersion})
		if err != nil {
			return false, 0, fmt.Errorf("checkpoint %d: %w", s.version, err) // err names the table
		}
		if full.version != s.version {
			return false, 0, fmt.Errorf("table %s: checkpoint %d: the log read back ends at version %d", t.URI(), s.version, full.version)
		}
		s = full
	}
	if err := s.writeCheckpoint(ctx, t.store, now); err != nil {
		return false, 0, fmt.Errorf("table %s: %w", t.URI(), err)
	}
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

// cleanupLog deletes commits, checkpoints and checksums older than
// delta.logRetentionDuration. It keeps the newest expired checkpoint and everything
// after it, so the oldest version left is always covered by a checkpoint and every
// later version can be rebuilt.
func cleanupLog(ctx context.Context, t *Table, s *Snapshot, now time.Time) (int, error) {
	cutoff := now.Add(-s.logRetention())
	files, err := listExpiredLog(ctx, t, s.version, cutoff)
	if err != nil {
		return 0, err
	}
	keep := int64(-1) // the newest complete checkpoint that is itself expired
	for v, parts := range checkpointParts(files) {
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
		case logCommit, logCheckpoint, logCheckpointMP, logCRC, logCompaction:
			if err := t.store.Delete(ctx, f.key); err != nil {
				errs = append(errs, err)
				continue
			}
			deleted++
		}
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
