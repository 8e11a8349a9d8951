package table

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// TestSnapshotUnchangedByCommit: a snapshot handed out by Create or Snapshot keeps its
// state when the table later commits, evolves its schema or reads another writer's
// commits.
func TestSnapshotUnchangedByCommit(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := New(store)
	created, err := tbl.Create(ctx, CreateOptions{Name: "t", Schema: testSchema(), PartitionColumns: []string{"day"}})
	if err != nil {
		t.Fatal(err)
	}
	commitN(t, tbl, 0, 2)
	if created.Version() != 0 || created.NumFiles() != 0 {
		t.Fatalf("the snapshot Create returned moved to version %d with %d files", created.Version(), created.NumFiles())
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	version, numFiles, txns := snap.Version(), snap.NumFiles(), snap.AppTransactions()
	meta, proto := snap.Metadata(), snap.Protocol()

	evolved := snap.Metadata()
	evolved.SchemaString = withColumn(t, snap.Schema(), "seen", TimestampNTZ).SchemaString()
	if _, err := tbl.Commit(ctx, &Transaction{Metadata: &evolved, BaseSchemaString: meta.SchemaString,
		Adds: []Add{add("day=2024-01-01/evolved.parquet")}, AppTxns: []AppTxn{{AppID: "app", Prev: 19, Version: 29}}}); err != nil {
		t.Fatal(err)
	}
	commitOther(t, store, "other.parquet", "other", -1, 5) // read by the next Snapshot
	if s, err := tbl.Snapshot(ctx); err != nil || s.Version() != version+2 {
		t.Fatalf("latest snapshot: %v, %v", s, err)
	}

	if snap.Version() != version || snap.NumFiles() != numFiles || len(snap.Files()) != numFiles {
		t.Errorf("old snapshot moved: version %d → %d, files %d → %d", version, snap.Version(), numFiles, snap.NumFiles())
	}
	if got := snap.AppTransactions(); !maps.Equal(got, txns) {
		t.Errorf("old snapshot's txns changed: %v → %v", txns, got)
	}
	if v, _ := snap.Txn("app"); v != 19 {
		t.Errorf("old snapshot's txn app = %d, want 19", v)
	}
	if got := snap.Metadata(); !reflect.DeepEqual(got, meta) || snap.Schema().Field("seen") != nil {
		t.Errorf("old snapshot's metadata changed: %+v", got)
	}
	if got := snap.Protocol(); !reflect.DeepEqual(got, proto) {
		t.Errorf("old snapshot's protocol changed: %+v → %+v", proto, got)
	}
}

// TestSnapshotReadWhileCommitting reads snapshots while another goroutine commits to
// the same handle. Run with -race: a snapshot shared with the committer is a data race.
// Each commit adds one file and moves txn "app" to version*10-1, so every snapshot must
// also be consistent with its own version.
func TestSnapshotReadWhileCommitting(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := newTestTable(t, store)
	const commits = 40
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		for i := range commits {
			_, err := tbl.Commit(ctx, &Transaction{
				Adds:    []Add{add(fmt.Sprintf("day=2024-01-01/f%03d.parquet", i))},
				AppTxns: []AppTxn{{AppID: "app", Prev: int64(i*10) - 1, Version: int64(i*10 + 9)}},
			})
			if err != nil {
				errc <- err
				return
			}
		}
	}()
	for done := false; !done; {
		select {
		case err, ok := <-errc:
			if ok {
				t.Fatal(err)
			}
			done = true
		default:
		}
		s, err := tbl.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v := s.Version()
		files := s.Files()
		txn, _ := s.Txn("app")
		all := s.AppTransactions()
		if v > 0 && (len(files) != int(v) || txn != v*10-1 || all["app"] != txn || s.Version() != v) {
			t.Fatalf("snapshot at version %d has %d files and txn %d (%v): it changed while read", v, len(files), txn, all)
		}
	}
}

// TestSnapshotAfterLogCleanup: handle A holds version 1 while handle B commits,
// checkpoints and, once the log retention has passed, deletes the commits after version
// 1. A must continue from B's newest checkpoint, whether it next reads or commits.
func TestSnapshotAfterLogCleanup(t *testing.T) {
	for _, first := range []string{"snapshot", "commit"} {
		t.Run(first, func(t *testing.T) {
			ctx := context.Background()
			now := time.Now()
			clock := func() time.Time { return now }
			store := &clockStore{Storage: storage.NewMemory(t.Name()), now: clock, times: map[string]time.Time{}}
			a := New(store, Clock(clock))
			if _, err := a.Create(ctx, CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"},
				Configuration: map[string]string{"delta.logRetentionDuration": "interval 1 day"}}); err != nil {
				t.Fatal(err)
			}
			commitN(t, a, 0, 1) // A is at version 1
			b := New(store, Clock(clock))
			commitN(t, b, 1, 20)
			now = now.Add(48 * time.Hour)
			commitN(t, b, 21, 10) // version 30 checkpoints and deletes the commits before 20
			if _, err := store.Get(ctx, CommitKey(2)); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("commit 2 was not cleaned up: %v", err)
			}
			if first == "snapshot" {
				s, err := a.Snapshot(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if v, _ := s.Txn("app"); s.Version() != 31 || v != 309 || s.NumFiles() != 31 {
					t.Fatalf("A's snapshot: version %d, txn %d, files %d; want 31, 309, 31", s.Version(), v, s.NumFiles())
				}
			}
			// After a read, A continues txn "app" from where B left it: only possible when it
			// sees B's txns. Committing first, A advances a txn of its own, which no conflict
			// check stops: version 2 was cleaned up, and must not be taken for a free one.
			tx := &Transaction{Adds: []Add{add("day=2024-01-01/a.parquet")}, AppTxns: []AppTxn{{AppID: "app", Prev: 309, Version: 319}}}
			if first == "commit" {
				tx.AppTxns = []AppTxn{{AppID: "a", Prev: -1, Version: 5}}
			}
			res, err := a.Commit(ctx, tx)
			if err != nil {
				t.Fatal(err)
			}
			if res.Version != 32 {
				t.Fatalf("A committed version %d, want 32", res.Version)
			}
			s, err := a.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := Load(ctx, store)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []*Snapshot{s, loaded} {
				if s.Version() != 32 || s.NumFiles() != 32 || !maps.Equal(s.AppTransactions(), loaded.AppTransactions()) {
					t.Fatalf("version %d, files %d, txns %v; want 32, 32 and those of the table", s.Version(), s.NumFiles(), s.AppTransactions())
				}
			}
			if v, _ := loaded.Txn("app"); v < 309 {
				t.Fatalf("txn app = %d, want B's", v)
			}
		})
	}
}

// TestSnapshotGapIsInvalid: a commit missing after a snapshot's version, with no
// checkpoint covering it, is an inconsistent log.
func TestSnapshotGapIsInvalid(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	a := newTestTable(t, store)
	commitN(t, New(store), 0, 3)
	if err := store.Delete(ctx, CommitKey(2)); err != nil {
		t.Fatal(err)
	}
	var ie *InvalidTableError
	if _, err := a.Snapshot(ctx); !errors.As(err, &ie) {
		t.Fatalf("got %v, want *InvalidTableError", err)
	}
}

// TestExpiredTombstonesDropped: removes older than delta.deletedFileRetentionDuration
// leave the in-memory snapshot, so a long-running writer's memory does not grow with
// the removes other writers commit.
func TestExpiredTombstonesDropped(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	store := storage.NewMemory(t.Name())
	tbl := New(store, Clock(clock))
	if _, err := tbl.Create(ctx, CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"}}); err != nil {
		t.Fatal(err)
	}
	commitN(t, tbl, 0, 2)
	removeOther(t, store, 3, "day=2024-01-01/f000.parquet", now)
	now = now.Add(8 * 24 * time.Hour) // the first remove is past the one-week retention
	removeOther(t, store, 4, "day=2024-01-01/f001.parquet", now)
	commitN(t, tbl, 2, 8) // through version 10, a checkpoint
	if _, err := store.Get(ctx, CheckpointKey(10)); err != nil {
		t.Fatal(err)
	}
	if n := len(tbl.snap.tombstones); n != 1 {
		t.Fatalf("%d tombstones in memory, want 1 (the expired one dropped)", n)
	}
	if _, ok := tbl.snap.tombstones[fileKey{path: "day=2024-01-01/f001.parquet"}]; !ok {
		t.Fatal("the tombstone within retention was dropped")
	}
}

// commitOther commits one file and txn for another writer, through its own handle.
func commitOther(t *testing.T, store storage.Storage, path, appID string, prev, version int64) {
	t.Helper()
	if _, err := New(store).Commit(context.Background(), &Transaction{Adds: []Add{add("day=2024-01-01/" + path)},
		AppTxns: []AppTxn{{AppID: appID, Prev: prev, Version: version}}}); err != nil {
		t.Fatal(err)
	}
}

// removeOther writes version as another writer's commit removing path at time at.
func removeOther(t *testing.T, store storage.Storage, version int64, path string, at time.Time) {
	t.Helper()
	ts := at.UnixMilli()
	data, err := encodeActions([]Action{{CommitInfo: &CommitInfo{Timestamp: ts, Operation: "DELETE"}},
		{Remove: &Remove{Path: path, DeletionTimestamp: &ts, DataChange: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutIfAbsent(context.Background(), CommitKey(version), data); err != nil {
		t.Fatal(err)
	}
}

// withColumn returns s with a nullable column added.
func withColumn(t *testing.T, s *StructType, name string, typ DataType) *StructType {
	t.Helper()
	out := s.Clone()
	out.Fields = append(out.Fields, &StructField{Name: name, Type: typ, Nullable: true})
	return out
}

// staleOnce is a store whose first listing and _last_checkpoint read are from before
// another writer's checkpoint and log cleanup: the listing names commits that are gone.
type staleOnce struct {
	storage.Storage
	stale  []storage.ObjectInfo
	served bool
}

func (s *staleOnce) List(ctx context.Context, prefix, startAfter string) iter.Seq2[storage.ObjectInfo, error] {
	if s.served || prefix != LogDir {
		return s.Storage.List(ctx, prefix, startAfter)
	}
	s.served = true
	return func(yield func(storage.ObjectInfo, error) bool) {
		for _, o := range s.stale {
			if o.Key > startAfter && !yield(o, nil) {
				return
			}
		}
	}
}

func (s *staleOnce) Get(ctx context.Context, key string) ([]byte, error) {
	if key == LastCheckpointKey && !s.served {
		return nil, storage.ErrNotFound
	}
	return s.Storage.Get(ctx, key)
}

// A load that listed the log just before another writer's checkpoint and log cleanup
// finds commits gone: it lists again and loads from the new checkpoint.
func TestLoadRelistsAfterConcurrentCleanup(t *testing.T) {
	ctx := context.Background()
	mem := storage.NewMemory(t.Name())
	tbl := New(mem)
	if _, err := tbl.Create(ctx, CreateOptions{Schema: testSchema(), PartitionColumns: []string{"day"}}); err != nil {
		t.Fatal(err)
	}
	for v := 1; v <= 4; v++ {
		if _, err := tbl.Commit(ctx, &Transaction{Adds: []Add{add(fmt.Sprintf("day=2024-01-01/%d.parquet", v))}}); err != nil {
			t.Fatal(err)
		}
	}
	var stale []storage.ObjectInfo
	for o, err := range mem.List(ctx, LogDir, "") {
		if err != nil {
			t.Fatal(err)
		}
		stale = append(stale, o)
	}
	if _, _, err := tbl.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for v := int64(0); v < 4; v++ { // the cleanup after the checkpoint
		if err := mem.Delete(ctx, CommitKey(v)); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := Load(ctx, &staleOnce{Storage: mem, stale: stale})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version() != 4 || snap.NumFiles() != 4 {
		t.Fatalf("version %d, %d files", snap.Version(), snap.NumFiles())
	}
}
