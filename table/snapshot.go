package table

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluicelake/sluice/table/storage"
)

// Snapshot is the state of a table at one version: protocol, metadata, live data files
// and the latest txn version of every application.
//
// A Snapshot is not safe for concurrent mutation; Table serializes its updates.
type Snapshot struct {
	uri      string
	version  int64
	protocol *Protocol
	metadata *Metadata
	schema   *StructType
	files    map[fileKey]*Add
	txns     map[string]Txn
	// checkpointVersion is the version of the checkpoint the snapshot was loaded from,
	// -1 when it was replayed from commits only.
	checkpointVersion int64
}

type fileKey struct {
	path string // decoded path
	dv   string // deletion vector unique id
}

func newSnapshot(uri string) *Snapshot {
	return &Snapshot{uri: uri, version: -1, checkpointVersion: -1, files: make(map[fileKey]*Add), txns: make(map[string]Txn)}
}

// Version is the table version the snapshot reflects.
func (s *Snapshot) Version() int64 { return s.version }

// Protocol returns the protocol action in force.
func (s *Snapshot) Protocol() Protocol { return *s.protocol }

// Metadata returns the metaData action in force.
func (s *Snapshot) Metadata() Metadata { return *s.metadata }

// Schema returns the parsed table schema.
func (s *Snapshot) Schema() *StructType { return s.schema }

// PartitionColumns returns the partition columns in order.
func (s *Snapshot) PartitionColumns() []string { return slices.Clone(s.metadata.PartitionColumns) }

// CheckpointVersion is the version of the checkpoint the snapshot started from, or -1.
func (s *Snapshot) CheckpointVersion() int64 { return s.checkpointVersion }

// NumFiles is the number of live data files.
func (s *Snapshot) NumFiles() int { return len(s.files) }

// Files returns the live data files ordered by path.
func (s *Snapshot) Files() []*Add {
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

// Load reads the latest snapshot of the table in store. It returns an error wrapping
// ErrNotATable when there is no log, *UnsupportedFeatureError when reading needs a
// feature this package lacks, and *InvalidTableError for an inconsistent log.
func Load(ctx context.Context, store storage.Storage) (*Snapshot, error) {
	s := newSnapshot(store.URI())
	files, err := listLog(ctx, store, "")
	if err != nil {
		return nil, fmt.Errorf("table %s: list log: %w", s.uri, err)
	}
	if err := s.replay(ctx, store, files); err != nil {
		return nil, err
	}
	if s.version < 0 {
		return nil, fmt.Errorf("table %s: %w (no commits in %s)", s.uri, ErrNotATable, LogDir)
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, checkRead(s.uri, s.protocol, s.metadata)
}

// update advances the snapshot to the latest version by reading only the commits after
// its version. It reports whether anything changed.
func (s *Snapshot) update(ctx context.Context, store storage.Storage) (bool, error) {
	files, err := listLog(ctx, store, CommitKey(s.version))
	if err != nil {
		return false, fmt.Errorf("table %s: list log: %w", s.uri, err)
	}
	before := s.version
	if err := s.replay(ctx, store, files); err != nil {
		return false, err
	}
	return s.version != before, s.validate()
}

// replay applies the JSON commits among files, which must follow s.version without gaps.
func (s *Snapshot) replay(ctx context.Context, store storage.Storage, files []logFile) error {
	for _, f := range files {
		if f.kind != logCommit || f.version <= s.version {
			continue
		}
		if s.version >= 0 && f.version != s.version+1 {
			return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d is missing (next is %d)", s.version+1, f.version)}
		}
		if s.version < 0 && f.version != 0 {
			return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("the log starts at commit %d with no checkpoint", f.version)}
		}
		data, err := store.Get(ctx, f.key)
		if err != nil {
			return fmt.Errorf("table %s: read commit %d: %w", s.uri, f.version, err)
		}
		actions, err := decodeCommit(data)
		if err != nil {
			return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d: %v", f.version, err)}
		}
		if err := s.apply(f.version, actions); err != nil {
			return err
		}
	}
	return nil
}

// apply applies the actions of one commit and moves the snapshot to version.
func (s *Snapshot) apply(version int64, actions []Action) error {
	for i := range actions {
		a := &actions[i]
		switch {
		case a.Add != nil:
			k, err := addKey(a.Add.Path, a.Add.DeletionVector)
			if err != nil {
				return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d: %v", version, err)}
			}
			s.files[k] = a.Add
		case a.Remove != nil:
			k, err := addKey(a.Remove.Path, a.Remove.DeletionVector)
			if err != nil {
				return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d: %v", version, err)}
			}
			delete(s.files, k)
		case a.Txn != nil:
			s.txns[a.Txn.AppID] = *a.Txn
		case a.Protocol != nil:
			s.protocol = a.Protocol
		case a.MetaData != nil:
			schema, err := a.MetaData.Schema()
			if err != nil {
				return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("commit %d: %v", version, err)}
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
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		actions = append(actions, a)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(actions) == 0 {
		return nil, errors.New("empty commit")
	}
	return actions, nil
}
