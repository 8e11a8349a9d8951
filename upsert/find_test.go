package upsert

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

var testSchema = &table.StructType{Fields: []*table.StructField{
	{Name: "id", Type: table.Long, Nullable: false},
	{Name: "name", Type: table.String, Nullable: true},
}}

// writeFile writes rows with the given ids (name "n<id>") as one data file with a bloom
// filter on id, and returns its add action.
func writeFile(t *testing.T, store storage.Storage, name string, ids []int64, bloom bool) *table.Add {
	t.Helper()
	spec := writer.Spec{Schema: testSchema}
	if bloom {
		spec.BloomFilters = []string{"id"}
	}
	buf, err := writer.NewBuffer(spec, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		buf.SetInt(0, id)
		buf.SetBytes(1, fmt.Appendf(nil, "n%d", id))
		if err := buf.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	p := buf.Take()[0]
	var out bytes.Buffer
	info, err := p.Encode(&out)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(context.Background(), name, bytes.NewReader(out.Bytes()), int64(out.Len())); err != nil {
		t.Fatal(err)
	}
	return &table.Add{Path: name, Size: info.Size, Stats: info.Stats, DataChange: true}
}

func keysOf(ids ...int64) []string {
	var out []string
	for _, id := range ids {
		out = append(out, string(writer.AppendKeyInt(nil, id)))
	}
	return out
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory("mem")
	cols, err := Columns(testSchema, []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	low := writeFile(t, store, "low.parquet", []int64{1, 2, 3, 5, 8}, true)
	high := writeFile(t, store, "high.parquet", []int64{100, 102, 104, 106}, true)
	mixed := writeFile(t, store, "mixed.parquet", []int64{10, 200, 11, 3}, false) // no bloom filter
	files := []*table.Add{low, high, mixed}

	// 3 is in low and mixed; 103 is inside high's range but not in it (the bloom filter
	// says so); 50 is in no file's range.
	ks, err := NewKeySet(cols, keysOf(3, 103, 50))
	if err != nil {
		t.Fatal(err)
	}
	hits, st, err := Find(ctx, store, files, ks, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]uint64{}
	for _, h := range hits {
		got[h.File.Path] = h.Rows
	}
	if len(got) != 2 || !slices.Equal(got["low.parquet"], []uint64{2}) || !slices.Equal(got["mixed.parquet"], []uint64{3}) {
		t.Fatalf("hits %v", got)
	}
	if st.Files != 3 || st.PrunedByStats != 0 || st.PrunedByBloom != 1 || st.FilesRead != 2 || st.Rows != 2 {
		t.Fatalf("stats %+v: want high pruned by its bloom filter, the others read", st)
	}

	// Keys outside every file's min/max are pruned without reading anything.
	ks, _ = NewKeySet(cols, keysOf(1000, -5))
	hits, st, err = Find(ctx, store, files, ks, nil)
	if err != nil || len(hits) != 0 || st.PrunedByStats != 3 || st.BytesRead != 0 {
		t.Fatalf("hits %v stats %+v err %v: want every file pruned by statistics", hits, st, err)
	}

	// Rows a deletion vector marks deleted are not live.
	rm, add, changed, err := table.MarkDeleted(ctx, store, low, []uint64{2})
	if err != nil || !changed || rm.Path != low.Path {
		t.Fatal(err, changed)
	}
	ks, _ = NewKeySet(cols, keysOf(3, 5))
	hits, _, err = Find(ctx, store, []*table.Add{&add}, ks, nil)
	if err != nil || len(hits) != 1 || !slices.Equal(hits[0].Rows, []uint64{3}) {
		t.Fatalf("hits %+v err %v: want row 3 (id 5) only, row 2 (id 3) being deleted", hits, err)
	}
}

func TestFindCompositeStringKey(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory("mem")
	cols, err := Columns(testSchema, []string{"name", "id"})
	if err != nil {
		t.Fatal(err)
	}
	f := writeFile(t, store, "f.parquet", []int64{7, 8, 9}, false)
	key := func(name string, id int64) string {
		return string(writer.AppendKeyInt(writer.AppendKeyBytes(nil, []byte(name)), id))
	}
	ks, err := NewKeySet(cols, []string{key("n8", 8), key("n9", 7), key("zz", 9)})
	if err != nil {
		t.Fatal(err)
	}
	hits, st, err := Find(ctx, store, []*table.Add{f}, ks, nil)
	if err != nil || len(hits) != 1 || !slices.Equal(hits[0].Rows, []uint64{1}) {
		t.Fatalf("hits %+v stats %+v err %v: want row 1 (n8, 8) only", hits, st, err)
	}
}

// With a cache, a file's keys are read once; later lookups read nothing, find the
// same rows, and still honour deletion vectors added since.
func TestFindCache(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory("mem")
	cols, _ := Columns(testSchema, []string{"id"})
	a := writeFile(t, store, "a.parquet", []int64{1, 2, 3, 2, 5}, true) // id 2 twice (a replaced row, say)
	b := writeFile(t, store, "b.parquet", []int64{10, 11, 12}, true)
	cache := NewCache(1 << 20)
	ks, _ := NewKeySet(cols, keysOf(2, 11))
	first, st1, err := Find(ctx, store, []*table.Add{a, b}, ks, cache)
	if err != nil {
		t.Fatal(err)
	}
	if st1.FilesRead != 2 || st1.CacheHits != 0 || cache.Bytes() == 0 {
		t.Fatalf("first lookup %+v, cache %d bytes", st1, cache.Bytes())
	}
	// Another key set: 12 is in b, whose bloom filter would have admitted only 11 the
	// first time; the cache holds every row of the files it read.
	ks2, _ := NewKeySet(cols, keysOf(2, 11, 12))
	second, st2, err := Find(ctx, store, []*table.Add{a, b}, ks2, cache)
	if err != nil {
		t.Fatal(err)
	}
	if st2.BytesRead != 0 || st2.CacheHits != 2 || st2.FilesRead != 0 {
		t.Fatalf("second lookup read %d bytes, %+v: want every file from the cache", st2.BytesRead, st2)
	}
	rows := func(hits []Hit) map[string][]uint64 {
		m := map[string][]uint64{}
		for _, h := range hits {
			m[h.File.Path] = h.Rows
		}
		return m
	}
	if got := rows(first); !slices.Equal(got["a.parquet"], []uint64{1, 3}) || !slices.Equal(got["b.parquet"], []uint64{1}) {
		t.Fatalf("first %v", got)
	}
	if got := rows(second); !slices.Equal(got["a.parquet"], []uint64{1, 3}) || !slices.Equal(got["b.parquet"], []uint64{1, 2}) {
		t.Fatalf("second %v", got)
	}
	_, a2, _, err := table.MarkDeleted(ctx, store, a, []uint64{3})
	if err != nil {
		t.Fatal(err)
	}
	third, st3, err := Find(ctx, store, []*table.Add{&a2, b}, ks2, cache)
	if err != nil || st3.CacheHits != 2 {
		t.Fatal(err, st3)
	}
	if got := rows(third); !slices.Equal(got["a.parquet"], []uint64{1}) {
		t.Fatalf("after deleting row 3: %v", got)
	}
	// A cache too small for a file keeps nothing, and lookups still work.
	small := NewCache(10)
	if _, _, err := Find(ctx, store, []*table.Add{a, b}, ks2, small); err != nil || small.Bytes() != 0 {
		t.Fatalf("small cache: %v, %d bytes", err, small.Bytes())
	}
}

// The cache keeps the parsed statistics of the files of the last lookup, and forgets
// those of files that are no longer live.
func TestFindCacheStatistics(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory("mem")
	cols, _ := Columns(testSchema, []string{"id"})
	a := writeFile(t, store, "a.parquet", []int64{1, 2}, false)
	b := writeFile(t, store, "b.parquet", []int64{10, 11}, false)
	cache := NewCache(1 << 20)
	ks, _ := NewKeySet(cols, keysOf(2, 50))
	if _, st, err := Find(ctx, store, []*table.Add{a, b}, ks, cache); err != nil || st.PrunedByStats != 1 {
		t.Fatalf("%+v %v: want b pruned by its statistics", st, err)
	}
	if len(cache.stats) != 2 {
		t.Fatalf("%d files' statistics cached, want 2", len(cache.stats))
	}
	// b's statistics come from the cache now: a broken stats string is not parsed again.
	broken := *b
	broken.Stats = "{"
	hits, st, err := Find(ctx, store, []*table.Add{&broken}, ks, cache)
	if err != nil || len(hits) != 0 || st.PrunedByStats != 1 {
		t.Fatalf("hits %v, %+v, %v: want b pruned by its cached statistics", hits, st, err)
	}
	if _, ok := cache.stats["a.parquet"]; ok || len(cache.stats) != 1 {
		t.Fatalf("cached statistics %v: a is no longer live and must be forgotten", cache.stats)
	}
}

// BenchmarkFindStatistics is one lookup of 1,000 new keys over 100,000 files whose
// statistics prune them all (an insert-heavy flush on a large table): without a
// cache every file's statistics are parsed each time; with one, once.
func BenchmarkFindStatistics(b *testing.B) {
	cols, _ := Columns(testSchema, []string{"id"})
	files := make([]*table.Add, 100_000)
	for i := range files {
		files[i] = &table.Add{Path: fmt.Sprintf("f%06d.parquet", i),
			Stats: fmt.Sprintf(`{"numRecords":100,"minValues":{"id":%d,"name":"a"},"maxValues":{"id":%d,"name":"z"},"nullCount":{"id":0,"name":0}}`, i*100, i*100+99)}
	}
	var keys []int64
	for k := range 1000 {
		keys = append(keys, int64(20_000_000+k))
	}
	ks, _ := NewKeySet(cols, keysOf(keys...))
	store := storage.NewMemory("mem")
	for _, c := range []struct {
		name  string
		cache *Cache
	}{{"no cache", nil}, {"cache", NewCache(1 << 30)}} {
		b.Run(c.name, func(b *testing.B) {
			Find(context.Background(), store, files, ks, c.cache) // the cache's first lookup parses, as without one
			for b.Loop() {
				if _, st, err := Find(context.Background(), store, files, ks, c.cache); err != nil || st.PrunedByStats != len(files) {
					b.Fatal(err, st)
				}
			}
		})
	}
}
