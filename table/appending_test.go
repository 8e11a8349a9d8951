package table

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// TestAppendingCheckpointMatches: a ForAppending handle, which keeps no file list,
// writes the same checkpoint as a normal handle after the same commits: the same live
// files with their stats, tombstones, txns, metadata and protocol.
func TestAppendingCheckpointMatches(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	build := func(name string, opts ...Option) (storage.Storage, *Table) {
		store := storage.NewMemory(t.Name() + "/" + name)
		tbl := New(store, append(opts, Clock(func() time.Time { return now }))...)
		if _, err := tbl.Create(ctx, CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"}}); err != nil {
			t.Fatal(err)
		}
		commitN(t, tbl, 0, 2)
		removeOther(t, store, 3, "day=2024-01-01/f000.parquet", now) // another writer's remove
		for i := 2; i < 9; i++ {
			a := add(fmt.Sprintf("day=2024-01-01/f%03d.parquet", i))
			a.Stats = fmt.Sprintf(`{"numRecords":%d,"minValues":{"id":%d},"maxValues":{"id":%d},"nullCount":{"id":0}}`, i, i*100, i*100+i)
			prev := int64(i - 3) // txn p<i%3> was last advanced three commits ago
			if i < 5 {
				prev = -1
			}
			res, err := tbl.Commit(ctx, &Transaction{Adds: []Add{a}, AppTxns: []AppTxn{
				{AppID: "app", Prev: int64(i*10) - 1, Version: int64(i*10 + 9)},
				{AppID: fmt.Sprint("p", i%3), Prev: prev, Version: int64(i)},
			}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Version == 10 && (!res.Checkpointed || res.CheckpointErr != nil) {
				t.Fatalf("%s: version 10 not checkpointed: %+v", name, res)
			}
		}
		return store, tbl
	}
	normalStore, _ := build("normal")
	appendStore, appender := build("appending", ForAppending())
	if n := len(appender.snap.files) + len(appender.snap.tombstones); n != 0 {
		t.Fatalf("the appending handle holds %d files and tombstones", n)
	}

	readCheckpoint := func(store storage.Storage) *Snapshot {
		s := newSnapshot(store.URI(), loadConfig{})
		if err := s.loadCheckpoint(ctx, store, 10, []logFile{{key: CheckpointKey(10), kind: logCheckpoint, version: 10}}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	load := func(store storage.Storage) *Snapshot {
		s, err := Load(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, pair := range [][2]*Snapshot{
		{readCheckpoint(normalStore), readCheckpoint(appendStore)},
		{load(normalStore), load(appendStore)},
	} {
		want, got := pair[0], pair[1]
		if got.Version() != want.Version() || got.Version() < 10 {
			t.Fatalf("version %d, want %d", got.Version(), want.Version())
		}
		if !reflect.DeepEqual(got.Files(), want.Files()) {
			t.Errorf("live files differ:\n%s\nwant\n%s", dumpAdds(got.Files()), dumpAdds(want.Files()))
		}
		if !maps.Equal(got.AppTransactions(), want.AppTransactions()) {
			t.Errorf("txns %v, want %v", got.AppTransactions(), want.AppTransactions())
		}
		if g, w := slices.Collect(maps.Keys(got.tombstones)), slices.Collect(maps.Keys(want.tombstones)); len(g) != 1 || !reflect.DeepEqual(g, w) {
			t.Errorf("tombstones %v, want %v (one)", g, w)
		}
		if !reflect.DeepEqual(got.Protocol(), want.Protocol()) || got.Metadata().SchemaString != want.Metadata().SchemaString ||
			!reflect.DeepEqual(got.PartitionColumns(), want.PartitionColumns()) {
			t.Errorf("protocol or metadata differ: %+v %+v", got.Protocol(), got.Metadata())
		}
	}
	// The hints agree too (size counts actions, numOfAddFiles the live files).
	hint := func(store storage.Storage) lastCheckpoint {
		lc, ok := readLastCheckpoint(ctx, store)
		if !ok {
			t.Fatal("no _last_checkpoint")
		}
		lc.SizeInBytes = 0 // metadata ids and timestamps differ
		return lc
	}
	if got, want := hint(appendStore), hint(normalStore); got != want {
		t.Errorf("_last_checkpoint %+v, want %+v", got, want)
	}
}

func dumpAdds(adds []*Add) string {
	var out string
	for _, a := range adds {
		out += fmt.Sprintf("  %+v\n", *a)
	}
	return out
}

// TestAppendingSnapshotHoldsNoFiles: a ForAppending handle's snapshots carry version,
// protocol, metadata and txns, and say that they carry no file list.
func TestAppendingSnapshotHoldsNoFiles(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	newTestTable(t, store)
	tbl := New(store, ForAppending())
	commitN(t, tbl, 0, 25)
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := snap.Txn("app"); snap.Version() != 25 || v != 249 || snap.Metadata().SchemaString != testSchema().SchemaString() {
		t.Fatalf("version %d txn %d", snap.Version(), v)
	}
	if snap.NumFiles() != -1 || snap.Files() != nil {
		t.Fatalf("NumFiles %d, Files %d: want -1 and nil", snap.NumFiles(), len(snap.Files()))
	}
	if len(tbl.snap.files) != 0 {
		t.Fatalf("the handle holds %d files", len(tbl.snap.files))
	}
	// A new handle loads from the checkpoint at 20 without keeping its files either.
	fresh := New(store, ForAppending())
	if s, err := fresh.Snapshot(ctx); err != nil || s.CheckpointVersion() != 20 || len(fresh.snap.files) != 0 || s.Version() != 25 {
		t.Fatalf("fresh appending handle: %v, %v", s, err)
	}
	if s, _ := Load(ctx, store); s.NumFiles() != 25 {
		t.Fatalf("the table has %d files, want 25", s.NumFiles())
	}
}

// TestAppendingDeletionVectors: an appending handle never reads data files, so live
// files with deletion vectors do not stop it: it reads snapshots, appends, and writes
// checkpoints that keep the deletion vectors. A normal handle still refuses to read.
func TestAppendingDeletionVectors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.FromSlash("testdata/conformance/kernel-rs-golden/dv-partitioned-with-checkpoint/delta"))); err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	before, err := load(ctx, store, loadConfig{upTo: -1, fromCheckpoint: -1})
	if err != nil {
		t.Fatal(err)
	}
	tbl := New(store, ForAppending())
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	part := "0"
	prev := int64(-1)
	for i := snap.Version(); i < 20; i++ {
		res, err := tbl.Commit(ctx, &Transaction{
			Adds:    []Add{{Path: fmt.Sprintf("part=0/sluice-%d.parquet", i), PartitionValues: map[string]*string{"part": &part}, Size: 1, DataChange: true, Stats: `{"numRecords":1}`}},
			AppTxns: []AppTxn{{AppID: "sluice:t:0", Prev: prev, Version: i}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Version == 20 && (!res.Checkpointed || res.CheckpointErr != nil) {
			t.Fatalf("version 20: %+v", res)
		}
		prev = i
	}
	cp := newSnapshot(store.URI(), loadConfig{})
	if err := cp.loadCheckpoint(ctx, store, 20, []logFile{{key: CheckpointKey(20), kind: logCheckpoint, version: 20}}); err != nil {
		t.Fatal(err)
	}
	if dvFiles(cp) != dvFiles(before) || dvFiles(cp) == 0 || cp.NumFiles() != before.NumFiles()+5 {
		t.Fatalf("checkpoint: %d files, %d with a deletion vector; want %d and %d", cp.NumFiles(), dvFiles(cp), before.NumFiles()+5, dvFiles(before))
	}
}

// dvFiles counts the live files of s that have a deletion vector.
func dvFiles(s *Snapshot) int {
	n := 0
	for _, f := range s.Files() {
		if f.DeletionVector != nil {
			n++
		}
	}
	return n
}
