package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table/storage"
)

// readRows reads every row of a Parquet file as T.
func readRows[T any](t *testing.T, pf *parquet.File) []T {
	t.Helper()
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	rows := make([]T, pf.NumRows())
	for n := 0; n < len(rows); {
		k, err := r.Read(rows[n:])
		n += k
		if err != nil && (!errors.Is(err, io.EOF) || n < len(rows)) {
			t.Fatalf("read %d of %d rows: %v", n, len(rows), err)
		}
	}
	return rows
}

// replayAll replays every commit of the log, checkpoints aside.
func replayAll(t *testing.T, store storage.Storage) *Snapshot { return replayTo(t, store, -1) }

// replayTo replays the commits of the log up to version (-1 for all), checkpoints aside.
func replayTo(t *testing.T, store storage.Storage, version int64) *Snapshot {
	t.Helper()
	files, err := listLog(context.Background(), store, "")
	if err != nil {
		t.Fatal(err)
	}
	if version >= 0 {
		files = slices.DeleteFunc(files, func(f logFile) bool { return f.version > version })
	}
	s := newSnapshot(store.URI(), loadConfig{})
	if err := s.replay(context.Background(), store, files); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkV2Checkpoint checks the checkpoint Sluice wrote at version, and _last_checkpoint
// naming it: one UUID-named Parquet file holding one checkpointMetadata action of that
// version, the non-file actions and a sidecar action per sidecar, with its exact size;
// sidecars that hold the add and remove actions and nothing else; when _last_checkpoint
// names it, counts and sizes that add up and a v2Checkpoint that lists the same
// actions. It returns the keys
// of the checkpoint and of its sidecars.
func checkV2Checkpoint(t *testing.T, store storage.Storage, version int64) (key string, sidecars []string) {
	t.Helper()
	ctx := context.Background()
	get := func(key string) []byte {
		t.Helper()
		data, err := store.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	files, _ := listLog(ctx, store, "")
	for _, f := range files {
		if f.version == version && (f.kind == logCheckpoint || f.kind == logCheckpointV2) {
			if key != "" || f.kind != logCheckpointV2 || !strings.HasSuffix(f.key, ".parquet") {
				t.Fatalf("checkpoints at %d: %s and %s, want one UUID-named Parquet one", version, key, f.key)
			}
			key = f.key
		}
	}
	if key == "" {
		t.Fatalf("no checkpoint at version %d", version)
	}
	data := get(key)
	// Read apart, as the loader does: parquet-go fills in the null groups of an
	// embedded struct (cpV2CheckpointRow).
	rows := readRows[cpRow](t, openParquet(t, data))
	var metas []int64
	var scs []cpSidecar
	nonFile := 0
	for i, r := range readRows[cpV2Row](t, openParquet(t, data)) {
		a, ok := rows[i].action()
		switch {
		case r.CheckpointMetadata != nil:
			metas = append(metas, deref(r.CheckpointMetadata.Version))
		case r.Sidecar != nil:
			scs = append(scs, *r.Sidecar)
		case a.Add != nil || a.Remove != nil:
			t.Fatalf("%s holds file actions", key)
		case ok:
			nonFile++
		default:
			t.Fatalf("%s: row %d is empty", key, i)
		}
	}
	if !slices.Equal(metas, []int64{version}) || len(scs) == 0 {
		t.Fatalf("%s: checkpointMetadata versions %v, %d sidecars", key, metas, len(scs))
	}
	total, size, adds := int64(len(rows)), int64(len(data)), int64(0)
	for _, sc := range scs {
		k := sidecarDir + deref(sc.Path)
		info, err := store.Stat(ctx, k)
		if err != nil || info.Size != deref(sc.SizeInBytes) {
			t.Fatalf("sidecar %s: %+v, %v; the action says size %d", k, info, err, deref(sc.SizeInBytes))
		}
		pf := openParquet(t, get(k))
		var cols []string
		for _, f := range pf.Schema().Fields() {
			cols = append(cols, f.Name())
		}
		if !slices.Equal(cols, []string{"add", "remove"}) {
			t.Fatalf("sidecar %s has columns %v", k, cols)
		}
		for _, r := range readRows[cpRow](t, pf) {
			switch a, _ := r.action(); {
			case a.Add != nil:
				adds++
			case a.Remove == nil:
				t.Fatalf("sidecar %s: a row that is neither add nor remove", k)
			}
		}
		total += pf.NumRows()
		size += info.Size
		sidecars = append(sidecars, k)
	}

	var lc lastCheckpoint
	if err := json.Unmarshal(get(LastCheckpointKey), &lc); err != nil || lc.V2Checkpoint == nil || lc.Version < version {
		t.Fatalf("_last_checkpoint: %+v, %v", lc, err)
	}
	if lc.Version > version {
		return key, sidecars // it names a newer checkpoint
	}
	v2 := lc.V2Checkpoint
	if lc.Size != total || lc.SizeInBytes != size || lc.NumOfAddFiles != adds || LogDir+v2.Path != key || v2.SizeInBytes != int64(len(data)) {
		t.Fatalf("_last_checkpoint: %d actions, %d bytes, %d adds, %s of %d bytes; want %d, %d, %d, %s of %d",
			lc.Size, lc.SizeInBytes, lc.NumOfAddFiles, v2.Path, v2.SizeInBytes, total, size, adds, key, len(data))
	}
	var actions []Action
	var listed []cpSidecar
	if err := json.Unmarshal(v2.NonFileActions, &actions); err != nil || len(actions) != nonFile+1 ||
		actions[0].Protocol == nil || actions[1].MetaData == nil || actions[nonFile].CheckpointMetadata == nil {
		t.Fatalf("nonFileActions %s (%v), want the %d non-file actions and checkpointMetadata", v2.NonFileActions, err, nonFile)
	}
	if err := json.Unmarshal(v2.SidecarFiles, &listed); err != nil || len(listed) != len(scs) {
		t.Fatalf("sidecarFiles %s (%v), want %d", v2.SidecarFiles, err, len(scs))
	}
	return key, sidecars
}

// TestWriteV2Checkpoints: a table created with delta.checkpointPolicy v2 lists the
// v2Checkpoint feature and gets V2-spec checkpoints with sidecars (no classic ones)
// every delta.checkpointInterval commits, from normal and ForAppending handles alike,
// and each rebuilds the table alone once the commits it covers are deleted.
func TestWriteV2Checkpoints(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := createTable(t, store, map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "2"})
	p := mustLoad(t, store).Protocol()
	if p.MinReaderVersion != 3 || p.MinWriterVersion != 7 || !slices.Equal(p.ReaderFeatures, []string{"v2Checkpoint"}) ||
		!slices.Contains(p.WriterFeatures, "v2Checkpoint") {
		t.Fatalf("protocol %+v", p)
	}
	commitN(t, tbl, 0, 2)
	gone := tbl.snap.Files()[0]
	if _, err := tbl.Commit(ctx, &Transaction{Removes: []Remove{{Path: gone.Path, DataChange: true, Size: &gone.Size}}}); err != nil {
		t.Fatal(err) // version 3: a tombstone
	}
	if res, err := New(store, ForAppending()).Commit(ctx, &Transaction{Adds: []Add{add("day=2024-01-01/a.parquet")}}); err != nil || !res.Checkpointed {
		t.Fatalf("version 4 from a ForAppending handle: %+v, %v", res, err)
	}
	for _, v := range []int64{2, 4} {
		checkV2Checkpoint(t, store, v)
		if _, err := store.Get(ctx, CheckpointKey(v)); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("a classic checkpoint at %d: %v", v, err)
		}
	}

	want := replayAll(t, store)
	deleteCommits(t, store, 4)
	got := mustLoad(t, store)
	if got.CheckpointVersion() != 4 || len(got.tombstones) != 1 {
		t.Fatalf("loaded from checkpoint %d with %d tombstones, want 4 and 1", got.CheckpointVersion(), len(got.tombstones))
	}
	sameState(t, got, want)
	appending := New(store, ForAppending())
	s, err := appending.Snapshot(ctx)
	if v, _ := s.Txn("app"); err != nil || s.Version() != 4 || s.CheckpointVersion() != 4 || v != 19 {
		t.Fatalf("ForAppending from the checkpoint: version %d checkpoint %d txn %d, %v", s.Version(), s.CheckpointVersion(), v, err)
	}
	commitN(t, appending, 2, 2) // version 6 checkpoints from a handle that read one
	checkV2Checkpoint(t, store, 6)
	files, _ := listLog(ctx, store, "")
	want = got.clone() // the state at 4, shown to be the replayed one, plus commits 5 and 6
	if err := want.replay(ctx, store, files); err != nil {
		t.Fatal(err)
	}
	deleteCommits(t, store, 6)
	got = mustLoad(t, store)
	if got.CheckpointVersion() != 6 {
		t.Fatalf("loaded from checkpoint %d, want 6", got.CheckpointVersion())
	}
	sameState(t, got, want)
}

// TestV2CheckpointSidecarSplit: the file actions are spread over sidecars of at most
// the given number of actions, and a checkpoint of a table without files has none.
func TestV2CheckpointSidecarSplit(t *testing.T) {
	ctx := context.Background()
	store := newV2Table(t)
	s := mustLoad(t, store) // 13 files, 1 tombstone
	if err := s.writeCheckpointV2(ctx, store, time.Now(), 5); err != nil {
		t.Fatal(err)
	}
	if _, sidecars := checkV2Checkpoint(t, store, 15); len(sidecars) != 4 {
		t.Fatalf("%d sidecars of at most 5 actions for 13 adds and a remove, want 4 (adds and removes apart)", len(sidecars))
	}
	deleteCommits(t, store, 15)
	sameState(t, mustLoad(t, store), s)

	empty := storage.NewMemory(t.Name() + "-empty")
	createTable(t, empty, map[string]string{"delta.checkpointPolicy": "v2"})
	if err := mustLoad(t, empty).writeCheckpointV2(ctx, empty, time.Now(), 5); err != nil {
		t.Fatal(err)
	}
	if got := mustLoad(t, empty); got.CheckpointVersion() != 0 || got.NumFiles() != 0 {
		t.Fatalf("checkpoint %d, %d files", got.CheckpointVersion(), got.NumFiles())
	}
}

// parquetColumns describes every node of a Parquet schema below the root, one line
// each: path, repetition and type (physical and logical for a leaf, logical for a
// group), keyed by path.
func parquetColumns(node parquet.Node, prefix string, out map[string]string) map[string]string {
	for _, f := range node.Fields() {
		p := prefix + f.Name()
		rep := "required"
		switch {
		case f.Optional():
			rep = "optional"
		case f.Repeated():
			rep = "repeated"
		}
		typ := ""
		if f.Leaf() {
			typ = f.Type().Kind().String()
		}
		if lt := f.Type().LogicalType(); lt != nil {
			typ += " " + lt.String()
		}
		out[p] = strings.TrimSpace(rep + " " + typ)
		if !f.Leaf() {
			parquetColumns(f, p+".", out)
		}
	}
	return out
}

// TestV2CheckpointSchemaMatchesSpark compares the columns of our V2-spec checkpoints and
// sidecars with those of Spark's (kernel-rs golden table v2-checkpoint-parquet): the
// same names, nesting, repetition, physical and logical types, and Spark's order of the
// top-level columns. Readers match columns by name; those we leave out are ones the
// protocol makes optional (remove.tags and remove.stats, which Spark's own sidecars
// drop too) or that we never hold (add.clusteringProvider, from Delta 3.2).
func TestV2CheckpointSchemaMatchesSpark(t *testing.T) {
	spark, err := storage.NewLocal("testdata/conformance/kernel-rs-golden/v2-checkpoint-parquet/delta/_delta_log")
	if err != nil {
		t.Fatal(err)
	}
	read := func(key string) *parquet.Schema {
		data, err := spark.Get(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		return openParquet(t, data).Schema()
	}
	optional := []string{"add.clusteringProvider", "remove.tags", "remove.tags.key_value", "remove.tags.key_value.key",
		"remove.tags.key_value.value", "remove.stats"}
	for _, c := range []struct {
		name         string
		ours, theirs *parquet.Schema
	}{
		{"checkpoint", v2CheckpointSchema, read("00000000000000000002.checkpoint.e8fa2696-9728-4e9c-b285-634743fdd4fb.parquet")},
		{"sidecar", sidecarSchema, read("_sidecars/00000000000000000002.checkpoint.0000000001.0000000002.055454d8-329c-4e0e-864d-7f867075af33.parquet")},
	} {
		if c.ours.Name() != c.theirs.Name() {
			t.Errorf("%s: root %q, Spark's %q", c.name, c.ours.Name(), c.theirs.Name())
		}
		names := func(s *parquet.Schema) (out []string) {
			for _, f := range s.Fields() {
				out = append(out, f.Name())
			}
			return out
		}
		if !slices.Equal(names(c.ours), names(c.theirs)) {
			t.Errorf("%s: columns %v, Spark's %v", c.name, names(c.ours), names(c.theirs))
		}
		ours, theirs := parquetColumns(c.ours, "", map[string]string{}), parquetColumns(c.theirs, "", map[string]string{})
		for p, desc := range ours {
			if theirs[p] != desc {
				t.Errorf("%s: %s is %q, Spark's %q", c.name, p, desc, theirs[p])
			}
		}
		for p := range theirs {
			if _, ok := ours[p]; !ok && !slices.Contains(optional, p) {
				t.Errorf("%s: Spark's column %s (%s) is missing", c.name, p, theirs[p])
			}
		}
	}
}

// TestCleanupV2Sidecars: log cleanup on a table with v2 checkpoints deletes the sidecars
// of the checkpoints it deleted and those no checkpoint names (a failed checkpoint's),
// once past the retention, and keeps those a remaining checkpoint names: the kept
// checkpoint's, and an old one that another writer's newer checkpoint reuses.
func TestCleanupV2Sidecars(t *testing.T) {
	ctx := context.Background()
	tbl, store, now := createClockedTable(t, map[string]string{"delta.checkpointPolicy": "v2", "delta.checkpointInterval": "2",
		"delta.logRetentionDuration": "interval 1 day"})
	commitN(t, tbl, 0, 6) // checkpoints at 2, 4 and 6
	sidecarsAt := map[int64][]string{}
	for _, v := range []int64{2, 4, 6} {
		_, sidecarsAt[v] = checkV2Checkpoint(t, store, v)
	}
	orphan := sidecarDir + "orphan.parquet" // a checkpoint that failed after its sidecar
	putParquet(t, store, orphan, []cpSidecarRow{{Add: &cpAdd{Path: ptr("x.parquet")}}}, sidecarSchema)

	*now = now.Add(72 * time.Hour) // everything so far is past the retention
	commitN(t, tbl, 6, 1)          // version 7, and another writer's checkpoint of it
	reused := sidecarsAt[2][0]     // files f000 and f001, as at version 2
	s6, s7 := replayTo(t, store, 6), replayAll(t, store)
	var newer []cpSidecarRow
	for _, f := range s7.Files() {
		if !strings.HasSuffix(f.Path, "f000.parquet") && !strings.HasSuffix(f.Path, "f001.parquet") {
			newer = append(newer, cpSidecarRow{Add: &cpAdd{Path: ptr(f.Path), PartitionValues: f.PartitionValues,
				Size: ptr(f.Size), ModificationTime: ptr(f.ModificationTime), DataChange: ptr(false), Stats: ptr(f.Stats)}})
		}
	}
	putParquet(t, store, sidecarDir+"newer.parquet", newer, sidecarSchema)
	meta := json.RawMessage(`{"version":7}`)
	actions := []Action{{CheckpointMetadata: &meta}}
	for _, name := range []string{strings.TrimPrefix(reused, sidecarDir), "newer.parquet"} {
		sc := json.RawMessage(fmt.Sprintf(`{"path":%q,"sizeInBytes":1,"modificationTime":0}`, name))
		actions = append(actions, Action{Sidecar: &sc})
	}
	p, m := s7.Protocol(), s7.Metadata()
	actions = append(actions, Action{Protocol: &p}, Action{MetaData: &m}, Action{Txn: &Txn{AppID: "app", Version: 69}})
	data, err := encodeActions(actions)
	if err != nil {
		t.Fatal(err)
	}
	reusing := uuidCheckpointKey(7, "json")
	if err := store.Put(ctx, reusing, strings.NewReader(string(data)), -1); err != nil {
		t.Fatal(err)
	}

	res, err := tbl.Commit(ctx, &Transaction{Adds: []Add{add("day=2024-01-01/g.parquet")}}) // version 8 checkpoints and cleans up
	if err != nil || !res.Checkpointed || res.CheckpointErr != nil {
		t.Fatalf("%+v, %v", res, err)
	}
	// Kept: checkpoint 6 (the newest expired one) and everything from 6 on. Deleted:
	// commits 0 to 5, checkpoints 2 and 4, the sidecars of 4 that 6 does not name again
	// (6 is incremental: it names 4's sidecar again) and the orphan.
	gone := slices.DeleteFunc(slices.Clone(sidecarsAt[4]), func(k string) bool { return slices.Contains(sidecarsAt[6], k) })
	if len(gone) == len(sidecarsAt[4]) {
		t.Fatalf("checkpoint 6 names none of 4's sidecars %v again: %v", sidecarsAt[4], sidecarsAt[6])
	}
	if want := 6 + 2 + len(gone) + 1; res.LogFilesDeleted != want {
		t.Fatalf("deleted %d files, want %d", res.LogFilesDeleted, want)
	}
	exists := func(key string) bool {
		_, err := store.Stat(ctx, key)
		return err == nil
	}
	for _, k := range append(gone, orphan) {
		if exists(k) {
			t.Errorf("%s is left", k)
		}
	}
	for _, k := range append(append(slices.Clone(sidecarsAt[6]), reused), sidecarDir+"newer.parquet") {
		if !exists(k) {
			t.Errorf("%s was deleted", k)
		}
	}
	_, kept := checkV2Checkpoint(t, store, 8)
	for _, k := range kept {
		if !exists(k) {
			t.Errorf("%s was deleted", k)
		}
	}

	// Each remaining checkpoint still rebuilds the table: 6 and 8 from their sidecars,
	// 7 from the reused one and its own.
	want := mustLoad(t, store)
	if want.CheckpointVersion() != 8 || want.Version() != 8 {
		t.Fatalf("checkpoint %d version %d", want.CheckpointVersion(), want.Version())
	}
	for v, want := range map[int64]*Snapshot{6: s6, 7: s7} {
		got, err := load(ctx, store, loadConfig{upTo: v, fromCheckpoint: -1})
		if err != nil || got.CheckpointVersion() != v {
			t.Fatalf("version %d: %v", v, err)
		}
		sameState(t, got, want)
	}
	deleteCommits(t, store, 7)
	if err := store.Delete(ctx, LastCheckpointKey); err != nil {
		t.Fatal(err)
	}
	for _, k := range kept {
		if err := store.Delete(ctx, k); err != nil { // checkpoint 8 unreadable: 7 is used
			t.Fatal(err)
		}
	}
	got := mustLoad(t, store)
	if got.CheckpointVersion() != 7 {
		t.Fatalf("loaded from checkpoint %d, want the reusing one at 7", got.CheckpointVersion())
	}
	sameState(t, got, want)
}
