package table

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// AppTxn advances one application transaction (a Kafka partition, for the connector).
type AppTxn struct {
	AppID string
	// Prev is the version the batch continues from: the txn version the table must hold
	// for AppID, or -1 when the table must hold none (the batch starts at the start policy).
	Prev int64
	// Version is the new txn version: the last Kafka offset in the batch.
	Version int64
}

// Transaction is one atomic append.
type Transaction struct {
	// Operation, Parameters and Metrics go to commitInfo (operation,
	// operationParameters, operationMetrics). Operation defaults to "STREAMING UPDATE".
	Operation  string
	Parameters map[string]string
	Metrics    map[string]string
	// Adds are the data files, already uploaded.
	Adds []Add
	// Removes are files the commit takes out of the table (or re-adds with a new deletion
	// vector: remove the old descriptor, add the new). Each must still be live, with the
	// same deletion vector, in the version the commit lands on; else Commit returns
	// *ConcurrentDeleteError. They need a handle that tracks files (not ForAppending).
	Removes []Remove
	// AppTxns are checked against the table and advanced, all or none.
	AppTxns []AppTxn
	// SchemaString is the schema the data files were written with. Commit refuses when
	// another writer changed the table so that these files no longer fit it.
	SchemaString string
	// Metadata, when set, replaces the table metadata in the same commit (schema
	// evolution); its schema must also accept the data files, and the rows already in
	// the table: a column's type may change only by a widening the protocol lists, with
	// delta.enableTypeWidening true in the table and in Metadata, and recorded in the
	// field's delta.typeChanges. When the new schema uses a type that needs a table
	// feature the protocol lacks (timestamp_ntz), or records a type change (typeWidening),
	// the same commit upgrades the protocol to reader 3 / writer 7 with that feature.
	Metadata *Metadata
	// BaseSchemaString is the schema Metadata was derived from. When the table's schema
	// is no longer that one (another writer evolved it), Commit refuses with
	// *MetadataChangedError instead of overwriting the other change.
	BaseSchemaString string
}

// CommitResult reports a successful commit.
type CommitResult struct {
	Version  int64
	Attempts int // 1 when the first put won
	// Checkpointed is true when the commit was followed by a checkpoint.
	Checkpointed bool
	// CheckpointDue is true when the commit reached a checkpoint interval on a handle
	// that defers checkpoints (DeferCheckpoints): the caller should write one.
	CheckpointDue bool
	// CheckpointErr is a failed checkpoint or log cleanup after the commit. The commit
	// itself succeeded: a failed checkpoint never fails ingestion.
	CheckpointErr error
	// LogFilesDeleted counts expired log files removed after the checkpoint.
	LogFilesDeleted int
}

// Commit appends tx as the next version with optimistic concurrency (DESIGN.md,
// "Exactly-once"): it checks every AppTxn against the latest snapshot, writes the next
// commit with put-if-absent and, when another writer won that version, reads only the
// new commits, checks again and retries with jittered backoff.
//
// It returns *TxnConflictError when a txn no longer continues from the table,
// *MetadataChangedError when a concurrent schema change no longer fits the files, and
// *UnsupportedFeatureError when the table cannot be written (or could not be once its
// protocol is upgraded for tx.Metadata). Nothing is written then.
//
// When the handle last saw the table's latest version more than half
// delta.logRetentionDuration ago, Commit reads the log first: by then another writer's
// log cleanup may have deleted the versions after it, which put-if-absent would take
// for free. Snapshots handed out before stay as they were.
func (t *Table) Commit(ctx context.Context, tx *Transaction) (CommitResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Read the log first when the handle may be behind: never loaded, stale, or other
	// writers committed around its last commit (then the next version is most likely
	// taken: one listing is cheaper than a lost put-if-absent and the listing after it).
	if t.snap == nil || t.stale() || t.contended {
		if _, err := t.refresh(ctx); err != nil {
			return CommitResult{}, err
		}
	}
	op := tx.Operation
	if op == "" {
		op = "STREAMING UPDATE"
	}
	// Others committed since this handle's last commit when the version it first tries
	// to put is not the one after that commit.
	othersBefore := t.lastOwn >= 0 && t.snap.version > t.lastOwn
	backoff := t.opts.retryBackoff
	for attempt := 1; ; attempt++ {
		s := t.snap
		if err := t.checkCommit(s, tx); err != nil {
			return CommitResult{}, err
		}
		version := s.version + 1
		ict, err := t.inCommitTimestamp(ctx, s)
		if err != nil {
			return CommitResult{}, err
		}
		actions, err := t.commitActions(s, tx, op, ict)
		if err != nil {
			return CommitResult{}, err
		}
		data, err := encodeActions(actions)
		if err != nil {
			return CommitResult{}, fmt.Errorf("table %s: commit %d: %w", t.URI(), version, err)
		}
		start := t.opts.now()
		err = t.store.PutIfAbsent(ctx, CommitKey(version), data)
		if err == nil {
			// s is t.snap, and changes in place unless it was handed out.
			if err := t.mutable().apply(version, actions); err != nil {
				t.snap = nil
				return CommitResult{}, err
			}
			t.current = start
			t.advanced(version-1, start)
			t.contended = attempt > 1 || othersBefore
			t.lastOwn = version
			res := CommitResult{Version: version, Attempts: attempt}
			switch {
			case version%t.snap.checkpointInterval() != 0:
			case t.opts.deferCheckpoints:
				res.CheckpointDue = true
			default:
				res.Checkpointed, res.LogFilesDeleted, res.CheckpointErr = t.checkpoint(ctx)
			}
			return res, nil
		}
		if !errors.Is(err, storage.ErrExists) {
			return CommitResult{}, fmt.Errorf("table %s: commit %d: %w", t.URI(), version, err)
		}
		// Lost the race: read what the winner wrote, then check and try the next version.
		if attempt >= t.opts.maxAttempts {
			return CommitResult{}, fmt.Errorf("table %s: commit: lost the race for a version %d times in a row", t.URI(), attempt)
		}
		if _, err := t.refresh(ctx); err != nil {
			return CommitResult{}, fmt.Errorf("table %s: commit: re-read after losing version %d: %w", t.URI(), version, err)
		}
		if attempt > 1 {
			sleep := time.Duration(rand.Int64N(int64(backoff)) + 1)
			select {
			case <-time.After(sleep):
			case <-ctx.Done():
				return CommitResult{}, ctx.Err()
			}
			backoff = min(backoff*2, time.Second)
		}
	}
}

func (t *Table) checkCommit(s *Snapshot, tx *Transaction) error {
	if err := checkWrite(s.uri, s.protocol, s.metadata, s.schema); err != nil {
		return err
	}
	for _, a := range tx.AppTxns {
		cur, ok := s.txns[a.AppID]
		actual := int64(-1)
		if ok {
			actual = cur.Version
		}
		if actual != a.Prev {
			return &TxnConflictError{Table: s.uri, AppID: a.AppID, Expected: a.Prev, Actual: actual}
		}
	}
	if len(tx.Adds) > 0 {
		if err := s.checkClustering(); err != nil {
			return err
		}
	}
	if len(tx.Removes) > 0 && s.noFiles {
		return fmt.Errorf("table %s: commit: a handle opened ForAppending cannot remove files", s.uri)
	}
	for i := range tx.Removes {
		if tx.Removes[i].DataChange && s.metadata.Configuration["delta.appendOnly"] == "true" {
			return &UnsupportedFeatureError{Table: s.uri, Feature: "removing data from an append-only table (delta.appendOnly)", Write: true}
		}
		k, err := addKey(tx.Removes[i].Path, tx.Removes[i].DeletionVector)
		if err != nil {
			return fmt.Errorf("table %s: commit: remove: %w", s.uri, err)
		}
		if _, live := s.files[k]; !live {
			return &ConcurrentDeleteError{Table: s.uri, Path: tx.Removes[i].Path}
		}
	}
	if tx.Metadata != nil {
		if !slices.Equal(tx.Metadata.PartitionColumns, s.metadata.PartitionColumns) {
			return &MetadataChangedError{Table: s.uri, Reason: "partition columns differ"}
		}
		if tx.Metadata.ID != s.metadata.ID {
			return &MetadataChangedError{Table: s.uri, Reason: "the table was replaced (metadata id changed)"}
		}
		if tx.BaseSchemaString != "" && tx.BaseSchemaString != s.metadata.SchemaString {
			return &MetadataChangedError{Table: s.uri, Reason: "another writer changed the schema since this change was computed"}
		}
	}
	var target *StructType
	if tx.Metadata != nil {
		var err error
		if target, err = tx.Metadata.Schema(); err != nil {
			return err
		}
		if err := checkColumnMapping(s, tx.Metadata, target); err != nil {
			return err
		}
		// The rows already in the table must read as the new schema: a type changes
		// only by a widening, and only while the table enables it (PROTOCOL.md, "Writer
		// Requirements for Type Widening").
		if err := fitsSchema(s.schema, target, tx.Metadata.TypeWideningEnabled(), ""); err != nil {
			return &SchemaMismatchError{Table: s.uri, Reason: err.Error()}
		}
		if fitsSchema(s.schema, target, false, "") != nil { // a type widens
			if !s.metadata.TypeWideningEnabled() {
				return &MetadataChangedError{Table: s.uri, Reason: "another writer turned delta.enableTypeWidening off, and this change widens a column"}
			}
			if !schemaHasMetadataKey(target, typeChangesKey) {
				return &SchemaMismatchError{Table: s.uri, Reason: "it widens a column without recording it in delta.typeChanges"}
			}
		}
	}
	if tx.SchemaString == "" || tx.SchemaString == s.metadata.SchemaString {
		return nil
	}
	written, err := ParseSchema(tx.SchemaString)
	if err != nil {
		return err
	}
	widen := supportsTypeWidening(s.protocol)
	if target == nil {
		target = s.schema
	} else {
		widen = widen || schemaHasMetadataKey(target, typeChangesKey) // the commit adds the feature
	}
	if err := fitsSchema(written, target, widen, ""); err != nil {
		return &MetadataChangedError{Table: s.uri, Reason: err.Error()}
	}
	return nil
}

// fitsSchema reports whether files written with schema w can be read as schema t:
// every column of w is in t with the same type, or with a wider one when widen is true
// (the table has type widening), and every column t adds is nullable. Columns match by
// physical name, the name in the files: under column mapping a renamed column still
// fits, and a column dropped and added again under its old name does not.
func fitsSchema(w, t *StructType, widen bool, prefix string) error {
	for _, tf := range t.Fields {
		wf := fieldByPhysicalName(w, tf.PhysicalName())
		if wf == nil {
			if !tf.Nullable {
				return fmt.Errorf("column %s%s was added as NOT NULL", prefix, tf.Name)
			}
			continue
		}
		if err := fitsType(wf.Type, tf.Type, widen, prefix+tf.Name); err != nil {
			return err
		}
		if wf.Nullable && !tf.Nullable {
			return fmt.Errorf("column %s%s became NOT NULL", prefix, tf.Name)
		}
	}
	for _, wf := range w.Fields {
		if fieldByPhysicalName(t, wf.PhysicalName()) == nil {
			return fmt.Errorf("column %s%s was dropped", prefix, wf.Name)
		}
	}
	return nil
}

// fitsType is fitsSchema for the values of one column, struct field, array element or
// map key or value at path.
func fitsType(w, t DataType, widen bool, path string) error {
	switch tt := t.(type) {
	case *StructType:
		if ws, ok := w.(*StructType); ok {
			return fitsSchema(ws, tt, widen, path+".")
		}
	case *ArrayType:
		if wa, ok := w.(*ArrayType); ok {
			if wa.ContainsNull && !tt.ContainsNull {
				return fmt.Errorf("column %s: the array's elements became NOT NULL", path)
			}
			return fitsType(wa.ElementType, tt.ElementType, widen, path+".element")
		}
	case *MapType:
		if wm, ok := w.(*MapType); ok {
			if wm.ValueContainsNull && !tt.ValueContainsNull {
				return fmt.Errorf("column %s: the map's values became NOT NULL", path)
			}
			if err := fitsType(wm.KeyType, tt.KeyType, widen, path+".key"); err != nil {
				return err
			}
			return fitsType(wm.ValueType, tt.ValueType, widen, path+".value")
		}
	default:
		if w.String() == t.String() || widen && CanWiden(w, t) {
			return nil
		}
	}
	return fmt.Errorf("column %s changed type from %s to %s", path, w, t)
}

func fieldByPhysicalName(s *StructType, name string) *StructField {
	for _, f := range s.Fields {
		if f.PhysicalName() == name {
			return f
		}
	}
	return nil
}

// inCommitTimestamp is the time of the commit after s on a table with in-commit
// timestamps enabled (PROTOCOL.md, "In-Commit Timestamps"): now, or one millisecond after
// the previous commit's, whichever is later; 0 when the feature is off. The previous
// commit's is read from its file when s came from a checkpoint.
func (t *Table) inCommitTimestamp(ctx context.Context, s *Snapshot) (int64, error) {
	if !(s.protocol.MinWriterVersion == 7 && slices.Contains(s.protocol.WriterFeatures, "inCommitTimestamp") &&
		s.metadata.Configuration["delta.enableInCommitTimestamps"] == "true") {
		return 0, nil
	}
	prev := s.inCommitTimestamp
	if prev == 0 && s.version >= 0 {
		data, err := t.store.Get(ctx, CommitKey(s.version))
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return 0, fmt.Errorf("table %s: commit: read the previous commit's timestamp: %w", t.URI(), err)
		}
		if actions, err := decodeCommit(data); err == nil {
			for _, a := range actions {
				if a.CommitInfo != nil && a.CommitInfo.InCommitTimestamp != nil {
					prev = *a.CommitInfo.InCommitTimestamp
				}
			}
		}
	}
	return max(t.opts.now().UnixMilli(), prev+1), nil
}

// commitActions renders tx as the commit after s. The actions are copies of tx's, so
// that the snapshot they are applied to does not change when the caller reuses tx.
// ict is the commit's in-commit timestamp, 0 when the table has none.
func (t *Table) commitActions(s *Snapshot, tx *Transaction, op string, ict int64) ([]Action, error) {
	now := t.opts.now().UnixMilli()
	actions := make([]Action, 0, 4+len(tx.AppTxns)+len(tx.Removes)+len(tx.Adds))
	ci := t.commitInfo(now, op, tx.Parameters, s.version)
	ci.OperationMetrics = tx.Metrics
	if len(tx.Removes) > 0 {
		blind := false // it read the files it removes
		ci.IsBlindAppend = &blind
	}
	if ict != 0 {
		ci.Timestamp, ci.InCommitTimestamp = ict, &ict
	}
	actions = append(actions, Action{CommitInfo: ci})
	var features []string
	for i := range tx.Adds {
		if tx.Adds[i].DeletionVector != nil {
			features = []string{"deletionVectors"}
			break
		}
	}
	if tx.Metadata != nil || len(features) > 0 {
		meta, schema := s.metadata, s.schema
		if tx.Metadata != nil {
			var err error
			if schema, err = tx.Metadata.Schema(); err != nil {
				return nil, fmt.Errorf("table %s: commit: new metadata: %w", t.URI(), err)
			}
			meta = tx.Metadata
		}
		if p, upgraded := protocolFor(*s.protocol, schema, features...); upgraded {
			if err := checkWrite(s.uri, &p, meta, schema); err != nil {
				return nil, err
			}
			actions = append(actions, Action{Protocol: &p})
		}
	}
	if tx.Metadata != nil {
		m := *tx.Metadata
		m.Format.Options = maps.Clone(m.Format.Options)
		m.PartitionColumns = slices.Clone(m.PartitionColumns)
		m.Configuration = maps.Clone(m.Configuration)
		actions = append(actions, Action{MetaData: &m})
	}
	for _, a := range tx.AppTxns {
		actions = append(actions, Action{Txn: &Txn{AppID: a.AppID, Version: a.Version, LastUpdated: &now}})
	}
	removes := slices.Clone(tx.Removes)
	for i := range removes {
		if removes[i].DeletionTimestamp == nil {
			removes[i].DeletionTimestamp = &now
		}
		actions = append(actions, Action{Remove: &removes[i]})
	}
	adds := slices.Clone(tx.Adds)
	if s.rowTrackingOn() {
		hwm, err := s.assignRowIDs(s.version+1, adds, tx.Removes)
		if err != nil {
			return nil, err
		}
		if hwm != nil {
			actions = append(actions, Action{DomainMetadata: hwm})
		}
	}
	for i := range adds {
		actions = append(actions, Action{Add: &adds[i]})
	}
	return actions, nil
}

func jsonStringList(ss []string) string {
	b, _ := encodeJSON(ss)
	return string(b)
}
