package upsert

import (
	"bytes"
	"container/list"
	"slices"
	"sort"
	"sync"

	"github.com/sluicelake/sluice/table"
)

// Cache keeps the keys of data files between lookups, up to a number of bytes, least
// recently used first out. A data file never changes once written (its deletion
// vector does, and is read at each lookup), so a cached file needs no check. A nil
// *Cache caches nothing. It is safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	max   int64
	used  int64
	files map[string]*list.Element
	lru   *list.List // of *cacheEntry, most recent first
	// stats are the parsed key-column statistics of the files of the last lookup, so
	// that a lookup does not parse every file's statistics again; each is marked with
	// the lookup (gen) that last saw it, and sweep drops the rest (files no longer live).
	stats map[string]*statsEntry
	gen   uint64
}

type statsEntry struct {
	fileBounds
	gen uint64
}

type cacheEntry struct {
	key string
	ix  *fileIndex
}

// NewCache returns a cache of at most maxBytes of keys.
func NewCache(maxBytes int64) *Cache {
	return &Cache{max: maxBytes, files: map[string]*list.Element{}, lru: list.New(), stats: map[string]*statsEntry{}}
}

// bounds returns a file's parsed key-column statistics, from the cache when it has
// them.
func (c *Cache) bounds(f *table.Add, ks *KeySet) fileBounds {
	if c == nil {
		return ks.statBounds(f)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.stats[f.Path]
	if e == nil {
		e = &statsEntry{fileBounds: ks.statBounds(f)}
		c.stats[f.Path] = e
	}
	e.gen = c.gen
	return e.fileBounds
}

// sweep forgets the statistics of files the last lookup did not see.
func (c *Cache) sweep() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, e := range c.stats {
		if e.gen != c.gen {
			delete(c.stats, p)
		}
	}
	c.gen++
}

// Bytes is the memory the cached keys take.
func (c *Cache) Bytes() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

func (c *Cache) get(key string) *fileIndex {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.files[key]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cacheEntry).ix
}

func (c *Cache) put(key string, ix *fileIndex) {
	if c == nil || ix.size() > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.files[key]; ok {
		return
	}
	c.files[key] = c.lru.PushFront(&cacheEntry{key: key, ix: ix})
	c.used += ix.size()
	for c.used > c.max {
		last := c.lru.Back()
		ce := last.Value.(*cacheEntry)
		c.lru.Remove(last)
		delete(c.files, ce.key)
		c.used -= ce.ix.size()
	}
}

// fileIndex maps the encoded keys of a file's rows to the rows: keys sorted, packed in
// one arena.
type fileIndex struct {
	arena []byte
	offs  []uint32 // key i is arena[offs[i]:offs[i+1]]
	rows  []uint32 // the row of key i
	empty bool     // no row group was read (bloom filters admitted no key)
}

func (ix *fileIndex) size() int64 {
	return int64(cap(ix.arena) + 4*cap(ix.offs) + 4*cap(ix.rows) + 64)
}

func (ix *fileIndex) keyAt(i int) []byte { return ix.arena[ix.offs[i]:ix.offs[i+1]] }

// appendRows appends the rows holding key.
func (ix *fileIndex) appendRows(dst []uint64, key string) []uint64 {
	n := len(ix.rows)
	i := sort.Search(n, func(i int) bool { return string(ix.keyAt(i)) >= key })
	for ; i < n && string(ix.keyAt(i)) == key; i++ {
		dst = append(dst, uint64(ix.rows[i]))
	}
	return dst
}

// indexBuilder collects a file's keys and rows.
type indexBuilder struct {
	arena []byte
	offs  []uint32
	rows  []uint32
}

func (b *indexBuilder) add(key []byte, row uint32) {
	b.offs = append(b.offs, uint32(len(b.arena)))
	b.arena = append(b.arena, key...)
	b.rows = append(b.rows, row)
}

func (b *indexBuilder) build() *fileIndex {
	n := len(b.rows)
	b.offs = append(b.offs, uint32(len(b.arena)))
	key := func(i int) []byte { return b.arena[b.offs[i]:b.offs[i+1]] }
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int {
		if c := bytes.Compare(key(x), key(y)); c != 0 {
			return c
		}
		return int(b.rows[x]) - int(b.rows[y])
	})
	ix := &fileIndex{arena: make([]byte, 0, len(b.arena)), offs: make([]uint32, 0, n+1), rows: make([]uint32, 0, n)}
	for _, i := range order {
		ix.offs = append(ix.offs, uint32(len(ix.arena)))
		ix.arena = append(ix.arena, key(i)...)
		ix.rows = append(ix.rows, b.rows[i])
	}
	ix.offs = append(ix.offs, uint32(len(ix.arena)))
	return ix
}
