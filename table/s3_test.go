package table

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
)

func s3Store(t testing.TB, srv *s3test.Server, prefix string) *storage.S3 {
	t.Helper()
	s, err := storage.NewS3(context.Background(), srv.Bucket, prefix, storage.S3Options{
		Region: srv.Region, Endpoint: srv.Endpoint, PathStyle: true,
		AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConcurrentWritersS3: 8 writers, each with its own app id and its own handle (as
// separate processes would be), commit 50 times each to one table on a real S3 server.
// All 400 commits land on contiguous versions, no add is lost, every writer's final txn
// is its last version, and the checkpoints written along the way read back.
func TestConcurrentWritersS3(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	prefix := "lake/concurrent"
	newTestTable(t, s3Store(t, srv, prefix))
	const writers, commits = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	attempts := make([]int, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tbl := New(s3Store(t, srv, prefix), CommitRetries(1000, 2*time.Millisecond))
			for i := range commits {
				res, err := tbl.Commit(ctx, &Transaction{
					Adds:    []Add{add(fmt.Sprintf("day=2024-01-01/w%d-%03d.parquet", w, i))},
					AppTxns: []AppTxn{{AppID: fmt.Sprint("writer-", w), Prev: int64(i) - 1, Version: int64(i)}},
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d commit %d: %w", w, i, err)
					return
				}
				attempts[w] += res.Attempts
				if res.CheckpointErr != nil {
					errs <- fmt.Errorf("writer %d checkpoint: %w", w, res.CheckpointErr)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	store := s3Store(t, srv, prefix)
	files, err := listLog(ctx, store, "")
	if err != nil {
		t.Fatal(err)
	}
	var versions []int64
	for _, f := range files {
		if f.kind == logCommit {
			versions = append(versions, f.version)
		}
	}
	want := make([]int64, writers*commits+1)
	for i := range want {
		want[i] = int64(i)
	}
	if !slices.Equal(versions, want) {
		t.Fatalf("commit versions %v, want 0..%d contiguous", versions, writers*commits)
	}
	snap, err := Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Version() != writers*commits || snap.NumFiles() != writers*commits {
		t.Fatalf("version %d, files %d; want %d each (no lost add)", snap.Version(), snap.NumFiles(), writers*commits)
	}
	if snap.CheckpointVersion() != writers*commits {
		t.Fatalf("checkpoint version %d, want %d", snap.CheckpointVersion(), writers*commits)
	}
	for w := range writers {
		if v, ok := snap.Txn(fmt.Sprint("writer-", w)); !ok || v != commits-1 {
			t.Fatalf("writer %d txn = %d, %v; want %d", w, v, ok, commits-1)
		}
	}
	total := 0
	for _, a := range attempts {
		total += a
	}
	t.Logf("400 commits took %d put attempts (%d lost races)", total, total-writers*commits)
}

// BenchmarkCommitS3 measures commit latency against versitygw on loopback: the
// put-if-absent of the next version with one add and one txn.
func BenchmarkCommitS3(b *testing.B) {
	srv := s3test.Start(b)
	benchCommits(b, s3Store(b, srv, "lake/bench"))
}
