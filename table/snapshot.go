package table

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// Snapshot is the state of a table at one version: protocol, metadata, live data files
// and the latest txn version of every application.
//
// A Snapshot handed out by Load or a Table never changes: later commits and reads of the
// same Table build on a copy (see Table), so it may be kept and read from any number of
// goroutines. What its methods return is the caller's to keep, except the *StructType of
// Schema and the *Add values of Files, which are shared and must not be modified.
type Snapshot struct {
	uri      string
	version  int64
	protocol *Protocol
	metadata *Metadata
	schema   *StructType
	files    map[fileKey]*Add
	txns     map[string]Txn
	// tombstones are removed files, kept for checkpoints until their retention ends.
	tombstones map[fileKey]*Remove
	domains    map[string]*DomainMetadata
	// inCommitTimestamp is the inCommitTimestamp of the commit at version, 0 when that
	// commit has none or was not replayed (the snapshot came from a checkpoint).
	inCommitTimestamp int64
	// checkpointVersion is the version of the checkpoint the snapshot was loaded from,
	// or that its Table last wrote; -1 when it was replayed from commits only.
	checkpointVersion int64
	// noFiles is set for the state of a ForAppending handle: add and remove actions are
	// not kept, so files and tombstones stay empty.
	noFiles bool
}

type fileKey struct {
	path string // decoded path
	dv   string // deletion vector unique id
}

func newSnapshot(uri string, cfg loadConfig) *Snapshot {
	return &Snapshot{uri: uri, version: -1, checkpointVersion: -1, files: make(map[fileKey]*Add), txns: make(map[string]Txn),
		tombstones: make(map[fileKey]*Remove), domains: make(map[string]*DomainMetadata), noFiles: cfg.noFiles}
}

// clone returns a copy that can change without changing s. The actions the maps point
// to are shared: apply replaces them, never modifies them.
func (s *Snapshot) clone() *Snapshot {
	c := *s
	c.files = maps.Clone(s.files)
	c.txns = maps.Clone(s.txns)
	c.tombstones = maps.Clone(s.tombstones)
	c.domains = maps.Clone(s.domains)
	return &c
}

// Version is the table version the snapshot reflects.
func (s *Snapshot) Version() int64 { return s.version }

// Protocol returns the protocol action in force.
func (s *Snapshot) Protocol() Protocol {
	p := *s.protocol
	p.ReaderFeatures, p.WriterFeatures = slices.Clone(p.ReaderFeatures), slices.Clone(p.WriterFeatures)
	return p
}

// Metadata returns the metaData action in force.
func (s *Snapshot) Metadata() Metadata {
	m := *s.metadata
	m.Format.Options = maps.Clone(m.Format.Options)
	m.PartitionColumns = slices.Clone(m.PartitionColumns)
	m.Configuration = maps.Clone(m.Configuration)
	return m
}

// Schema returns the parsed table schema. It is shared: do not modify it.
func (s *Snapshot) Schema() *StructType { return s.schema }

// PartitionColumns returns the partition columns in order.
func (s *Snapshot) PartitionColumns() []string { return slices.Clone(s.metadata.PartitionColumns) }

// CheckpointVersion is the version of the checkpoint the snapshot started from, or of
// the newest one its Table wrote since; -1 for none.
func (s *Snapshot) CheckpointVersion() int64 { return s.checkpointVersion }

// NumFiles is the number of live data files, or -1 when the snapshot keeps no file list
// (it comes from a ForAppending handle).
func (s *Snapshot) NumFiles() int {
	if s.noFiles {
		return -1
	}
	return len(s.files)
}

// Files returns the live data files ordered by path, or nil when the snapshot keeps no
// file list (it comes from a ForAppending handle; NumFiles is -1). The *Add values are
// shared: do not modify them.
func (s *Snapshot) Files() []*Add {
	if s.noFiles {
		return nil
	}
	out := slices.Collect(maps.Values(s.files))
	slices.SortFunc(out, func(a, b *Add) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// Txn returns the last version committed by appID, and false when it has none.
func (s *Snapshot) Txn(appID string) (int64, bool) {
	t, ok := s.txns[appID]
	return t.Version, ok
}

// AppTransactions returns appId → version for every application.
func (s *Snapshot) AppTransactions() map[string]int64 {
	out := make(map[string]int64, len(s.txns))
	for k, t := range s.txns {
		out[k] = t.Version
	}
	return out
}

// Load reads the latest snapshot of the table in store: from the newest readable
// checkpoint (found through _last_checkpoint, or by listing when the hint is missing,
// stale or corrupt) plus the JSON commits after it. It returns an error wrapping
// ErrNotATable when there is no log, *UnsupportedFeatureError when reading needs a
// feature this package lacks, and *InvalidTableError for an inconsistent log.
func Load(ctx context.Context, store storage.Storage) (*Snapshot, error) {
	return load(ctx, store, loadConfig{upTo: -1, fromCheckpoint: -1})
}

// loadConfig says which version a load reads and what its snapshot keeps.
type loadConfig struct {
	upTo int64 // the version to load; -1 for the latest
	// fromCheckpoint is a checkpoint version to list the log from before the
	// _last_checkpoint hint is tried (one the caller read or wrote); -1 for none.
	fromCheckpoint int64
	noFiles        bool // see Snapshot.noFiles
	// checkpointKey is a checkpoint file to try first among those of its version (the
	// UUID-named one _last_checkpoint names); "" for none.
	checkpointKey string
}

// load reads the snapshot cfg asks for. A log file that vanished between the listing
// and the read is another writer's log cleanup, run after it wrote a newer checkpoint
// (more likely the shorter delta.logRetentionDuration is): the load starts again from
// a new listing, which finds that checkpoint, up to three times.
func load(ctx context.Context, store storage.Storage, cfg loadConfig) (*Snapshot, error) {
	for attempt := 1; ; attempt++ {
		s, err := loadOnce(ctx, store, cfg)
		if err == nil || !errors.Is(err, storage.ErrNotFound) || attempt == 3 || ctx.Err() != nil {
			return s, err
		}
	}
}

// loadOnce reads the snapshot cfg asks for: from a checkpoint named by cfg or by
// _last_checkpoint when one is usable, else from a listing of the whole log.
func loadOnce(ctx context.Context, store storage.Storage, cfg loadConfig) (*Snapshot, error) {
	from := func(checkpoint int64) (*Snapshot, error) {
		startAfter := ""
		if checkpoint > 0 {
			startAfter = CommitKey(checkpoint - 1)
		}
		files, err := listLog(ctx, store, startAfter)
		if err != nil {
			return nil, fmt.Errorf("table %s: list log: %w", store.URI(), err)
		}
		if cfg.upTo >= 0 {
			files = slices.DeleteFunc(files, func(f logFile) bool { return f.version > cfg.upTo })
		}
		return loadFrom(ctx, store, files, checkpoint >= 0, cfg)
	}
	// Try the newer of the two checkpoints first, then the other, then a full listing.
	var starts []int64
	if lc, ok := readLastCheckpoint(ctx, store); ok && (cfg.upTo < 0 || lc.Version <= cfg.upTo) {
		starts = append(starts, lc.Version)
		cfg.checkpointKey = lc.checkpointKey()
	}
	if cfg.fromCheckpoint >= 0 && !slices.Contains(starts, cfg.fromCheckpoint) {
		starts = append(starts, cfg.fromCheckpoint)
	}
	slices.SortFunc(starts, func(a, b int64) int { return cmp.Compare(b, a) })
	var s *Snapshot
	err := errTryListing
	for _, start := range append(starts, -1) {
		if s, err = from(start); !errors.Is(err, errTryListing) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return s, s.checkReadable()
}

// errTryListing says a load from a known checkpoint (the _last_checkpoint hint, or one
// the Table read or wrote) failed in a way a full listing may fix: the checkpoint is
// missing or unreadable.
var errTryListing = errors.New("checkpoint hint unusable")

// loadFrom builds the snapshot from listed log files: the newest complete checkpoint
// that reads cleanly (classic, multi-part or v2 with its sidecars; at one version, any
// of them), then the commits after it, without gaps. fromHint says the files were
// listed from a checkpoint: when none of them reads, it returns errTryListing. Whether
// the snapshot is readable is the caller's to check.
func loadFrom(ctx context.Context, store storage.Storage, files []logFile, fromHint bool, cfg loadConfig) (*Snapshot, error) {
	uri := store.URI()
	latest := int64(-1)
	hasZero := false
	for _, f := range files {
		switch f.kind {
		case logCommit, logCheckpoint, logCheckpointMP, logCheckpointV2:
			latest = max(latest, f.version)
			hasZero = hasZero || f.kind == logCommit && f.version == 0
		}
	}
	cps := checkpointCandidates(files)
	versions := slices.Sorted(maps.Keys(cps))
	var lastErr error
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		cands := cps[v]
		if k := slices.IndexFunc(cands, func(c []logFile) bool { return c[0].key == cfg.checkpointKey }); k > 0 {
			cands[0], cands[k] = cands[k], cands[0]
		}
		for _, parts := range cands {
			s := newSnapshot(uri, cfg)
			if err := s.loadCheckpoint(ctx, store, v, parts); err != nil {
				lastErr = err // a corrupt checkpoint: try another, an older one, or the commits
				continue
			}
			if err := s.validate(); err != nil {
				return nil, err // a readable checkpoint without protocol or metaData is a broken table
			}
			if err := s.replay(ctx, store, files); err != nil {
				var ie *InvalidTableError
				if lastErr != nil && errors.As(err, &ie) {
					ie.Reason += "; an unreadable checkpoint was passed over: " + lastErr.Error()
				}
				return nil, err
			}
			return s, nil
		}
	}
	if fromHint {
		return nil, errTryListing
	}
	switch {
	case latest < 0:
		return nil, fmt.Errorf("table %s: %w (no commits in %s)", uri, ErrNotATable, LogDir)
	case !hasZero:
		reason := "the log starts after version 0 and has no readable checkpoint"
		if lastErr != nil {
			reason += ": " + lastErr.Error()
		}
		return nil, &InvalidTableError{Table: uri, Reason: reason}
	}
	s := newSnapshot(uri, cfg)
	if err := s.replay(ctx, store, files); err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// replay applies the JSON commits among files, which must follow s.version without gaps.
func (s *Snapshot) replay(ctx context.Context, store storage.Storage, files []logFile) error {
	var todo []logFile
	next := s.version + 1
	for _, f := range files {
		if f.kind != logCommit || f.version <= s.version {
			continue
		}
		if f.version != next {
			return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d is missing (the next one is %d)", next, f.version)}
		}
		todo = append(todo, f)
		next++
	}
	keys := make([]string, len(todo))
	for i, f := range todo {
		keys[i] = f.key
	}
	return getInOrder(ctx, store, keys, func(i int, data []byte, err error) error {
		f := todo[i]
		if err != nil {
			return fmt.Errorf("table %s: read commit %d: %w", s.uri, f.version, err)
		}
		actions, err := decodeCommit(data)
		if err != nil {
			return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d: %v", f.version, err)}
		}
		return s.apply(f.version, actions)
	})
}

// getInOrder reads keys a chunk of replayParallel at a time, concurrently, and calls f
// with each in order, until f returns an error: on an object store, a handle that is
// several commits behind catches up in about one request's time rather than one per
// commit, and memory holds one chunk.
func getInOrder(ctx context.Context, store storage.Storage, keys []string, f func(i int, data []byte, err error) error) error {
	for start := 0; start < len(keys); start += replayParallel {
		chunk := keys[start:min(len(keys), start+replayParallel)]
		data := make([][]byte, len(chunk))
		errs := make([]error, len(chunk))
		var wg sync.WaitGroup
		for i, k := range chunk {
			wg.Go(func() { data[i], errs[i] = store.Get(ctx, k) })
		}
		wg.Wait()
		for i := range chunk {
			if err := f(start+i, data[i], errs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// replayParallel is how many commits replay reads at once.
const replayParallel = 32

// apply applies the actions of one commit and moves the snapshot to version.
func (s *Snapshot) apply(version int64, actions []Action) error {
	s.inCommitTimestamp = 0
	for i := range actions {
		a := &actions[i]
		switch {
		case a.CommitInfo != nil:
			if a.CommitInfo.InCommitTimestamp != nil {
				s.inCommitTimestamp = *a.CommitInfo.InCommitTimestamp
			}
		case a.Add != nil:
			if s.noFiles {
				continue
			}
			k, err := addKey(a.Add.Path, a.Add.DeletionVector)
			if err != nil {
				return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("version %d: %v", version, err)}
			}
			if a.Add.PartitionValues == nil {
				a.Add.PartitionValues = map[string]*string{}
			}
			s.files[k] = a.Add
			delete(s.tombstones, k)
		case a.Remove != nil:
			if s.noFiles {
				continue
			}
			k, err := addKey(a.Remove.Path, a.Remove.DeletionVector)
			if err != nil {
				return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("version %d: %v", version, err)}
			}
			delete(s.files, k)
			s.tombstones[k] = a.Remove
		case a.DomainMetadata != nil:
			if a.DomainMetadata.Removed {
				delete(s.domains, a.DomainMetadata.Domain)
			} else {
				s.domains[a.DomainMetadata.Domain] = a.DomainMetadata
			}
		case a.Txn != nil:
			s.txns[a.Txn.AppID] = *a.Txn
		case a.Protocol != nil:
			s.protocol = a.Protocol
		case a.MetaData != nil:
			schema, err := a.MetaData.Schema()
			var ute *UnknownTypeError
			if errors.As(err, &ute) {
				return &UnsupportedFeatureError{Table: s.uri, Feature: fmt.Sprintf("data type %s (version %d)", ute.Name, version)}
			}
			if err != nil {
				return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("version %d: %v", version, err)}
			}
			if a.MetaData.Configuration == nil {
				a.MetaData.Configuration = map[string]string{}
			}
			s.metadata, s.schema = a.MetaData, schema
		}
	}
	s.version = version
	return nil
}

func (s *Snapshot) validate() error {
	switch {
	case s.protocol == nil:
		return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("no protocol action at version %d", s.version)}
	case s.metadata == nil:
		return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("no metaData action at version %d", s.version)}
	}
	return nil
}

func addKey(path string, dv *DeletionVector) (fileKey, error) {
	p, err := DecodePath(path)
	if err != nil {
		return fileKey{}, err
	}
	return fileKey{path: p, dv: dv.UniqueID()}, nil
}

// decodeCommit parses newline-delimited JSON actions.
func decodeCommit(data []byte) ([]Action, error) {
	var actions []Action
	for a, err := range jsonActions(data) {
		if err != nil {
			return nil, err
		}
		actions = append(actions, a)
	}
	if len(actions) == 0 {
		return nil, errors.New("empty commit")
	}
	return actions, nil
}

// jsonActions yields the actions of newline-delimited JSON (a commit, a JSON
// checkpoint), one a line; an error names its line and ends the sequence.
func jsonActions(data []byte) iter.Seq2[Action, error] {
	return func(yield func(Action, error) bool) {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 0, 64*1024), 256<<20)
		line := 0
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			var a Action
			if err := json.Unmarshal(b, &a); err != nil {
				yield(Action{}, fmt.Errorf("line %d: %w", line, err))
				return
			}
			if !yield(a, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(Action{}, err)
		}
	}
}

// Property returns a table property, or def when it is not set.
func (s *Snapshot) Property(key, def string) string {
	if v, ok := s.metadata.Configuration[key]; ok {
		return v
	}
	return def
}

// tombstoneRetention is delta.deletedFileRetentionDuration (default one week).
func (s *Snapshot) tombstoneRetention() time.Duration {
	d, err := ParseInterval(s.Property("delta.deletedFileRetentionDuration", "interval 1 week"))
	if err != nil {
		return 7 * 24 * time.Hour
	}
	return d
}

// tombstoneCutoff is the deletionTimestamp before which a remove has outlived
// delta.deletedFileRetentionDuration at time now. A remove without a timestamp is kept.
func (s *Snapshot) tombstoneCutoff(now time.Time) int64 {
	return now.Add(-s.tombstoneRetention()).UnixMilli()
}

func expired(r *Remove, cutoff int64) bool {
	return r.DeletionTimestamp != nil && *r.DeletionTimestamp < cutoff
}

// dropExpiredTombstones forgets the removes whose retention has ended: no checkpoint
// writes them any more, and a long-running writer's memory must not grow with them.
func (s *Snapshot) dropExpiredTombstones(now time.Time) {
	if len(s.tombstones) == 0 {
		return
	}
	cutoff := s.tombstoneCutoff(now)
	maps.DeleteFunc(s.tombstones, func(_ fileKey, r *Remove) bool { return expired(r, cutoff) })
}

// logRetention is delta.logRetentionDuration (default 30 days).
func (s *Snapshot) logRetention() time.Duration {
	d, err := ParseInterval(s.Property("delta.logRetentionDuration", "interval 30 days"))
	if err != nil {
		return 30 * 24 * time.Hour
	}
	return d
}

// checkpointInterval is delta.checkpointInterval (default 10).
func (s *Snapshot) checkpointInterval() int64 {
	n, err := strconv.ParseInt(s.Property("delta.checkpointInterval", "10"), 10, 64)
	if err != nil || n <= 0 {
		return 10
	}
	return n
}

// ParseInterval parses a Delta table property interval: "interval 30 days",
// "interval 1 week", "interval 168 hours", "2 days" (units: nanosecond … week, with or
// without a plural s).
func ParseInterval(s string) (time.Duration, error) {
	f := strings.Fields(strings.ToLower(strings.TrimSpace(s)))
	if len(f) > 0 && f[0] == "interval" {
		f = f[1:]
	}
	if len(f) == 0 || len(f)%2 != 0 {
		return 0, fmt.Errorf("invalid interval %q", s)
	}
	var total time.Duration
	for i := 0; i < len(f); i += 2 {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid interval %q", s)
		}
		unit, ok := intervalUnits[strings.TrimSuffix(f[i+1], "s")]
		if !ok {
			return 0, fmt.Errorf("invalid interval %q: unknown unit %q", s, f[i+1])
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

var intervalUnits = map[string]time.Duration{
	"nanosecond": time.Nanosecond, "microsecond": time.Microsecond, "millisecond": time.Millisecond,
	"second": time.Second, "minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour, "week": 7 * 24 * time.Hour,
}

// checkReadable refuses a snapshot whose data this package cannot read correctly.
// Deletion vectors are read (DeletedRows), so live ones are no reason to refuse; nor
// are columns widened by a type change the protocol lists (readers convert the older
// files' values).
func (s *Snapshot) checkReadable() error {
	if err := checkRead(s.uri, s.protocol, s.metadata, false); err != nil || s.schema == nil {
		return err
	}
	return checkTypeChanges(s.uri, s.schema, false)
}

// Writable reports why a writer could not commit to the table at this version (an
// *UnsupportedFeatureError naming the feature it cannot honour), or nil: what Commit
// checks first, for callers that would otherwise do expensive work before committing.
func (s *Snapshot) Writable() error {
	return checkWrite(s.uri, s.protocol, s.metadata, s.schema)
}
