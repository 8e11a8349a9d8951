package table

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table/storage"
)

// V2 checkpoints (PROTOCOL.md, "V2 Checkpoint Table Feature", "V2 Spec", "Sidecar
// Files"): a checkpoint that holds exactly one checkpointMetadata action and may keep
// its add and remove actions in sidecar files under _delta_log/_sidecars/. It is named
// N.checkpoint.UUID.json or N.checkpoint.UUID.parquet, or, on a table with the
// v2Checkpoint feature, N.checkpoint.parquet like a classic one. Sluice reads all of
// them, and on a table with the feature writes UUID-named Parquet ones whose file
// actions are all in sidecars (writeCheckpointV2), laid out as Spark writes them.

// sidecarDir is the folder of checkpoint sidecar files, relative to the table root.
const sidecarDir = LogDir + "_sidecars/"

// cpV2Row holds the Parquet columns of the two actions only V2-spec checkpoints hold.
// They are read apart from the classic columns (cpRow), and only from files that have
// them.
type cpV2Row struct {
	CheckpointMetadata *cpCheckpointMetadata `parquet:"checkpointMetadata,optional"`
	Sidecar            *cpSidecar            `parquet:"sidecar,optional"`
}

// cpCheckpointMetadata and cpSidecar are the checkpointMetadata and sidecar actions, in
// Parquet as Spark writes them and in JSON (_last_checkpoint) by the same names.
type cpCheckpointMetadata struct {
	Version *int64             `parquet:"version,optional,int(64)" json:"version"`
	Tags    map[string]*string `parquet:"tags,optional" json:"tags,omitempty"`
}

type cpSidecar struct {
	Path             *string            `parquet:"path,optional" json:"path"`
	SizeInBytes      *int64             `parquet:"sizeInBytes,optional,int(64)" json:"sizeInBytes"`
	ModificationTime *int64             `parquet:"modificationTime,optional,int(64)" json:"modificationTime"`
	Tags             map[string]*string `parquet:"tags,optional" json:"tags,omitempty"`
}

// cpV2CheckpointRow is a row of the V2-spec Parquet checkpoints Sluice writes: the
// columns of both specs in the order Spark writes them (txn, add, remove, metaData,
// protocol, domainMetadata, checkpointMetadata, sidecar). Its add and remove columns
// stay empty: those actions are in the sidecars. It is for writing only: parquet-go
// reads the null groups of embedded structs as empty ones, so readers read cpRow and
// cpV2Row apart.
type cpV2CheckpointRow struct {
	cpRow
	cpV2Row
}

// cpSidecarRow is a row of a sidecar file, which holds the add and remove columns only.
type cpSidecarRow struct {
	Add    *cpAdd    `parquet:"add,optional"`
	Remove *cpRemove `parquet:"remove,optional"`
}

var (
	v2CheckpointSchema = parquet.NewSchema("spark_schema", parquet.SchemaOf(new(cpV2CheckpointRow)))
	sidecarSchema      = parquet.NewSchema("spark_schema", parquet.SchemaOf(new(cpSidecarRow)))
)

// v2Rows collects what the V2-spec rows of one checkpoint say.
type v2Rows struct {
	metadata []int64 // the version of each checkpointMetadata action
	// metadataTags are the tags of each checkpointMetadata action, from Parquet
	// checkpoints only.
	metadataTags []map[string]*string
	sidecars     []string // sidecar paths as written (URI-encoded)
	// actions are the sidecar actions whole, from Parquet checkpoints only.
	actions []cpSidecar
}

// lastCheckpointV2 is the v2Checkpoint field of _last_checkpoint. Readers that know it
// (Spark) take the checkpoint's non-file actions and sidecar list from it rather than
// from the checkpoint; those two lists are written here and never read, so they stay raw.
type lastCheckpointV2 struct {
	Path             string          `json:"path"` // the checkpoint's file name in _delta_log/
	SizeInBytes      int64           `json:"sizeInBytes"`
	ModificationTime int64           `json:"modificationTime"`
	NonFileActions   json.RawMessage `json:"nonFileActions,omitempty"`
	SidecarFiles     json.RawMessage `json:"sidecarFiles,omitempty"`
}

// checkpointKey returns the log key of the UUID-named checkpoint the hint names, or ""
// when it names none.
func (lc lastCheckpoint) checkpointKey() string {
	if lc.V2Checkpoint == nil || lc.V2Checkpoint.Path == "" {
		return ""
	}
	return LogDir + path.Base(lc.V2Checkpoint.Path)
}

// readParquet collects the V2-spec rows of a checkpoint or sidecar file.
func (v2 *v2Rows) readParquet(pf *parquet.File) error {
	if !slices.ContainsFunc(pf.Schema().Fields(), func(f parquet.Field) bool {
		return f.Name() == "checkpointMetadata" || f.Name() == "sidecar"
	}) {
		return nil // V1 spec
	}
	return eachRow(pf, func(row *cpV2Row) error {
		switch {
		case row.CheckpointMetadata != nil:
			v2.metadata = append(v2.metadata, deref(row.CheckpointMetadata.Version))
			v2.metadataTags = append(v2.metadataTags, row.CheckpointMetadata.Tags)
		case row.Sidecar != nil && row.Sidecar.Path != nil:
			v2.sidecars = append(v2.sidecars, *row.Sidecar.Path)
			v2.actions = append(v2.actions, *row.Sidecar)
		}
		return nil
	})
}

// applyJSONCheckpoint applies the actions of a UUID-named JSON checkpoint, one a line
// as in a commit, and collects its V2-spec actions into v2.
func (s *Snapshot) applyJSONCheckpoint(version int64, data []byte, v2 *v2Rows) error {
	b := actionBatch{s: s, version: version}
	for a, err := range jsonActions(data) {
		if err != nil {
			return err
		}
		switch {
		case a.CheckpointMetadata != nil:
			var m struct {
				Version int64 `json:"version"`
			}
			if err := json.Unmarshal(*a.CheckpointMetadata, &m); err != nil {
				return fmt.Errorf("checkpointMetadata: %w", err)
			}
			v2.metadata = append(v2.metadata, m.Version)
		case a.Sidecar != nil:
			p, err := sidecarPath(*a.Sidecar)
			if err != nil {
				return err
			}
			v2.sidecars = append(v2.sidecars, p)
		case s.noFiles && (a.Add != nil || a.Remove != nil):
			// a ForAppending snapshot keeps no files
		default:
			if err := b.add(a); err != nil {
				return err
			}
		}
	}
	return b.flush()
}

// sidecarPath returns the path of a sidecar action in JSON.
func sidecarPath(action json.RawMessage) (string, error) {
	var sc struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(action, &sc); err != nil || sc.Path == "" {
		return "", fmt.Errorf("sidecar action %s: no path", action)
	}
	return sc.Path, nil
}

// loadSidecars checks the V2-spec rows of the checkpoint made of parts and applies the
// add and remove actions of every sidecar it names. A sidecar that cannot be read fails
// the checkpoint, so that no file is dropped: the reader tries another checkpoint or the
// commits. A ForAppending snapshot keeps no files and reads no sidecars.
func (s *Snapshot) loadSidecars(ctx context.Context, store storage.Storage, version int64, parts []logFile, v2 v2Rows) error {
	cp := parts[0].key
	switch {
	case len(v2.metadata) > 1:
		return fmt.Errorf("checkpoint %s: %d checkpointMetadata actions, want one", cp, len(v2.metadata))
	case len(v2.metadata) == 1 && v2.metadata[0] != version:
		return fmt.Errorf("checkpoint %s: checkpointMetadata says version %d", cp, v2.metadata[0])
	case len(v2.metadata) == 0 && parts[0].kind == logCheckpointV2:
		return fmt.Errorf("checkpoint %s: no checkpointMetadata action (a UUID-named checkpoint must have one)", cp)
	}
	// Sidecars without checkpointMetadata are invalid too (V1 spec has none), but
	// reading them loses nothing.
	if s.noFiles {
		return nil
	}
	for _, p := range v2.sidecars {
		key, err := sidecarKey(p)
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", cp, err)
		}
		data, err := store.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("checkpoint %s: read sidecar %s: %w", cp, key, err)
		}
		var nested v2Rows
		if err := s.applyParquetCheckpoint(version, data, &nested); err != nil {
			return fmt.Errorf("checkpoint %s: sidecar %s: %w", cp, key, err)
		}
		if len(nested.metadata)+len(nested.sidecars) > 0 {
			return fmt.Errorf("checkpoint %s: sidecar %s holds checkpointMetadata or sidecar actions", cp, key)
		}
	}
	return nil
}

// sidecarKey returns the key of a sidecar from the path of its sidecar action: a file
// name in _delta_log/_sidecars/, or a URI. A sidecar always lives in the table's own
// _sidecars folder (PROTOCOL.md, "Sidecar File Information"), so a URI is read by its
// file name there, which also holds for a table copied elsewhere.
func sidecarKey(p string) (string, error) {
	d, err := DecodePath(p)
	if err != nil {
		return "", fmt.Errorf("sidecar %w", err)
	}
	if strings.Contains(d, "://") {
		d = path.Base(d)
	}
	if d == "" || slices.Contains(strings.Split(d, "/"), "..") {
		return "", fmt.Errorf("sidecar path %q is outside %s", p, sidecarDir)
	}
	return sidecarDir + d, nil
}

// v2Checkpoints says the table has the v2Checkpoint feature: its checkpoints are
// written by writeCheckpointV2, and its log cleanup deletes unreferenced sidecars too.
func (s *Snapshot) v2Checkpoints() bool {
	return s.protocol.MinWriterVersion == 7 && slices.Contains(s.protocol.WriterFeatures, "v2Checkpoint")
}

// sidecarActions bounds the add and remove actions of one sidecar file. Readers (this
// package among them) fetch a sidecar whole, so it bounds what they hold at once: tens
// of MB with statistics. Spark writes one sidecar per task of its checkpoint job.
const sidecarActions = 100_000

// lastCheckpointActions bounds the non-file actions and the sidecars _last_checkpoint
// lists: a longer list is left out, and readers read the checkpoint instead (Spark's
// lastCheckpoint.nonFileActions.threshold and lastCheckpoint.sidecars.threshold).
const lastCheckpointActions = 30

// writeCheckpointV2 writes a V2-spec checkpoint of the snapshot, as Spark lays them out:
// the add and remove actions in sidecar files of at most perSidecar actions each
// (_delta_log/_sidecars/UUID.parquet), then the UUID-named Parquet checkpoint with
// checkpointMetadata, a sidecar action per sidecar file and the non-file actions, then
// _last_checkpoint naming it. The sidecars come first, so a checkpoint never names a
// missing one; a failure leaves sidecars no checkpoint names, which log cleanup deletes
// once they are past the retention. Adds and removes go to sidecars of their own,
// tagged with the kind and number of their actions, so that the next checkpoint can
// name them again (checkpoint_incremental.go).
func (s *Snapshot) writeCheckpointV2(ctx context.Context, store storage.Storage, now time.Time, perSidecar int64) error {
	sw := sidecarWriter{ctx: ctx, store: store, max: perSidecar, modTime: now.UnixMilli(), done: []cpSidecar{}}
	var nonFile []cpRow
	var adds int64
	var err error
	for row := range s.checkpointRows(now) {
		switch {
		case row.Add != nil:
			adds++
			err = sw.write(sidecarAdds, cpSidecarRow{Add: row.Add})
		case row.Remove != nil:
			err = sw.write(sidecarRemoves, cpSidecarRow{Remove: row.Remove})
		default:
			nonFile = append(nonFile, row)
		}
		if err != nil {
			break
		}
	}
	if err := sw.end(err); err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.version, err)
	}
	return s.finishCheckpointV2(ctx, store, sw.modTime, sw.done, nonFile, sidecarTotals{rows: sw.rows, bytes: sw.bytes, adds: adds})
}

// sidecarTotals adds up the sidecars a checkpoint names, for _last_checkpoint.
type sidecarTotals struct{ rows, bytes, adds int64 }

// finishCheckpointV2 writes the UUID-named Parquet checkpoint of the snapshot's version
// naming the sidecars, which are already written, with the non-file actions, then
// _last_checkpoint naming it.
func (s *Snapshot) finishCheckpointV2(ctx context.Context, store storage.Storage, modTime int64, sidecars []cpSidecar, nonFile []cpRow, totals sidecarTotals) error {
	name := fmt.Sprintf("%020d.checkpoint.%s.parquet", s.version, uuid.NewString())
	cp := newParquetObject[cpV2CheckpointRow](ctx, store, LogDir+name, v2CheckpointSchema)
	meta := cpCheckpointMetadata{Version: &s.version, Tags: map[string]*string{tagFileActions: ptr(fileActionsInTaggedSidecars)}}
	err := cp.write(cpV2CheckpointRow{cpV2Row: cpV2Row{CheckpointMetadata: &meta}})
	for i := 0; err == nil && i < len(sidecars); i++ {
		err = cp.write(cpV2CheckpointRow{cpV2Row: cpV2Row{Sidecar: &sidecars[i]}})
	}
	for i := 0; err == nil && i < len(nonFile); i++ {
		err = cp.write(cpV2CheckpointRow{cpRow: nonFile[i]})
	}
	if err := cp.finish(err); err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.version, err)
	}

	v2 := &lastCheckpointV2{Path: name, SizeInBytes: cp.out.n, ModificationTime: modTime}
	if len(nonFile)+1 <= lastCheckpointActions {
		actions := make([]Action, 0, len(nonFile)+1)
		for i := range nonFile {
			a, _ := nonFile[i].action()
			actions = append(actions, a)
		}
		m, _ := encodeJSON(meta)
		actions = append(actions, Action{CheckpointMetadata: (*json.RawMessage)(&m)})
		if v2.NonFileActions, err = encodeJSON(actions); err != nil {
			return fmt.Errorf("checkpoint %d: _last_checkpoint: %w", s.version, err)
		}
	}
	if len(sidecars) <= lastCheckpointActions {
		v2.SidecarFiles, _ = encodeJSON(sidecars)
	}
	return putLastCheckpoint(ctx, store, lastCheckpoint{Version: s.version, Size: totals.rows + cp.rows,
		SizeInBytes: totals.bytes + cp.out.n, NumOfAddFiles: totals.adds, V2Checkpoint: v2})
}

// The tags of the sidecars Sluice writes: the one kind of action a sidecar holds
// (sidecarAdds or sidecarRemoves) and how many. An incremental checkpoint names such
// sidecars again without reading them; it never reuses a sidecar without them.
const (
	tagSidecarActions = "sluice.actions"
	tagSidecarRows    = "sluice.rows"
	sidecarAdds       = "add"
	sidecarRemoves    = "remove"
)

// tagFileActions, in the tags of a checkpoint's checkpointMetadata action, says where
// its file actions are: fileActionsInTaggedSidecars, all in sidecars tagged as above
// (every checkpoint Sluice writes). An incremental checkpoint builds only on such a one.
const (
	tagFileActions              = "sluice.fileActions"
	fileActionsInTaggedSidecars = "tagged-sidecars"
)

// sidecarWriter spreads the add and remove actions of a checkpoint over sidecar files
// of at most max actions each, each holding one kind, and lists the sidecar actions of
// the files it wrote.
type sidecarWriter struct {
	ctx     context.Context
	store   storage.Storage
	max     int64
	modTime int64 // the modificationTime of the sidecar actions
	cur     *parquetObject[cpSidecarRow]
	kind    string // what cur holds: sidecarAdds or sidecarRemoves
	name    string // cur's file name
	done    []cpSidecar
	// rows and bytes total the finished sidecars.
	rows, bytes int64
}

// write adds a row holding an action of the given kind.
func (w *sidecarWriter) write(kind string, row cpSidecarRow) error {
	if w.cur != nil && w.kind != kind {
		if err := w.end(nil); err != nil {
			return err
		}
	}
	if w.cur == nil {
		w.name = uuid.NewString() + ".parquet"
		w.kind = kind
		w.cur = newParquetObject[cpSidecarRow](w.ctx, w.store, sidecarDir+w.name, sidecarSchema)
	}
	if err := w.cur.write(row); err != nil {
		return w.end(err)
	}
	if w.cur.rows >= w.max {
		return w.end(nil)
	}
	return nil
}

// end finishes the sidecar being written, if any; a non-nil err aborts it.
func (w *sidecarWriter) end(err error) error {
	cur := w.cur
	if cur == nil {
		return err
	}
	w.cur = nil
	if err := cur.finish(err); err != nil {
		return fmt.Errorf("sidecar %s: %w", cur.key, err)
	}
	w.done = append(w.done, cpSidecar{Path: ptr(w.name), SizeInBytes: ptr(cur.out.n), ModificationTime: ptr(w.modTime),
		Tags: map[string]*string{tagSidecarActions: ptr(w.kind), tagSidecarRows: ptr(strconv.FormatInt(cur.rows, 10))}})
	w.rows += cur.rows
	w.bytes += cur.out.n
	return nil
}

// checkpointSidecars returns the file names of the sidecars a checkpoint names (none
// for a V1-spec one), or nil when the checkpoint is gone (another writer's log
// cleanup).
func checkpointSidecars(ctx context.Context, store storage.Storage, key string) ([]string, error) {
	data, err := store.Get(ctx, key)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v2 v2Rows
	if strings.HasSuffix(key, ".json") {
		for a, err := range jsonActions(data) {
			if err != nil {
				return nil, err
			}
			if a.Sidecar != nil {
				p, err := sidecarPath(*a.Sidecar)
				if err != nil {
					return nil, err
				}
				v2.sidecars = append(v2.sidecars, p)
			}
		}
	} else {
		pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		if err := v2.readParquet(pf); err != nil {
			return nil, err
		}
	}
	names := make([]string, len(v2.sidecars))
	for i, p := range v2.sidecars {
		names[i] = sidecarName(p)
	}
	return names, nil
}

// sidecarName is the file name of the sidecar a sidecar action's path names, which is
// what log cleanup matches (as Spark does): a sidecar is always directly in _sidecars/.
func sidecarName(p string) string {
	if d, err := DecodePath(p); err == nil {
		p = d
	}
	return path.Base(p)
}
