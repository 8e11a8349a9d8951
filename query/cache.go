package query

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// Cache keeps local copies of tables' data files for DuckDB to read, for tables on
// storage DuckDB cannot reach (S3 without the httpfs extension). Delta data files are
// immutable, so a copy is valid for as long as it exists. Copies live under
// <dir>/<hash of the table's URI>/<key>; a file is downloaded to a temporary name and
// renamed, so a reader never sees half a file, and two processes sharing the
// directory at most download a file twice. Its modification time is its last use:
// beyond the size limit, the least recently used files go first, never those the
// running query needs (the limit can be exceeded by them) nor those another process
// used within the last minute.
type Cache struct {
	dir      string
	limit    int64 // bytes; 0: no limit
	parallel int

	fetched      atomic.Int64 // objects downloaded since NewCache
	fetchedBytes atomic.Int64
}

// DefaultCacheDir is the cache under the user's cache directory
// ($XDG_CACHE_HOME/sluice/query, ~/.cache/sluice/query).
func DefaultCacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("query: no cache directory (set --cache-dir): %w", err)
	}
	return filepath.Join(d, "sluice", "query"), nil
}

// NewCache opens (creating) a cache in dir holding at most limit bytes (0: no limit),
// downloading up to parallel files at once (0: 8).
func NewCache(dir string, limit int64, parallel int) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("query: cache: %w", err)
	}
	if parallel <= 0 {
		parallel = 8
	}
	return &Cache{dir: dir, limit: limit, parallel: parallel}, nil
}

// Fetched reports the objects (and bytes) this Cache downloaded, not found in it.
func (c *Cache) Fetched() (int64, int64) { return c.fetched.Load(), c.fetchedBytes.Load() }

// Progress is called as files are made local: done of total, bytes downloaded so far.
type Progress func(done, total int, bytes int64)

// fetch makes local copies of the keys of store, in parallel, and returns their paths
// in order; copies already there are only marked used. Then it trims the cache to its
// limit, keeping these.
func (c *Cache) fetch(ctx context.Context, store storage.Storage, keys []string, progress Progress) ([]string, error) {
	sum := sha256.Sum256([]byte(store.URI()))
	root := filepath.Join(c.dir, hex.EncodeToString(sum[:8]))
	paths := make([]string, len(keys))
	for i, k := range keys {
		if !storage.ValidKey(k) {
			return nil, fmt.Errorf("query: cache: file %q is not inside the table", k)
		}
		paths[i] = filepath.Join(root, filepath.FromSlash(k))
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		done     int
		bytes    int64
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, c.parallel)
	for i := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := c.fetchOne(ctx, store, keys[i], paths[i])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			done++
			bytes += n
			if progress != nil {
				progress(done, len(keys), bytes)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	keep := make(map[string]bool, len(paths))
	for _, p := range paths {
		keep[p] = true
	}
	return paths, c.trim(keep)
}

// fetchOne makes one local copy and returns the bytes downloaded (0 for a hit).
func (c *Cache) fetchOne(ctx context.Context, store storage.Storage, key, path string) (int64, error) {
	now := time.Now()
	if err := os.Chtimes(path, now, now); err == nil {
		return 0, nil // there already: now the most recently used
	}
	data, err := store.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("query: fetch %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, fmt.Errorf("query: cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".fetch-*")
	if err != nil {
		return 0, fmt.Errorf("query: cache: %w", err)
	}
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		os.Remove(f.Name())
		return 0, fmt.Errorf("query: cache: %w", werr)
	}
	c.fetched.Add(1)
	c.fetchedBytes.Add(int64(len(data)))
	return int64(len(data)), nil
}

// cacheGrace protects files another process used this recently from eviction.
const cacheGrace = time.Minute

// trim deletes the least recently used files until the cache fits its limit, never
// those in keep or used within cacheGrace.
func (c *Cache) trim(keep map[string]bool) error {
	if c.limit <= 0 {
		return nil
	}
	type entry struct {
		path string
		size int64
		used time.Time
	}
	var all []entry
	var total int64
	err := filepath.WalkDir(c.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // another process removed it meanwhile
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".fetch-") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		all = append(all, entry{p, info.Size(), info.ModTime()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return fmt.Errorf("query: cache: %w", err)
	}
	slices.SortFunc(all, func(a, b entry) int { return a.used.Compare(b.used) })
	for _, e := range all {
		if total <= c.limit {
			break
		}
		if keep[e.path] {
			continue
		}
		// Another process may have used it since the walk: look again.
		if info, err := os.Stat(e.path); err != nil || time.Since(info.ModTime()) < cacheGrace {
			continue
		}
		if err := os.Remove(e.path); err == nil || errors.Is(err, fs.ErrNotExist) {
			total -= e.size
		}
	}
	return nil
}
