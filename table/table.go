// Package table implements the Delta Lake transaction log for an appending writer and a
// reader of tables written by Spark, delta-rs and others.
//
// It owns the Delta type model and its JSON form, the log actions, snapshot loading,
// protocol gating and optimistic commits. The writer package produces the data files and
// their add actions; the connector drives commits. All I/O to the table location goes
// through table/storage.
package table

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluicelake/sluice/table/storage"
)

// Table is a handle on one Delta table. It caches the latest snapshot it has seen and
// advances it incrementally; its methods are safe for concurrent use.
//
// The snapshots it hands out never change. Rather than build a new snapshot for every
// commit (a copy of a file map that may hold 100k files), it changes its cached one in
// place until that one is handed out, and copies it once at the next change after that
// (copy on write): a committer that does not ask for snapshots in between never copies.
type Table struct {
	store storage.Storage

	mu   sync.Mutex
	snap *Snapshot // nil until first loaded
	// lent says snap was handed out since it last changed: it must not change again.
	lent bool
	// current is when snap was last known to be the latest version: a listing found
	// nothing newer, or the put-if-absent of the next version won (see stale).
	current time.Time
	// contended is set when the handle's last commit lost a race: other writers are
	// committing, so the next commit reads the log first instead of putting a version
	// that is most likely taken already.
	contended bool
	lastOwn   int64 // the version of the handle's last commit, -1 before one
	// lastCheckpoint says how the handle wrote its last checkpoint (LastCheckpoint).
	lastCheckpoint string
	opts           options
}

// New returns a handle on the table stored in store. Nothing is read until Snapshot,
// Create or Commit is called.
func New(store storage.Storage, opts ...Option) *Table {
	t := &Table{store: store, opts: defaultOptions(), lastOwn: -1}
	for _, o := range opts {
		o.apply(&t.opts)
	}
	return t
}

// URI names the table location.
func (t *Table) URI() string { return t.store.URI() }

// Store is the storage the table lives in.
func (t *Table) Store() storage.Storage { return t.store }

// Snapshot returns the latest snapshot, reading only the commits that are new since the
// last call. The snapshot never changes: later calls and commits leave it as it is.
//
// When another writer's log cleanup deleted the commits that follow the cached version,
// it continues from that writer's newer checkpoint; a missing commit no checkpoint
// covers is an *InvalidTableError.
func (t *Table) Snapshot(ctx context.Context) (*Snapshot, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.refresh(ctx)
	if s != nil {
		t.lent = true
	}
	return s, err
}

// loadConfig is how the handle loads: without file lists when it only appends.
func (t *Table) loadConfig() loadConfig {
	return loadConfig{upTo: -1, fromCheckpoint: -1, noFiles: t.opts.appending}
}

// mutable returns t.snap ready to change: a private copy when it has been handed out.
func (t *Table) mutable() *Snapshot {
	if t.lent {
		t.snap, t.lent = t.snap.clone(), false
	}
	return t.snap
}

func (t *Table) refresh(ctx context.Context) (*Snapshot, error) {
	now := t.opts.now()
	if t.snap == nil {
		s, err := load(ctx, t.store, t.loadConfig())
		if err != nil {
			return nil, err
		}
		s.dropExpiredTombstones(now)
		t.snap, t.lent, t.current = s, false, now
		return s, nil
	}
	old := t.snap.version
	files, err := listLog(ctx, t.store, CommitKey(old))
	if err != nil {
		return nil, fmt.Errorf("table %s: list log: %w", t.URI(), err)
	}
	if err := t.advance(ctx, files); err != nil {
		t.snap = nil // start over next time rather than build on a half-applied state
		return nil, err
	}
	t.current = now
	t.advanced(old, now)
	return t.snap, t.snap.checkReadable()
}

// advance moves t.snap to the newest version among files, the log listed after its
// version: it replays the commits that follow or, when another writer's log cleanup
// deleted those (delta.logRetentionDuration), reloads from a newer checkpoint.
func (t *Table) advance(ctx context.Context, files []logFile) error {
	version := t.snap.version
	next := int64(-1) // the first commit after version
	for _, f := range files {
		if f.kind == logCommit && f.version > version {
			next = f.version
			break
		}
	}
	newer := false // a checkpoint after version exists
	for v := range checkpointParts(files) {
		newer = newer || v > version
	}
	var replayErr error
	switch {
	case next == version+1:
		replayErr = t.mutable().replay(ctx, t.store, files)
		if replayErr == nil {
			return t.snap.validate()
		}
		if !newer {
			return replayErr
		}
		// A log cleanup may have deleted commits while they were read: the newer
		// checkpoint covers them.
	case next < 0 && !newer:
		return nil // nothing new
	case !newer:
		return &InvalidTableError{Table: t.URI(), Reason: fmt.Sprintf("commit %d is missing (the next one is %d) and no checkpoint covers it", version+1, next)}
	}
	s, err := loadFrom(ctx, t.store, files, true, t.loadConfig())
	if errors.Is(err, errTryListing) {
		if replayErr != nil {
			return replayErr
		}
		return &InvalidTableError{Table: t.URI(), Reason: fmt.Sprintf("the commits after version %d were deleted (log cleanup) and no later checkpoint is readable", version)}
	}
	if err != nil {
		return err
	}
	t.snap, t.lent = s, false
	return nil
}

// advanced follows a move of t.snap from version old. Each time the version passes a
// multiple of the checkpoint interval, expired tombstones are dropped: a pass over them
// as often as a checkpoint, so a writer's memory does not grow with other writers'
// removes.
func (t *Table) advanced(old int64, now time.Time) {
	s := t.snap
	if n := s.checkpointInterval(); s.version/n != old/n && len(s.tombstones) > 0 {
		t.mutable().dropExpiredTombstones(now)
	}
}

// stale says t.snap may no longer detect a lost race: past half the log retention since
// it was last known to be current, another writer's log cleanup may have deleted the
// commits after it, and the put-if-absent of a deleted version would win, writing a
// commit no reader ever sees. Commit reads the log first then.
func (t *Table) stale() bool {
	return t.opts.now().Sub(t.current) >= t.snap.logRetention()/2
}

// Exists reports whether the table has a log.
func (t *Table) Exists(ctx context.Context) (bool, error) {
	_, err := t.Snapshot(ctx)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotATable):
		return false, nil
	default:
		return false, err
	}
}

// CreateOptions describe a new table.
type CreateOptions struct {
	Name             string
	Description      string
	Schema           *StructType
	PartitionColumns []string
	Configuration    map[string]string
}

// enabledFeatures are the table features that the table properties of a new table turn
// on, so that Create lists them in its protocol; it completes the properties a feature
// needs (the hidden column names of row tracking).
func enabledFeatures(conf map[string]string) []string {
	var fs []string
	if conf["delta.enableDeletionVectors"] == "true" {
		fs = append(fs, "deletionVectors")
	}
	if conf["delta.enableRowTracking"] == "true" {
		fs = append(fs, "domainMetadata", "rowTracking")
		if conf["delta.rowTracking.materializedRowIdColumnName"] == "" {
			conf["delta.rowTracking.materializedRowIdColumnName"] = "_row-id-col-" + uuid.NewString()
		}
		if conf["delta.rowTracking.materializedRowCommitVersionColumnName"] == "" {
			conf["delta.rowTracking.materializedRowCommitVersionColumnName"] = "_row-commit-version-col-" + uuid.NewString()
		}
	}
	if conf["delta.enableInCommitTimestamps"] == "true" {
		fs = append(fs, "inCommitTimestamp")
	}
	if conf["delta.enableChangeDataFeed"] == "true" {
		fs = append(fs, "changeDataFeed")
	}
	if conf["delta.enableTypeWidening"] == "true" {
		fs = append(fs, "typeWidening")
	}
	if mode := conf["delta.columnMapping.mode"]; mode == ColumnMappingName || mode == ColumnMappingID {
		fs = append(fs, "columnMapping")
	}
	if conf["delta.checkpointPolicy"] == "v2" { // Databricks' property for V2-spec checkpoints
		fs = append(fs, "v2Checkpoint")
	}
	return fs
}

// Create writes version 0 (protocol and metaData). Table properties that turn on a table
// feature (delta.enableDeletionVectors, delta.enableRowTracking,
// delta.enableInCommitTimestamps, delta.enableChangeDataFeed, delta.columnMapping.mode,
// delta.checkpointPolicy=v2) list it in the protocol; with column mapping every column
// gets a physical name and id. It returns an error wrapping ErrTableExists when version
// 0 exists already, whoever wrote it.
func (t *Table) Create(ctx context.Context, o CreateOptions) (*Snapshot, error) {
	if err := validateNewSchema(o.Schema, o.PartitionColumns); err != nil {
		return nil, fmt.Errorf("table %s: create: %w", t.URI(), err)
	}
	now := t.opts.now().UnixMilli()
	meta := &Metadata{
		ID:               uuid.NewString(),
		Format:           Format{Provider: "parquet", Options: map[string]string{}},
		SchemaString:     o.Schema.SchemaString(),
		PartitionColumns: append([]string{}, o.PartitionColumns...),
		Configuration:    map[string]string{},
		CreatedTime:      &now,
	}
	if o.Name != "" {
		meta.Name = &o.Name
	}
	if o.Description != "" {
		meta.Description = &o.Description
	}
	for k, v := range o.Configuration {
		meta.Configuration[k] = v
	}
	switch mode := meta.Configuration["delta.columnMapping.mode"]; mode {
	case "", ColumnMappingNone:
	case ColumnMappingName, ColumnMappingID:
		schema := CloneType(o.Schema).(*StructType)
		if err := meta.AssignColumnMapping(schema); err != nil {
			return nil, fmt.Errorf("table %s: create: %w", t.URI(), err)
		}
		meta.SchemaString = schema.SchemaString()
	default:
		return nil, fmt.Errorf("table %s: create: delta.columnMapping.mode %q: want none, name or id", t.URI(), mode)
	}
	proto, _ := protocolFor(NewTableProtocol(o.Schema), o.Schema, enabledFeatures(meta.Configuration)...)
	ci := t.commitInfo(now, "CREATE TABLE", map[string]string{"partitionBy": jsonStringList(o.PartitionColumns)}, -1)
	if slices.Contains(proto.WriterFeatures, "inCommitTimestamp") {
		ci.InCommitTimestamp = &now
	}
	actions := []Action{{CommitInfo: ci}, {Protocol: &proto}, {MetaData: meta}}
	data, err := encodeActions(actions)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	start := t.opts.now()
	if err := t.store.PutIfAbsent(ctx, CommitKey(0), data); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return nil, fmt.Errorf("table %s: %w", t.URI(), ErrTableExists)
		}
		return nil, fmt.Errorf("table %s: create: %w", t.URI(), err)
	}
	s := newSnapshot(t.URI(), t.loadConfig())
	if err := s.apply(0, actions); err != nil {
		return nil, err
	}
	t.snap, t.lent, t.current = s, true, start
	return s, nil
}

func validateNewSchema(s *StructType, partitionColumns []string) error {
	if s == nil || len(s.Fields) == 0 {
		return errors.New("schema has no columns")
	}
	seen := map[string]bool{}
	for _, f := range s.Fields {
		key := strings.ToLower(f.Name)
		if f.Name == "" {
			return errors.New("a column has an empty name")
		}
		if seen[key] {
			return fmt.Errorf("column %q appears twice (names are case-insensitive)", f.Name)
		}
		seen[key] = true
	}
	for _, p := range partitionColumns {
		f := s.Field(p)
		if f == nil {
			return fmt.Errorf("partition column %q is not in the schema", p)
		}
		if f.Type == Void {
			return fmt.Errorf("partition column %q is void (every value null): a void column cannot be a partition column", p)
		}
		if _, ok := f.Type.(PrimitiveType); !ok {
			if _, ok := f.Type.(*DecimalType); !ok {
				return fmt.Errorf("partition column %q has type %s; partition columns must be primitive", p, f.Type)
			}
		}
	}
	if len(partitionColumns) == len(s.Fields) && len(s.Fields) > 0 {
		return errors.New("every column is a partition column; data files need at least one data column")
	}
	return nil
}

func (t *Table) commitInfo(now int64, op string, params map[string]string, readVersion int64) *CommitInfo {
	blind := true
	ci := &CommitInfo{
		Timestamp:           now,
		Operation:           op,
		OperationParameters: params,
		IsBlindAppend:       &blind,
		EngineInfo:          t.opts.engineInfo,
		TxnID:               uuid.NewString(),
	}
	if readVersion >= 0 {
		ci.ReadVersion = &readVersion
	}
	return ci
}
