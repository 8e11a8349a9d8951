package table

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// Time travel and history: the versions still reconstructable from the log (a checkpoint
// at or before them and every commit after it), and what each commit says it did.

// LoadVersion reads the snapshot at version. It fails, naming the versions that can be
// read, when the table never reached version or log cleanup removed what rebuilding
// it needs.
func LoadVersion(ctx context.Context, store storage.Storage, version int64) (*Snapshot, error) {
	if version < 0 {
		return nil, fmt.Errorf("table %s: version %d: versions start at 0", store.URI(), version)
	}
	s, err := load(ctx, store, loadConfig{upTo: version, fromCheckpoint: -1})
	var ie *InvalidTableError
	if errors.As(err, &ie) || errors.Is(err, ErrNotATable) {
		if oldest, latest, rerr := readableVersions(ctx, store); rerr == nil && (version < oldest || version > latest) {
			return nil, fmt.Errorf("table %s: version %d cannot be read: the log holds versions %d to %d", store.URI(), version, oldest, latest)
		}
	}
	if err != nil {
		return nil, err
	}
	if s.version != version {
		return nil, fmt.Errorf("table %s: version %d does not exist: the latest is %d", store.URI(), version, s.version)
	}
	return s, nil
}

// readableVersions is the range of versions the log can rebuild: from the oldest
// checkpoint (or version 0) to the latest commit.
func readableVersions(ctx context.Context, store storage.Storage) (oldest, latest int64, err error) {
	files, err := listLog(ctx, store, "")
	if err != nil {
		return 0, 0, err
	}
	oldest, latest = -1, -1
	for _, f := range files {
		switch f.kind {
		case logCommit:
			if oldest < 0 && f.version == 0 {
				oldest = 0
			}
			latest = max(latest, f.version)
		case logCheckpoint, logCheckpointMP, logCheckpointV2:
			if oldest < 0 || f.version < oldest {
				oldest = f.version
			}
			latest = max(latest, f.version)
		}
	}
	if latest < 0 {
		return 0, 0, fmt.Errorf("table %s: %w", store.URI(), ErrNotATable)
	}
	return max(oldest, 0), latest, nil
}

// HistoryEntry is one commit as DESCRIBE HISTORY shows it.
type HistoryEntry struct {
	Version int64
	// Timestamp is the commit's inCommitTimestamp when it has one, else the time its
	// log file was written.
	Timestamp time.Time
	// CommitInfo is the commit's provenance, nil when the writer wrote none.
	CommitInfo *CommitInfo
}

// History returns the commits still in the log, newest first; limit > 0 keeps that
// many.
func History(ctx context.Context, store storage.Storage, limit int) ([]HistoryEntry, error) {
	files, err := listLog(ctx, store, "")
	if err != nil {
		return nil, fmt.Errorf("table %s: history: %w", store.URI(), err)
	}
	commits := slices.DeleteFunc(files, func(f logFile) bool { return f.kind != logCommit })
	if len(commits) == 0 {
		return nil, fmt.Errorf("table %s: %w", store.URI(), ErrNotATable)
	}
	slices.Reverse(commits)
	if limit > 0 && len(commits) > limit {
		commits = commits[:limit]
	}
	out := make([]HistoryEntry, 0, len(commits))
	for _, f := range commits {
		data, err := store.Get(ctx, f.key)
		if errors.Is(err, storage.ErrNotFound) {
			continue // cleaned up while we read
		}
		if err != nil {
			return nil, fmt.Errorf("table %s: history: %w", store.URI(), err)
		}
		actions, err := decodeCommit(data)
		if err != nil {
			return nil, &InvalidTableError{Table: store.URI(), Reason: fmt.Sprintf("version %d: %v", f.version, err)}
		}
		e := HistoryEntry{Version: f.version, Timestamp: f.modTime}
		for _, a := range actions {
			if a.CommitInfo != nil {
				e.CommitInfo = a.CommitInfo
				if ict := a.CommitInfo.InCommitTimestamp; ict != nil {
					e.Timestamp = time.UnixMilli(*ict)
				}
				break
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// VersionAt returns the latest version committed at or before t, by the timestamps
// History reports.
func VersionAt(ctx context.Context, store storage.Storage, t time.Time) (int64, error) {
	h, err := History(ctx, store, 0)
	if err != nil {
		return 0, err
	}
	for _, e := range h { // newest first
		if !e.Timestamp.After(t) {
			return e.Version, nil
		}
	}
	oldest := h[len(h)-1]
	return 0, fmt.Errorf("table %s: no version at or before %s: the oldest in the log, %d, is from %s",
		store.URI(), t.UTC().Format(time.RFC3339), oldest.Version, oldest.Timestamp.UTC().Format(time.RFC3339))
}
