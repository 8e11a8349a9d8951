package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table/storage"
)

// V2 checkpoints (PROTOCOL.md, "V2 Checkpoint Table Feature", "V2 Spec", "Sidecar
// Files"): a checkpoint that holds exactly one checkpointMetadata action and may keep
// its add and remove actions in sidecar files under _delta_log/_sidecars/. It is named
// N.checkpoint.UUID.json or N.checkpoint.UUID.parquet, or, on a table with the
// v2Checkpoint feature, N.checkpoint.parquet like a classic one. Sluice reads them and
// writes none: on such tables a Table takes no checkpoint (Table.checkpoint).

// sidecarDir is the folder of checkpoint sidecar files, relative to the table root.
const sidecarDir = LogDir + "_sidecars/"

// cpV2Row holds the Parquet columns of the two actions only V2-spec checkpoints hold;
// their tags are not read. They are read apart from the classic columns (cpRow, the
// schema of the checkpoints we write), and only from files that have them.
type cpV2Row struct {
	CheckpointMetadata *cpCheckpointMetadata `parquet:"checkpointMetadata,optional"`
	Sidecar            *cpSidecar            `parquet:"sidecar,optional"`
}

type cpCheckpointMetadata struct {
	Version *int64 `parquet:"version,optional,int(64)"`
}

type cpSidecar struct {
	Path *string `parquet:"path,optional"`
}

// v2Rows collects what the V2-spec rows of one checkpoint say.
type v2Rows struct {
	metadata []int64  // the version of each checkpointMetadata action
	sidecars []string // sidecar paths as written (URI-encoded)
}

// lastCheckpointV2 is the v2Checkpoint field of _last_checkpoint.
type lastCheckpointV2 struct {
	Path string `json:"path"` // the checkpoint's file name in _delta_log/
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
	r := parquet.NewGenericReader[cpV2Row](pf)
	defer r.Close()
	rows := make([]cpV2Row, 256)
	for {
		n, err := r.Read(rows)
		for i := range rows[:n] {
			switch row := &rows[i]; {
			case row.CheckpointMetadata != nil:
				v2.metadata = append(v2.metadata, deref(row.CheckpointMetadata.Version))
			case row.Sidecar != nil && row.Sidecar.Path != nil:
				v2.sidecars = append(v2.sidecars, *row.Sidecar.Path)
			}
			rows[i] = cpV2Row{}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
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
			var sc struct {
				Path string `json:"path"`
			}
			if err := json.Unmarshal(*a.Sidecar, &sc); err != nil || sc.Path == "" {
				return fmt.Errorf("sidecar action %s: no path", *a.Sidecar)
			}
			v2.sidecars = append(v2.sidecars, sc.Path)
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

// v2Checkpoints says the table has the v2Checkpoint feature. Sluice writes only V1-spec
// checkpoints, so a Table takes no checkpoint of such a table, nor does log cleanup
// (which needs one, and must keep the sidecars that checkpoints name): it leaves both
// to the writers that write V2 spec.
func (s *Snapshot) v2Checkpoints() bool {
	return s.protocol.MinWriterVersion == 7 && slices.Contains(s.protocol.WriterFeatures, "v2Checkpoint")
}
