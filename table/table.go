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
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluicelake/sluice/table/storage"
)

// Table is a handle on one Delta table. It caches the latest snapshot it has seen and
// advances it incrementally; its methods are safe for concurrent use.
type Table struct {
	store storage.Storage

	mu   sync.Mutex
	snap *Snapshot // nil until first loaded
	opts options
}

// New returns a handle on the table stored in store. Nothing is read until Snapshot,
// Create or Commit is called.
func New(store storage.Storage, opts ...Option) *Table {
	t := &Table{store: store, opts: defaultOptions()}
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
// last call. The returned snapshot must not be used after a later call on t.
func (t *Table) Snapshot(ctx context.Context) (*Snapshot, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refresh(ctx)
}

func (t *Table) refresh(ctx context.Context) (*Snapshot, error) {
	if t.snap == nil {
		s, err := Load(ctx, t.store)
		if err != nil {
			return nil, err
		}
		t.snap = s
		return s, nil
	}
	if err := t.snap.update(ctx, t.store); err != nil {
		t.snap = nil // start over next time rather than build on a half-applied state
		return nil, err
	}
	return t.snap, t.snap.checkReadable()
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

// Create writes version 0 (protocol and metaData). It returns an error wrapping
// ErrTableExists when version 0 exists already, whoever wrote it.
func (t *Table) Create(ctx context.Context, o CreateOptions) (*Snapshot, error) {
	if err := validateNewSchema(o.Schema, o.PartitionColumns); err != nil {
		return nil, fmt.Errorf("table %s: create: %w", t.URI(), err)
	}
	now := time.Now().UnixMilli()
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
	proto := NewTableProtocol(o.Schema)
	actions := []Action{
		{CommitInfo: t.commitInfo(now, "CREATE TABLE", map[string]string{
			"partitionBy": jsonStringList(o.PartitionColumns),
		}, -1)},
		{Protocol: &proto},
		{MetaData: meta},
	}
	data, err := encodeActions(actions)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.store.PutIfAbsent(ctx, CommitKey(0), data); err != nil {
		if errors.Is(err, storage.ErrExists) {
			return nil, fmt.Errorf("table %s: %w", t.URI(), ErrTableExists)
		}
		return nil, fmt.Errorf("table %s: create: %w", t.URI(), err)
	}
	s := newSnapshot(t.URI())
	if err := s.apply(0, actions); err != nil {
		return nil, err
	}
	t.snap = s
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
