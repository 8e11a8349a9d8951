package table

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// commitAdds commits one version adding n files named prefix-i.
func commitAdds(t *testing.T, tbl *Table, prefix string, n int) {
	t.Helper()
	adds := make([]Add, n)
	for i := range adds {
		adds[i] = add(fmt.Sprintf("day=2024-01-01/%s-%03d.parquet", prefix, i))
	}
	if _, err := tbl.Commit(context.Background(), &Transaction{Adds: adds}); err != nil {
		t.Fatal(err)
	}
}

// checkpointNow writes a checkpoint with tbl and checks how it was written: want is a
// prefix of Table.LastCheckpoint. It returns the sidecar keys the checkpoint names, the
// checkpoint itself checked by checkV2Checkpoint.
func checkpointNow(t *testing.T, tbl *Table, store storage.Storage, want string) []string {
	t.Helper()
	v, _, err := tbl.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := tbl.LastCheckpoint(); !strings.HasPrefix(got, want) {
		t.Fatalf("checkpoint %d written %q, want %q", v, got, want)
	}
	_, sidecars := checkV2Checkpoint(t, store, v)
	// One add row per live file, and as many as a replay of the commits finds.
	seen := map[fileKey]bool{}
	for _, key := range sidecars {
		err := readSidecar(context.Background(), store, cpSidecar{Path: ptr(strings.TrimPrefix(key, sidecarDir))}, func(r *cpSidecarRow) error {
			if r.Add != nil {
				k, _ := addKey(*r.Add.Path, nil)
				if r.Add.DeletionVector != nil {
					k.dv = fmt.Sprint(*r.Add.DeletionVector)
				}
				if seen[k] {
					t.Fatalf("checkpoint %d holds two adds of %s", v, *r.Add.Path)
				}
				seen[k] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := replayTo(t, store, v).NumFiles(); len(seen) != want {
		t.Fatalf("checkpoint %d holds %d files, a replay %d", v, len(seen), want)
	}
	return sidecars
}

// sidecarKinds returns the kind and number of actions the tags of each sidecar of the
// last checkpoint say, checked against the sidecar's rows.
func sidecarKinds(t *testing.T, store storage.Storage) []string {
	t.Helper()
	base, why, err := (&Snapshot{version: math.MaxInt64, metadata: &Metadata{}}).incrementalBase(context.Background(), store, time.Now())
	if err != nil || base == nil {
		t.Fatalf("last checkpoint: %s, %v", why, err)
	}
	var out []string
	for _, sc := range append(append([]cpSidecar{}, base.adds...), base.removes...) {
		kind, rows := *sc.Tags[tagSidecarActions], 0
		if err := readSidecar(context.Background(), store, sc, func(r *cpSidecarRow) error {
			if (r.Add != nil) != (kind == sidecarAdds) || (r.Remove != nil) != (kind == sidecarRemoves) {
				t.Fatalf("sidecar %s tagged %s holds %+v", *sc.Path, kind, r)
			}
			rows++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if int64(rows) != sidecarRows(sc) {
			t.Fatalf("sidecar %s tagged %d rows holds %d", *sc.Path, sidecarRows(sc), rows)
		}
		out = append(out, fmt.Sprintf("%s:%d", kind, rows))
	}
	return out
}

// TestIncrementalCheckpoint: after a full checkpoint, commits that only add files get
// checkpoints that name its sidecars again (its adds and its tombstones) and write only
// the new adds; each rebuilds the table alone, as a replay of every commit does, for
// normal and ForAppending handles.
func TestIncrementalCheckpoint(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := createTable(t, store, map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "100"})
	commitAdds(t, tbl, "a", 20) // version 1
	removeOther(t, store, 2, "day=2024-01-01/a-003.parquet", time.Now())
	first := checkpointNow(t, tbl, store, "full (no _last_checkpoint)")
	if got := sidecarKinds(t, store); !slices.Equal(got, []string{"add:19", "remove:1"}) {
		t.Fatalf("full checkpoint's sidecars %v", got)
	}

	commitAdds(t, tbl, "b", 3) // versions 3 and 4
	commitN(t, tbl, 0, 1)
	second := checkpointNow(t, tbl, store, "incremental")
	if got := sidecarKinds(t, store); !slices.Equal(got, []string{"add:19", "add:4", "remove:1"}) {
		t.Fatalf("incremental checkpoint's sidecars %v", got)
	}
	if !slices.Contains(second, first[0]) || !slices.Contains(second, first[1]) {
		t.Fatalf("sidecars %v do not name the last checkpoint's %v again", second, first)
	}
	want := replayAll(t, store)

	// A ForAppending handle (the connector's) writes them the same way.
	appending := New(store, ForAppending())
	commitAdds(t, appending, "c", 3) // version 5
	third := checkpointNow(t, appending, store, "incremental")
	if got := sidecarKinds(t, store); !slices.Equal(got, []string{"add:19", "add:7", "remove:1"}) {
		t.Fatalf("after a second one, sidecars %v (the 4 adds merged with the 3 new)", got)
	}
	if slices.Contains(third, second[1]) || !slices.Contains(third, first[0]) {
		t.Fatalf("sidecars %v after %v", third, second)
	}
	files, _ := listLog(ctx, store, "")
	if err := want.replay(ctx, store, files); err != nil {
		t.Fatal(err)
	}
	deleteCommits(t, store, 5)
	got := mustLoad(t, store)
	if got.CheckpointVersion() != 5 || got.NumFiles() != 26 {
		t.Fatalf("loaded from checkpoint %d with %d files, want 5 and 26", got.CheckpointVersion(), got.NumFiles())
	}
	sameState(t, got, want)
}

// TestIncrementalCheckpointsMerge: one checkpoint per commit of one file, many times
// over: every one is incremental, the small sidecars are merged so that few are left,
// and the table reads back whole.
func TestIncrementalCheckpointsMerge(t *testing.T) {
	store := storage.NewMemory(t.Name())
	tbl := createTable(t, store, map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "1000"})
	commitAdds(t, tbl, "base", 50)
	checkpointNow(t, tbl, store, "full")
	most := 0
	for i := range 100 {
		commitN(t, tbl, i, 1)
		sidecars := checkpointNow(t, tbl, store, "incremental")
		most = max(most, len(sidecars))
	}
	// 50 base rows, then a binary counter over the 100 single adds: at most log2(100)+1.
	if most > 9 {
		t.Fatalf("up to %d sidecars, want at most 9", most)
	}
	want := replayAll(t, store)
	deleteCommits(t, store, want.Version())
	got := mustLoad(t, store)
	if got.NumFiles() != 150 {
		t.Fatalf("%d files, want 150", got.NumFiles())
	}
	sameState(t, got, want)
}

// TestIncrementalCheckpointFallsBack: whenever the last checkpoint's sidecars may not
// hold the table's live files and tombstones any more, or were not written by Sluice,
// the checkpoint is written in full, and says why; the table reads back whole each time.
func TestIncrementalCheckpointFallsBack(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		do   func(t *testing.T, tbl *Table, store storage.Storage)
		why  string
	}{
		{"a remove", func(t *testing.T, tbl *Table, store storage.Storage) {
			removeOther(t, store, tbl.snap.version+1, "day=2024-01-01/a-001.parquet", time.Now())
		}, "commit 3 removes files"},
		{"an add without dataChange", func(t *testing.T, tbl *Table, store storage.Storage) {
			a := add("day=2024-01-01/a-001.parquet")
			a.DataChange = false
			a.Stats = `{"numRecords":2}`
			if _, err := tbl.Commit(ctx, &Transaction{Adds: []Add{a}}); err != nil {
				t.Fatal(err)
			}
		}, "commit 3 rewrites files"},
		{"a metadata change", func(t *testing.T, tbl *Table, store storage.Storage) {
			m := tbl.snap.Metadata()
			m.Configuration = maps.Clone(m.Configuration)
			m.Configuration["delta.logRetentionDuration"] = "interval 60 days"
			if _, err := tbl.Commit(ctx, &Transaction{Metadata: &m}); err != nil {
				t.Fatal(err)
			}
		}, "commit 3 changes the table's metadata"},
		{"a restore of a removed file", func(t *testing.T, tbl *Table, store storage.Storage) {
			commitAdds(t, tbl, "gone", 1) // removed below, then re-added
			removeOther(t, store, 4, "day=2024-01-01/gone-000.parquet", time.Now())
			checkpointNow(t, New(store), store, "full (commit 4 removes files)")
			commitAdds(t, New(store), "gone", 1)
		}, "a commit re-adds day=2024-01-01/gone-000.parquet"},
		{"a checkpoint Sluice did not write", func(t *testing.T, tbl *Table, store storage.Storage) {
			key := uuidCheckpointKey(2, "parquet")
			writeV2Checkpoint(t, store, 2, v2Layout{key: key, sidecars: 1})
			if err := putLastCheckpoint(ctx, store, lastCheckpoint{Version: 2, V2Checkpoint: &lastCheckpointV2{Path: path.Base(key)}}); err != nil {
				t.Fatal(err)
			}
			commitAdds(t, tbl, "b", 1)
		}, "the last checkpoint was not written by Sluice"},
		{"another writer's checkpoint with its files inline", func(t *testing.T, tbl *Table, store storage.Storage) {
			key := uuidCheckpointKey(2, "parquet")
			writeV2Checkpoint(t, store, 2, v2Layout{key: key})
			if err := putLastCheckpoint(ctx, store, lastCheckpoint{Version: 2, V2Checkpoint: &lastCheckpointV2{Path: path.Base(key)}}); err != nil {
				t.Fatal(err)
			}
			commitAdds(t, tbl, "b", 1)
		}, "the last checkpoint was not written by Sluice"},
		{"another engine's commit adding a live file again", func(t *testing.T, tbl *Table, store storage.Storage) {
			a := add("day=2024-01-01/a-000.parquet") // live: new statistics, as the protocol allows
			a.Stats = `{"numRecords":7}`
			data, err := encodeActions([]Action{{CommitInfo: &CommitInfo{Timestamp: 1, Operation: "WRITE", EngineInfo: "Apache-Spark/3.5.1 Delta-Lake/3.2.0"}}, {Add: &a}})
			if err != nil {
				t.Fatal(err)
			}
			if err := store.PutIfAbsent(ctx, CommitKey(3), data); err != nil {
				t.Fatal(err)
			}
		}, `commit 3 was written by another engine ("Apache-Spark/3.5.1 Delta-Lake/3.2.0")`},
		{"a sidecar gone", func(t *testing.T, tbl *Table, store storage.Storage) {
			base, _, err := (&Snapshot{version: math.MaxInt64, metadata: &Metadata{}}).incrementalBase(ctx, store, time.Now())
			if err != nil || base == nil {
				t.Fatalf("last checkpoint: %v", err)
			}
			if err := store.Delete(ctx, sidecarDir+*base.adds[0].Path); err != nil {
				t.Fatal(err)
			}
			commitAdds(t, tbl, "b", 1)
		}, "sidecar "},
		{"a classic checkpoint", func(t *testing.T, tbl *Table, store storage.Storage) {
			writeV2Checkpoint(t, store, 2, v2Layout{key: CheckpointKey(2)})
			if err := putLastCheckpoint(ctx, store, lastCheckpoint{Version: 2}); err != nil {
				t.Fatal(err)
			}
			commitAdds(t, tbl, "b", 1)
		}, "the last checkpoint is not a V2-spec Parquet one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := storage.NewMemory(t.Name())
			tbl := createTable(t, store, map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "100"})
			commitAdds(t, tbl, "a", 20)
			commitN(t, tbl, 0, 1)
			checkpointNow(t, tbl, store, "full")
			c.do(t, tbl, store)
			tbl = New(store)
			checkpointNow(t, tbl, store, "full ("+c.why)
			want := replayAll(t, store)
			deleteCommits(t, store, want.Version())
			sameState(t, mustLoad(t, store), want)
		})
	}
}

// TestIncrementalCheckpointFailedPut: when a put of the new checkpoint fails, the
// checkpoint fails and _last_checkpoint still names the last one; a later one succeeds,
// and the table reads back whole.
func TestIncrementalCheckpointFailedPut(t *testing.T) {
	ctx := context.Background()
	mem := storage.NewMemory(t.Name())
	tbl := createTable(t, mem, map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "100"})
	commitAdds(t, tbl, "a", 2) // small: the next checkpoints merge its sidecar with the new adds
	checkpointNow(t, tbl, mem, "full")
	for _, broken := range []string{sidecarDir, ".checkpoint."} {
		commitAdds(t, tbl, "b"+fmt.Sprint(len(broken)), 2)
		failing := New(failPuts{Storage: mem, match: broken}, ForAppending())
		if _, _, err := failing.Checkpoint(ctx); err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("checkpoint with puts of %s failing: %v", broken, err)
		}
		if lc, _ := readLastCheckpoint(ctx, mem); lc.Version != 1 {
			t.Fatalf("_last_checkpoint names %d after a failed checkpoint, want 1", lc.Version)
		}
	}
	checkpointNow(t, New(mem, ForAppending()), mem, "incremental")
	want := replayAll(t, mem)
	deleteCommits(t, mem, want.Version())
	sameState(t, mustLoad(t, mem), want)
}

// failPuts fails every put of a key that contains match.
type failPuts struct {
	storage.Storage
	match string
}

func (f failPuts) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.Contains(key, f.match) {
		_, _ = io.Copy(io.Discard, r)
		return errors.New("injected put failure")
	}
	return f.Storage.Put(ctx, key, r, size)
}

// TestIncrementalCheckpointOldSidecars: sidecars older than half the log retention are
// never named again (log cleanup may delete them once past the whole retention), so
// the checkpoint after that is full, and the ones after it incremental again.
func TestIncrementalCheckpointOldSidecars(t *testing.T) {
	tbl, store, now := createClockedTable(t, map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "100",
		"delta.logRetentionDuration": "interval 2 days"})
	commitAdds(t, tbl, "a", 20)
	checkpointNow(t, tbl, store, "full")
	commitAdds(t, tbl, "b", 2)
	checkpointNow(t, tbl, store, "incremental")
	*now = now.Add(25 * time.Hour)
	commitAdds(t, tbl, "c", 2)
	checkpointNow(t, tbl, store, "full (the last checkpoint's sidecars are older than half the log retention)")
	commitAdds(t, tbl, "d", 2)
	checkpointNow(t, tbl, store, "incremental")
	want := replayAll(t, store)
	deleteCommits(t, store, want.Version())
	sameState(t, mustLoad(t, store), want)
}
