package query

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
	"github.com/sluicelake/sluice/writer"
)

// s3Table writes a table on versitygw: ids 0..39 (id long, s string, day string
// partition d0..d3 = id mod 4), one file per partition per commit, 2 commits.
func s3Table(t *testing.T) (storage.Storage, *table.Snapshot) {
	t.Helper()
	srv := s3test.Start(t)
	ctx := context.Background()
	store, err := storage.OpenWith(ctx, "s3://"+srv.Bucket+"/lake/t", storage.Options{S3: storage.S3Options{Endpoint: srv.Endpoint,
		Region: srv.Region, PathStyle: true, AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey}})
	if err != nil {
		t.Fatal(err)
	}
	tbl := table.New(store)
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long}, {Name: "s", Type: table.String, Nullable: true}, {Name: "day", Type: table.String, Nullable: true},
	}}
	if _, err := tbl.Create(ctx, table.CreateOptions{Name: "t", Schema: schema, PartitionColumns: []string{"day"}}); err != nil {
		t.Fatal(err)
	}
	for c := range 2 {
		snap, _ := tbl.Snapshot(ctx)
		buf, err := writer.NewBuffer(writer.Spec{Schema: schema, PartitionColumns: []string{"day"}}, writer.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		for id := c * 20; id < c*20+20; id++ {
			buf.SetInt(0, int64(id))
			buf.SetBytes(1, fmt.Appendf(nil, "s%02d", id))
			buf.SetBytes(2, fmt.Appendf(nil, "d%d", id%4))
			if err := buf.EndRow(); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := commitBuffer(ctx, tbl, store, buf, snap); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return store, snap
}

// count runs a count over a view of snap through cache, with the files Prune keeps.
func count(t *testing.T, store storage.Storage, snap *table.Snapshot, cache *Cache, where string) (int64, Pruned) {
	t.Helper()
	ctx := context.Background()
	pruned, err := Prune(snap, where)
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := RegisterWith(ctx, db, "t", store, snap, Options{Files: pruned.Files, Where: where, Cache: cache}); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n, pruned
}

// A table on S3 queries through the cache: all its files are fetched once, a second
// query fetches nothing; --where on the partition column, or on a column's statistics,
// fetches only the files that can match, and gives the matching rows.
func TestQueryS3ThroughCache(t *testing.T) {
	store, snap := s3Table(t)
	if snap.NumFiles() != 8 {
		t.Fatalf("%d files", snap.NumFiles())
	}
	cache, err := NewCache(t.TempDir(), 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := count(t, store, snap, cache, ""); n != 40 {
		t.Fatalf("%d rows", n)
	}
	if got, _ := cache.Fetched(); got != 8 {
		t.Fatalf("%d objects fetched, want 8", got)
	}
	if n, _ := count(t, store, snap, cache, ""); n != 40 {
		t.Fatalf("%d rows", n)
	}
	if got, _ := cache.Fetched(); got != 8 {
		t.Fatalf("%d objects fetched after a second query, want still 8", got)
	}
	for _, c := range []struct {
		where         string
		rows, fetched int64
	}{
		{"day = 'd1'", 10, 2},                      // partition values: 2 of 8 files
		{"day IN ('d1', 'd3') AND id < 20", 10, 2}, // statistics: the second commit's files hold ids 20..39
		{"id >= 100", 0, 0},
		{"s LIKE 's1%'", 10, 8}, // nothing to prune by: every file
	} {
		fresh, err := NewCache(t.TempDir(), 0, 4)
		if err != nil {
			t.Fatal(err)
		}
		n, pruned := count(t, store, snap, fresh, c.where)
		if got, _ := fresh.Fetched(); n != c.rows || got != c.fetched {
			t.Errorf("--where %s: %d rows, %d objects fetched (%d skipped); want %d rows, %d fetched", c.where, n, got, pruned.Skipped, c.rows, c.fetched)
		}
	}
}

// Two queries at once over one cache directory (as two sluice query processes share
// it) both read every row; each file lands in the cache whole.
func TestQueryCacheSharedByTwo(t *testing.T) {
	store, snap := s3Table(t)
	dir := t.TempDir()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cache, err := NewCache(dir, 0, 4)
			if err != nil {
				t.Error(err)
				return
			}
			for range 3 {
				if n, _ := count(t, store, snap, cache, ""); n != 40 {
					t.Errorf("%d rows", n)
				}
			}
		}()
	}
	wg.Wait()
	var files int
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files != 8 {
		t.Fatalf("%d files in the cache, want the table's 8 (no temporary leftovers)", files)
	}
}

// Past its limit the cache evicts the least recently used files (not the running
// query's, nor those used within a minute); what it evicted is fetched again when a
// query needs it.
func TestQueryCacheEvicts(t *testing.T) {
	store, snap := s3Table(t)
	dir := t.TempDir()
	all, err := NewCache(dir, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	count(t, store, snap, all, "")
	var size int64
	old := time.Now().Add(-time.Hour)
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, _ := d.Info()
			size += info.Size()
			os.Chtimes(p, old, old) // used an hour ago
		}
		return nil
	})
	// Room for about half the table: the query of d1 keeps its 2 files, the least
	// recently used of the others go.
	small, err := NewCache(dir, size/2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := count(t, store, snap, small, "day = 'd1'"); n != 10 {
		t.Fatalf("%d rows", n)
	}
	var left int64
	files := 0
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			info, _ := d.Info()
			left += info.Size()
			files++
		}
		return nil
	})
	if left > size/2 || files == 8 {
		t.Fatalf("%d files, %d bytes left of %d; limit %d", files, left, size, size/2)
	}
	if n, _ := count(t, store, snap, small, ""); n != 40 {
		t.Fatalf("%d rows after eviction", n)
	}
	if got, _ := small.Fetched(); got == 0 {
		t.Fatal("evicted files were not fetched again")
	}
}
