package table

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table/storage"
)

func TestParseLogFileNames(t *testing.T) {
	for name, want := range map[string]logFileKind{
		"00000000000000000006.json":                                                      logCommit,
		"00000000000000000006.checkpoint.parquet":                                        logCheckpoint,
		"00000000000000000006.checkpoint.0000000001.0000000002.parquet":                  logCheckpointMP,
		"00000000000000000006.checkpoint.f5ee283b-37c7-46af-b64c-8f77c6a5c43a.json":      logCheckpointV2,
		"00000000000000000006.checkpoint.e8fa2696-9728-4e9c-b285-634743fdd4fb.parquet":   logCheckpointV2,
		"00000000000000000004.00000000000000000006.compacted.json":                       logCompaction,
		"00000000000000000006.crc":                                                       logCRC,
		"_last_checkpoint":                                                               logLastCheckpint,
		"_sidecars/00000000000000000006.checkpoint.0000000001.0000000001.1a15.parquet":   logOther,
		"00000000000000000006.checkpoint.json":                                           logOther,
		"00000000000000000006.checkpoint.0000000001.0000000002.json":                     logOther,
		"00000000000000000006.checkpoint.f5ee283b-37c7-46af-b64c-8f77c6a5c43a.json.tmp":  logOther,
		"00000000000000000006.checkpoint.f5ee283b-37c7-46af-b64c-8f77c6a5c43a.crc":       logOther,
		"00000000000000000006.checkpoint.0000000003.0000000002.parquet":                  logOther,
		"00000000000000000006.checkpoint..parquet":                                       logOther,
		"00000000000000000006.checkpoint.f5ee283b.37c7-46af-b64c-8f77c6a5c43a.2.parquet": logOther,
	} {
		if got := parseLogFile(storage.ObjectInfo{Key: LogDir + name}).kind; got != want {
			t.Errorf("%s: kind %d, want %d", name, got, want)
		}
	}
}

// v2Layout says how a test writes a V2-spec checkpoint.
type v2Layout struct {
	key      string // the checkpoint's key: UUID-named .json or .parquet, or classic-named
	sidecars int    // sidecar files holding the add and remove rows; 0 keeps them inline
}

func uuidCheckpointKey(version int64, ext string) string {
	return fmt.Sprintf("%s%020d.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.%s", LogDir, version, ext)
}

// newV2Table creates a table with the v2Checkpoint feature: commits 1 to 12 add a file
// each, 13 removes one, 14 and 15 add one each for another application. Its checkpoint
// interval is longer than that: the tests write the checkpoints.
func newV2Table(t *testing.T) storage.Storage {
	t.Helper()
	store := storage.NewMemory(t.Name())
	commitN(t, createTable(t, store, map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "100"}), 0, 12)
	removeOther(t, store, 13, "day=2024-01-01/f003.parquet", time.Now())
	commitOther(t, store, "o1.parquet", "other", -1, 1)
	commitOther(t, store, "o2.parquet", "other", 1, 2)
	return store
}

// writeV2Checkpoint writes a V2-spec checkpoint of the table at version, as Spark lays
// them out: checkpointMetadata and the non-file actions in the checkpoint, the add and
// remove rows in it or spread over sidecar files. It returns the sidecar keys.
func writeV2Checkpoint(t *testing.T, store storage.Storage, version int64, l v2Layout) []string {
	t.Helper()
	ctx := context.Background()
	s, err := load(ctx, store, loadConfig{upTo: version, fromCheckpoint: -1})
	if err != nil || s.version != version {
		t.Fatalf("load version %d: %v", version, err)
	}
	var rows, fileRows []cpRow
	for r := range s.checkpointRows(time.Now()) {
		if r.Add != nil || r.Remove != nil {
			fileRows = append(fileRows, r)
		} else {
			rows = append(rows, r)
		}
	}
	var sidecars []string
	if l.sidecars == 0 {
		rows = append(rows, fileRows...)
	}
	for i := range l.sidecars {
		var part []cpRow
		for j := i; j < len(fileRows); j += l.sidecars {
			part = append(part, fileRows[j])
		}
		name := fmt.Sprintf("%020d.checkpoint.%010d.%010d.sc%d.parquet", version, i+1, l.sidecars, i)
		putParquet(t, store, sidecarDir+name, part, checkpointSchema)
		sidecars = append(sidecars, name)
	}
	meta := json.RawMessage(fmt.Sprintf(`{"version":%d,"tags":{}}`, version))
	if strings.HasSuffix(l.key, ".json") {
		actions := []Action{{CheckpointMetadata: &meta}}
		for _, name := range sidecars {
			sc := json.RawMessage(fmt.Sprintf(`{"path":%q,"sizeInBytes":1,"modificationTime":0}`, name))
			actions = append(actions, Action{Sidecar: &sc})
		}
		for i := range rows {
			a, _ := rows[i].action()
			actions = append(actions, a)
		}
		data, err := encodeActions(actions)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, l.key, bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		return prefixed(sidecars)
	}
	out := []cpV2CheckpointRow{{cpV2Row: cpV2Row{CheckpointMetadata: &cpCheckpointMetadata{Version: &version}}}}
	for _, name := range sidecars {
		out = append(out, cpV2CheckpointRow{cpV2Row: cpV2Row{Sidecar: &cpSidecar{Path: &name}}})
	}
	for _, r := range rows {
		out = append(out, cpV2CheckpointRow{cpRow: r})
	}
	putParquet(t, store, l.key, out, v2CheckpointSchema)
	return prefixed(sidecars)
}

// copyConformanceTable copies a conformance table to a temporary folder, for a test
// that changes it.
func copyConformanceTable(t *testing.T, table string) storage.Storage {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata/conformance", table))); err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func prefixed(names []string) []string {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = sidecarDir + n
	}
	return keys
}

func putParquet[T any](t *testing.T, store storage.Storage, key string, rows []T, schema *parquet.Schema) {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, schema)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(context.Background(), key, &buf, int64(buf.Len())); err != nil {
		t.Fatal(err)
	}
}

// deleteCommits deletes the commits up to version, so that only a checkpoint can
// rebuild the table.
func deleteCommits(t *testing.T, store storage.Storage, upTo int64) {
	t.Helper()
	for v := int64(0); v <= upTo; v++ {
		if err := store.Delete(context.Background(), CommitKey(v)); err != nil {
			t.Fatal(err)
		}
	}
}

// sameState fails unless got holds want's version, files, tombstones and txns.
func sameState(t *testing.T, got, want *Snapshot) {
	t.Helper()
	paths := func(s *Snapshot) []string {
		var ps []string
		for _, f := range s.Files() {
			ps = append(ps, f.Path)
		}
		return ps
	}
	if got.Version() != want.Version() || !slices.Equal(paths(got), paths(want)) {
		t.Fatalf("version %d files %v\nwant version %d files %v", got.Version(), paths(got), want.Version(), paths(want))
	}
	if !maps.Equal(got.AppTransactions(), want.AppTransactions()) || len(got.tombstones) != len(want.tombstones) {
		t.Fatalf("txns %v, %d tombstones; want %v, %d", got.AppTransactions(), len(got.tombstones), want.AppTransactions(), len(want.tombstones))
	}
}

// TestLoadV2Checkpoint loads tables whose only way back to their early versions is a
// V2-spec checkpoint: UUID-named in JSON or Parquet, or classic-named, with the add and
// remove rows inline or in sidecars. Normal and ForAppending handles read it; the
// latter skip the sidecars.
func TestLoadV2Checkpoint(t *testing.T) {
	ctx := context.Background()
	for name, l := range map[string]v2Layout{
		"json, sidecars":           {key: uuidCheckpointKey(13, "json"), sidecars: 2},
		"json, inline":             {key: uuidCheckpointKey(13, "json")},
		"parquet, sidecars":        {key: uuidCheckpointKey(13, "parquet"), sidecars: 3},
		"classic-named, sidecars":  {key: CheckpointKey(13), sidecars: 2},
		"classic-named, inline v2": {key: CheckpointKey(13)},
	} {
		t.Run(name, func(t *testing.T) {
			store := newV2Table(t)
			want := mustLoad(t, store)
			writeV2Checkpoint(t, store, 13, l)
			deleteCommits(t, store, 13)
			got := mustLoad(t, store)
			if got.CheckpointVersion() != 13 {
				t.Fatalf("loaded from checkpoint %d, want 13", got.CheckpointVersion())
			}
			sameState(t, got, want)
			appending, err := New(store, ForAppending()).Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := appending.Txn("app"); appending.Version() != 15 || appending.NumFiles() != -1 || v != 119 {
				t.Fatalf("ForAppending: version %d files %d txn %d", appending.Version(), appending.NumFiles(), v)
			}
		})
	}
}

// getLog records the keys read from a store.
type getLog struct {
	storage.Storage
	mu   sync.Mutex
	keys []string
}

func (g *getLog) Get(ctx context.Context, key string) ([]byte, error) {
	g.mu.Lock()
	g.keys = append(g.keys, key)
	g.mu.Unlock()
	return g.Storage.Get(ctx, key)
}

// TestLastCheckpointNamesV2: a _last_checkpoint hint that names a UUID-named checkpoint
// makes it the one read among those of its version; when it is unreadable, the load
// falls back to a listing.
func TestLastCheckpointNamesV2(t *testing.T) {
	ctx := context.Background()
	store := &getLog{Storage: newV2Table(t)}
	want := mustLoad(t, store)
	v2 := uuidCheckpointKey(8, "json")
	writeV2Checkpoint(t, store, 8, v2Layout{key: v2, sidecars: 1})
	// A classic checkpoint at the same version that a reader would try first.
	if err := store.Put(ctx, CheckpointKey(8), strings.NewReader("garbage"), -1); err != nil {
		t.Fatal(err)
	}
	hint := fmt.Sprintf(`{"version":8,"size":5,"v2Checkpoint":{"path":%q,"sizeInBytes":1,"modificationTime":0,"nonFileActions":[],"sidecarFiles":[]}}`,
		strings.TrimPrefix(v2, LogDir))
	if err := store.Put(ctx, LastCheckpointKey, strings.NewReader(hint), -1); err != nil {
		t.Fatal(err)
	}
	store.keys = nil
	got := mustLoad(t, store)
	if got.CheckpointVersion() != 8 || slices.Contains(store.keys, CheckpointKey(8)) || !slices.Contains(store.keys, v2) {
		t.Fatalf("checkpoint %d; keys read: %v", got.CheckpointVersion(), store.keys)
	}
	sameState(t, got, want)

	// The named checkpoint gone, the garbage one fails: the commits remain.
	if err := store.Delete(ctx, v2); err != nil {
		t.Fatal(err)
	}
	got = mustLoad(t, store)
	if got.CheckpointVersion() != -1 {
		t.Fatalf("loaded from checkpoint %d, want a replay of the commits", got.CheckpointVersion())
	}
	sameState(t, got, want)
}

// TestV2CheckpointMissingSidecar: a checkpoint whose sidecar is missing is not used
// (its files would be lost): the load takes an older checkpoint or the commits, or
// fails naming the sidecar when nothing else rebuilds the table.
func TestV2CheckpointMissingSidecar(t *testing.T) {
	ctx := context.Background()
	store := newV2Table(t)
	want := mustLoad(t, store)
	writeV2Checkpoint(t, store, 4, v2Layout{key: uuidCheckpointKey(4, "json")})
	sidecars := writeV2Checkpoint(t, store, 8, v2Layout{key: uuidCheckpointKey(8, "parquet"), sidecars: 2})
	if err := store.Put(ctx, LastCheckpointKey, strings.NewReader(`{"version":8,"size":5}`), -1); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, sidecars[1]); err != nil {
		t.Fatal(err)
	}

	got := mustLoad(t, store) // every commit is there
	if got.CheckpointVersion() == 8 {
		t.Fatal("loaded from the checkpoint whose sidecar is missing")
	}
	sameState(t, got, want)

	deleteCommits(t, store, 3) // the checkpoint at 4 is needed
	got = mustLoad(t, store)
	if got.CheckpointVersion() != 4 {
		t.Fatalf("loaded from checkpoint %d, want 4", got.CheckpointVersion())
	}
	sameState(t, got, want)

	// Only the broken checkpoint covers version 8: from the one at 4 commits are
	// missing, and without it nothing rebuilds the table.
	deleteCommits(t, store, 8)
	for _, step := range []string{"commit 5 is missing", "no readable checkpoint"} {
		_, err := Load(ctx, store)
		var ie *InvalidTableError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), step) || !strings.Contains(err.Error(), sidecars[1]) || !strings.Contains(err.Error(), store.URI()) {
			t.Fatalf("got %v, want *InvalidTableError naming the table, %q and the sidecar %s", err, step, sidecars[1])
		}
		t.Logf("refused: %v", err)
		if err := store.Delete(ctx, uuidCheckpointKey(4, "json")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCommitToV2CheckpointTable: commits to Spark's table with v2 checkpoints
// (delta.checkpointInterval 2) write V2-spec checkpoints of their own, through normal
// and ForAppending handles, and delete nothing of the fresh log. The table rebuilt from
// the newest alone (the commits it covers deleted) has the files the whole log gives.
func TestCommitToV2CheckpointTable(t *testing.T) {
	ctx := context.Background()
	for _, appending := range []bool{false, true} {
		t.Run(fmt.Sprint("appending=", appending), func(t *testing.T) {
			store := copyConformanceTable(t, "kernel-rs-golden/v2-checkpoint-parquet/delta")
			before, _ := listLog(ctx, store, "")
			var opts []Option
			if appending {
				opts = append(opts, ForAppending())
			}
			tbl := New(store, opts...)
			for i := range 4 { // versions 3 to 6: 4 and 6 checkpoint
				res, err := tbl.Commit(ctx, &Transaction{Adds: []Add{{Path: fmt.Sprintf("f%d.parquet", i), Size: 1, DataChange: true}},
					AppTxns: []AppTxn{{AppID: "app", Prev: int64(i) - 1, Version: int64(i)}}})
				if err != nil {
					t.Fatal(err)
				}
				if res.Checkpointed != (res.Version%2 == 0) || res.CheckpointErr != nil || res.LogFilesDeleted != 0 {
					t.Fatalf("version %d: %+v", res.Version, res)
				}
			}
			after, _ := listLog(ctx, store, "")
			var written []string
			for _, f := range after {
				if !slices.ContainsFunc(before, func(b logFile) bool { return b.key == f.key }) && f.kind != logCommit {
					written = append(written, f.key)
					if f.kind != logCheckpointV2 || (f.version != 4 && f.version != 6) {
						t.Fatalf("wrote %s", f.key)
					}
				}
			}
			if len(written) != 2 || len(after) != len(before)+6 {
				t.Fatalf("wrote %v; %d log files, want %d", written, len(after), len(before)+6)
			}
			checkV2Checkpoint(t, store, 6)
			want := replayAll(t, store)
			deleteCommits(t, store, 6)
			s := mustLoad(t, store)
			if s.Version() != 6 || s.CheckpointVersion() != 6 || s.NumFiles() != 8 {
				t.Fatalf("version %d checkpoint %d files %d", s.Version(), s.CheckpointVersion(), s.NumFiles())
			}
			sameState(t, s, want)
		})
	}
}

// TestV2ConformanceTablesFromCheckpoint loads the conformance tables with v2
// checkpoints after deleting the commits their checkpoint covers: they rebuild from it
// and its sidecars alone, to the state their full log gives.
func TestV2ConformanceTablesFromCheckpoint(t *testing.T) {
	for table, checkpoint := range map[string]int64{
		"delta-rs-data/checkpoint-v2-table":            8,
		"kernel-rs-golden/v2-checkpoint-json/delta":    2,
		"kernel-rs-golden/v2-checkpoint-parquet/delta": 2,
	} {
		t.Run(table, func(t *testing.T) {
			store := copyConformanceTable(t, table)
			replayed := replayAll(t, store)
			deleteCommits(t, store, checkpoint)
			got := mustLoad(t, store)
			if got.CheckpointVersion() != checkpoint {
				t.Fatalf("loaded from checkpoint %d, want %d", got.CheckpointVersion(), checkpoint)
			}
			sameState(t, got, replayed)
		})
	}
}

// TestRefreshAcrossV2Checkpoint: when another writer's log cleanup deleted the commits
// after a handle's version, the handle continues from that writer's v2 checkpoint.
func TestRefreshAcrossV2Checkpoint(t *testing.T) {
	ctx := context.Background()
	store := newV2Table(t)
	tbl := New(store)
	if _, err := tbl.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	commitOther(t, store, "o3.parquet", "other", 2, 3)
	commitOther(t, store, "o4.parquet", "other", 3, 4)
	want := mustLoad(t, store)
	writeV2Checkpoint(t, store, 16, v2Layout{key: uuidCheckpointKey(16, "json"), sidecars: 1})
	deleteCommits(t, store, 16)
	got, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.CheckpointVersion() != 16 || got.Version() != 17 {
		t.Fatalf("continued from checkpoint %d to version %d, want 16 to 17", got.CheckpointVersion(), got.Version())
	}
	sameState(t, got, want)
}
