package table

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table/storage"
)

// Incremental V2 checkpoints. A full checkpoint reads and writes every live file: on a
// table of a million files, seconds of work and a gigabyte of memory every
// delta.checkpointInterval commits, for a handful of new files. A V2-spec checkpoint
// names its file actions in sidecars, and nothing stops two checkpoints from naming
// the same sidecar. So when the commits since the last checkpoint only added files,
// the next checkpoint names the previous one's sidecars again and writes only the new
// adds: its cost follows the commits since the last checkpoint, not the table's size.
//
// It applies when (else the checkpoint is written in full, as before):
//   - _last_checkpoint names a V2-spec Parquet checkpoint older than the version, written
//     by Sluice (its checkpointMetadata says all its file actions are in sidecars, every
//     one tagged with the kind and number of its actions), whose sidecars are all there
//     and younger than half the log retention;
//   - every commit since is still there, was written by Sluice, and holds no remove, no
//     add with dataChange false, no protocol and no metaData action (so each new add is
//     a new file, and the old sidecars still hold exactly the live files and tombstones
//     they held; another engine may add a live file again, with new statistics);
//   - no new add re-adds a path the old tombstones hold (a restore): a checkpoint may not
//     hold an add and a remove of one file.
//
// Tombstones are carried over as they are: they are dropped at their expiry by the next
// full checkpoint (any commit with a remove makes one). The small add sidecars are
// merged as they accumulate, like the levels of a log-structured merge: the newest
// sidecars are rewritten with the new adds while each holds fewer than twice the rows
// being written, so a file is rewritten a logarithmic number of times, sidecars of at
// least settledSidecarRows are never rewritten, and their number stays small.

// settledSidecarRows is the size from which an add sidecar is never merged again.
const settledSidecarRows = sidecarActions / 2

// writeIncrementalCheckpointV2 writes the checkpoint of the snapshot's version from the
// last one and the commits since, when it applies. It reports false (and writes
// nothing) when it does not, and why; the caller then writes a full checkpoint.
func (s *Snapshot) writeIncrementalCheckpointV2(ctx context.Context, store storage.Storage, now time.Time, perSidecar int64) (bool, string, error) {
	base, why, err := s.incrementalBase(ctx, store, now)
	if base == nil || err != nil {
		return false, why, err
	}
	adds, why, err := s.addsSince(ctx, store, base.version)
	if adds == nil || err != nil {
		return false, why, err
	}
	if clash, err := readdsTombstone(ctx, store, base.removes, adds); err != nil || clash != "" {
		return false, "a commit re-adds " + clash + ", which the last checkpoint holds as removed", err
	}

	// The newest small add sidecars are rewritten with the new adds (see above).
	keep := len(base.adds)
	merged := int64(len(adds))
	for keep > 0 && merged > 0 {
		r := sidecarRows(base.adds[keep-1])
		if r >= settledSidecarRows || r >= 2*merged {
			break
		}
		merged += r
		keep--
	}
	sw := sidecarWriter{ctx: ctx, store: store, max: perSidecar, modTime: now.UnixMilli(), done: []cpSidecar{}}
	err = nil
	for _, sc := range base.adds[keep:] {
		if err = copySidecar(ctx, store, sc, &sw); err != nil {
			break
		}
	}
	for i := 0; err == nil && i < len(adds); i++ {
		err = sw.write(sidecarAdds, cpSidecarRow{Add: checkpointAdd(adds[i])})
	}
	if err := sw.end(err); err != nil {
		return false, "", fmt.Errorf("checkpoint %d: %w", s.version, err)
	}

	sidecars := append(append(append([]cpSidecar{}, base.adds[:keep]...), sw.done...), base.removes...)
	totals := sidecarTotals{}
	for _, sc := range sidecars {
		totals.rows += sidecarRows(sc)
		totals.bytes += deref(sc.SizeInBytes)
		if *sc.Tags[tagSidecarActions] == sidecarAdds {
			totals.adds += sidecarRows(sc)
		}
	}
	if err := s.finishCheckpointV2(ctx, store, sw.modTime, sidecars, s.nonFileRows(), totals); err != nil {
		return false, "", err
	}
	return true, "", nil
}

// incrementalBase is the checkpoint an incremental one builds on: its version and its
// sidecars by kind, in order.
type incrementalBase struct {
	version       int64
	adds, removes []cpSidecar
}

// incrementalBase reads the checkpoint _last_checkpoint names, when an incremental
// checkpoint can build on it; else it returns nil and why not.
//
// Its sidecars must all be younger than half the log retention: log cleanup deletes a
// sidecar only once it is older than the whole retention and no remaining checkpoint
// names it, so one it could delete is never named again, even by a writer whose
// _last_checkpoint is stale. It also makes a full checkpoint, which drops expired
// tombstones, at least every half retention.
func (s *Snapshot) incrementalBase(ctx context.Context, store storage.Storage, now time.Time) (*incrementalBase, string, error) {
	lc, ok := readLastCheckpoint(ctx, store)
	switch {
	case !ok:
		return nil, "no _last_checkpoint", nil
	case lc.Version >= s.version:
		return nil, fmt.Sprintf("_last_checkpoint names version %d", lc.Version), nil
	case !strings.HasSuffix(lc.checkpointKey(), ".parquet"):
		return nil, "the last checkpoint is not a V2-spec Parquet one", nil
	}
	key := lc.checkpointKey()
	data, err := store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, "the last checkpoint is gone", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("checkpoint %d: read %s: %w", s.version, key, err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, "the last checkpoint does not read: " + err.Error(), nil
	}
	var v2 v2Rows
	if err := v2.readParquet(pf); err != nil {
		return nil, "the last checkpoint does not read: " + err.Error(), nil
	}
	if len(v2.metadata) != 1 || v2.metadata[0] != lc.Version {
		return nil, "the last checkpoint's checkpointMetadata does not name its version", nil
	}
	if deref(v2.metadataTags[0][tagFileActions]) != fileActionsInTaggedSidecars {
		// Another writer's: its file actions may be inline, or in sidecars that hold both kinds.
		return nil, "the last checkpoint was not written by Sluice", nil
	}
	base := &incrementalBase{version: lc.Version}
	oldest := now.Add(-s.logRetention() / 2).UnixMilli()
	for _, sc := range v2.actions {
		kind := sc.Tags[tagSidecarActions]
		if _, err := strconv.ParseInt(deref(sc.Tags[tagSidecarRows]), 10, 64); err != nil || kind == nil || sc.Path == nil || sc.SizeInBytes == nil {
			return nil, "the last checkpoint names a sidecar Sluice did not tag", nil
		}
		if deref(sc.ModificationTime) < oldest {
			return nil, "the last checkpoint's sidecars are older than half the log retention", nil
		}
		switch *kind {
		case sidecarAdds:
			base.adds = append(base.adds, sc)
		case sidecarRemoves:
			base.removes = append(base.removes, sc)
		default:
			return nil, "the last checkpoint names a sidecar Sluice did not tag", nil
		}
	}
	if gone, err := missingSidecar(ctx, store, v2.actions); err != nil || gone != "" {
		return nil, "sidecar " + gone + " of the last checkpoint is missing", err
	}
	return base, "", nil
}

// missingSidecar returns the path of a sidecar that is not in the store with the size
// its action says, or "". It stats them all at once (a request each).
func missingSidecar(ctx context.Context, store storage.Storage, sidecars []cpSidecar) (string, error) {
	errs := make([]error, len(sidecars))
	sizes := make([]int64, len(sidecars))
	var wg sync.WaitGroup
	for i, sc := range sidecars {
		wg.Go(func() {
			key, err := sidecarKey(deref(sc.Path))
			if err == nil {
				var info storage.ObjectInfo
				info, err = store.Stat(ctx, key)
				sizes[i] = info.Size
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, sc := range sidecars {
		switch {
		case errors.Is(errs[i], storage.ErrNotFound) || errs[i] == nil && sizes[i] != deref(sc.SizeInBytes):
			return deref(sc.Path), nil
		case errs[i] != nil:
			return "", fmt.Errorf("checkpoint: sidecar %s: %w", deref(sc.Path), errs[i])
		}
	}
	return "", nil
}

// sidecarRows is the number of actions a tagged sidecar holds.
func sidecarRows(sc cpSidecar) int64 {
	n, _ := strconv.ParseInt(deref(sc.Tags[tagSidecarRows]), 10, 64)
	return n
}

// addsSince reads the commits after version up to the snapshot's and returns their adds,
// in order, or nil and why an incremental checkpoint does not apply.
func (s *Snapshot) addsSince(ctx context.Context, store storage.Storage, version int64) ([]*Add, string, error) {
	adds := []*Add{}
	seen := map[fileKey]bool{}
	keys := make([]string, 0, s.version-version)
	for v := version + 1; v <= s.version; v++ {
		keys = append(keys, CommitKey(v))
	}
	err := getInOrder(ctx, store, keys, func(i int, data []byte, err error) error {
		v := version + 1 + int64(i)
		if errors.Is(err, storage.ErrNotFound) {
			return notIncremental(fmt.Sprintf("commit %d is gone", v))
		}
		if err != nil {
			return fmt.Errorf("checkpoint %d: read commit %d: %w", s.version, v, err)
		}
		actions, err := decodeCommit(data)
		if err != nil {
			return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d: %v", v, err)}
		}
		engine := "" // commitInfo.engineInfo
		for _, a := range actions {
			switch {
			case a.CommitInfo != nil:
				engine = a.CommitInfo.EngineInfo
			case a.Remove != nil:
				return notIncremental(fmt.Sprintf("commit %d removes files", v))
			case a.MetaData != nil || a.Protocol != nil:
				return notIncremental(fmt.Sprintf("commit %d changes the table's metadata or protocol", v))
			case a.Add != nil && !a.Add.DataChange:
				return notIncremental(fmt.Sprintf("commit %d rewrites files (an add with dataChange false)", v))
			case a.Add != nil:
				k, err := addKey(a.Add.Path, a.Add.DeletionVector)
				if err != nil {
					return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d: %v", v, err)}
				}
				if seen[k] {
					return notIncremental(fmt.Sprintf("commit %d adds %s again", v, a.Add.Path))
				}
				seen[k] = true
				adds = append(adds, a.Add)
			}
		}
		// Another engine may add a live file again with new statistics or tags (the
		// protocol allows it): the old sidecars would then hold a second add of it.
		// Sluice never does; telling which files are live would mean reading them all.
		if engine != "sluice" && !strings.HasPrefix(engine, "sluice/") {
			return notIncremental(fmt.Sprintf("commit %d was written by another engine (%q)", v, engine))
		}
		return nil
	})
	var why notIncremental
	switch {
	case errors.As(err, &why):
		return nil, string(why), nil
	case err != nil:
		return nil, "", err
	}
	return adds, "", nil
}

// notIncremental stops addsSince's reading with why an incremental checkpoint does not
// apply.
type notIncremental string

func (n notIncremental) Error() string { return string(n) }

// readdsTombstone returns the path of a new add that one of the tombstone sidecars
// holds as removed, or "". It reads the tombstones only when there are new adds.
func readdsTombstone(ctx context.Context, store storage.Storage, removes []cpSidecar, adds []*Add) (string, error) {
	if len(adds) == 0 || len(removes) == 0 {
		return "", nil
	}
	paths := make(map[string]string, len(adds))
	for _, a := range adds {
		d, _ := DecodePath(a.Path)
		paths[d] = a.Path
	}
	for _, sc := range removes {
		var clash string
		err := readSidecar(ctx, store, sc, func(row *cpSidecarRow) error {
			if row.Remove != nil && row.Remove.Path != nil {
				d, _ := DecodePath(*row.Remove.Path)
				if p, ok := paths[d]; ok {
					clash = p
					return io.EOF
				}
			}
			return nil
		})
		if err != nil || clash != "" {
			return clash, err
		}
	}
	return "", nil
}

// copySidecar writes the rows of a sidecar the last checkpoint names into w.
func copySidecar(ctx context.Context, store storage.Storage, sc cpSidecar, w *sidecarWriter) error {
	kind := *sc.Tags[tagSidecarActions]
	return readSidecar(ctx, store, sc, func(row *cpSidecarRow) error { return w.write(kind, *row) })
}

// readSidecar calls f with every row of a sidecar, until f returns an error (io.EOF
// stops it without one).
func readSidecar(ctx context.Context, store storage.Storage, sc cpSidecar, f func(*cpSidecarRow) error) error {
	key, err := sidecarKey(deref(sc.Path))
	if err != nil {
		return err
	}
	data, err := store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read sidecar %s: %w", key, err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err == nil {
		err = eachRow(pf, f)
	}
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("sidecar %s: %w", key, err)
	}
	return nil
}
