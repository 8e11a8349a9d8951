package upsert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// Hit is a live file holding rows with keys of the set.
type Hit struct {
	File *table.Add
	Rows []uint64 // row indexes within the file, not deleted yet, ascending
}

// Stats says what a Find looked at.
type Stats struct {
	Files         int   // live files of the table
	PrunedByStats int   // files whose min/max statistics admit no key
	PrunedByBloom int   // files whose bloom filters admit no key (read: their footer)
	FilesRead     int   // files whose key columns were read
	BytesRead     int64 // bytes fetched from storage
	Rows          int   // rows found
	CacheHits     int   // files whose keys came from the Cache: nothing read
	Took          time.Duration
}

// Find returns the live rows of files that hold a key of ks (deletion vectors
// applied): the rows a keyed write replaces. Files are pruned first by the min/max
// statistics of the key columns, then by the bloom filters of their key column (one
// column keys), and only the key columns of the rest are decoded. With a cache, the
// keys of a file read once are kept (files never change; only their deletion vectors
// do, and those are read again), so that later lookups in it read nothing.
func Find(ctx context.Context, store storage.Storage, files []*table.Add, ks *KeySet, cache *Cache) ([]Hit, Stats, error) {
	start := time.Now()
	st := Stats{Files: len(files)}
	var hits []Hit
	for _, f := range files {
		if ctx.Err() != nil {
			return nil, st, ctx.Err()
		}
		cands := ks.candidates(cache.bounds(f, ks))
		if len(cands) == 0 {
			st.PrunedByStats++
			continue
		}
		rows, read, bloomed, cached, err := ks.scan(ctx, store, f, cands, cache)
		st.BytesRead += read
		if cached {
			st.CacheHits++
		}
		if err != nil {
			return nil, st, fmt.Errorf("key lookup in %s: %w", f.Path, err)
		}
		if bloomed {
			st.PrunedByBloom++
			continue
		}
		if !cached {
			st.FilesRead++
		}
		if len(rows) > 0 {
			hits = append(hits, Hit{File: f, Rows: rows})
			st.Rows += len(rows)
		}
	}
	cache.sweep()
	st.Took = time.Since(start)
	return hits, st, nil
}

// fileBounds is what a file's statistics say about the key columns: no rows, or the
// bounds of each column (nil bounds: the file has no statistics).
type fileBounds struct {
	empty  bool
	bounds []bound
}

// statBounds parses a file's statistics into the bounds of the key columns. The
// bounds stay valid when rows are deleted later (they become wide, not wrong), so a
// cache may keep them for as long as the file lives.
func (ks *KeySet) statBounds(f *table.Add) fileBounds {
	stats, ok := f.ParseStats()
	if !ok {
		return fileBounds{}
	}
	if stats.NumRecords == 0 {
		return fileBounds{empty: true}
	}
	fb := fileBounds{bounds: make([]bound, len(ks.cols))}
	for i, c := range ks.cols {
		fb.bounds[i] = statBound(c, stats)
	}
	return fb
}

// candidates returns the keys a file's statistics admit (all of them when it has
// none for the key columns).
func (ks *KeySet) candidates(fb fileBounds) []keyEntry {
	if fb.empty {
		return nil
	}
	if fb.bounds == nil || len(ks.byFirst) == 0 {
		return ks.byFirst
	}
	bounds := fb.bounds
	cands := ks.byFirst
	if b := bounds[0]; b.min != nil || b.max != nil {
		first := isBytesType(ks.cols[0].Type)
		lo, hi := 0, len(cands)
		if b.min != nil {
			lo = sort.Search(len(cands), func(i int) bool { return compareValues(cands[i].vals[0], *b.min, first) >= 0 })
		}
		if b.max != nil {
			hi = sort.Search(len(cands), func(i int) bool { return compareValues(cands[i].vals[0], *b.max, first) > 0 })
		}
		if lo >= hi {
			return nil
		}
		cands = cands[lo:hi]
	}
	if len(ks.cols) == 1 {
		return cands
	}
	var out []keyEntry
	for _, k := range cands {
		if admits(ks.cols, bounds, k.vals) {
			out = append(out, k)
		}
	}
	return out
}

func admits(cols []Column, bounds []bound, k []keyValue) bool {
	for i := 1; i < len(cols); i++ {
		b, isBytes := bounds[i], isBytesType(cols[i].Type)
		if k[i].null {
			continue // nulls are outside min/max: keep it
		}
		if b.min != nil && compareValues(k[i], *b.min, isBytes) < 0 {
			return false
		}
		if b.max != nil && compareValues(k[i], *b.max, isBytes) > 0 {
			return false
		}
	}
	return true
}

// bound is what a file's statistics say about one key column: nil where they say
// nothing that can be trusted.
type bound struct{ min, max *keyValue }

// statBound reads the min and max of a key column from a file's statistics. Only
// integer and string columns are used: dates and timestamps are written as text
// rounded to days or milliseconds, and a long string's max may be truncated.
func statBound(c Column, s table.Stats) bound {
	var b bound
	read := func(raw json.RawMessage, isMax bool) *keyValue {
		if raw == nil {
			return nil
		}
		switch c.Type {
		case table.Byte, table.Short, table.Integer, table.Long:
			v, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return nil
			}
			return &keyValue{i: v}
		case table.String:
			var v string
			if json.Unmarshal(raw, &v) != nil {
				return nil
			}
			if isMax && utf8.RuneCountInString(v) >= 32 {
				return nil // Spark truncates a max to 32 characters (and appends a tie-breaker)
			}
			return &keyValue{b: []byte(v)}
		}
		return nil
	}
	b.min = read(s.MinValues[c.Physical], false)
	b.max = read(s.MaxValues[c.Physical], true)
	return b
}

// scan returns the live rows of one file whose keys are in the set: from the cache,
// or by reading the file's key columns (and caching them). bloomed is true when the
// file's bloom filters admit none of cands (then the file was fetched, but no key
// column decoded).
func (ks *KeySet) scan(ctx context.Context, store storage.Storage, f *table.Add, cands []keyEntry, cache *Cache) (rows []uint64, read int64, bloomed, cached bool, err error) {
	key, err := table.DecodePath(f.Path)
	if err != nil {
		return nil, 0, false, false, err
	}
	ix := cache.get(key)
	if ix == nil {
		var data []byte
		if data, err = store.Get(ctx, key); err != nil {
			return nil, 0, false, false, err
		}
		read = int64(len(data))
		var all bool
		ix, all, err = ks.readKeys(data, cands, cache != nil)
		if err != nil || ix == nil {
			return nil, read, false, false, err
		}
		if all {
			cache.put(key, ix)
		}
	} else {
		cached = true
	}
	if ix.empty {
		return nil, read, true, cached, nil
	}
	for _, c := range cands {
		rows = ix.appendRows(rows, c.enc)
	}
	if len(rows) == 0 {
		return nil, read, false, cached, nil
	}
	slices.Sort(rows)
	deleted, err := table.DeletedRows(ctx, store, f)
	if err != nil {
		return nil, read, false, cached, err
	}
	if deleted != nil {
		rows = slices.DeleteFunc(rows, deleted.Contains)
	}
	return rows, read, false, cached, nil
}

// readKeys decodes the key columns of a data file into an index of its rows by key.
// Without all, row groups whose bloom filters admit none of cands are skipped (the
// index is then partial: all is false, and it must not be cached); an index with
// every row group skipped is empty. A file without a key column holds only null keys,
// which no key matches: its index is nil.
func (ks *KeySet) readKeys(data []byte, cands []keyEntry, all bool) (ix *fileIndex, complete bool, err error) {
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, false, err
	}
	leaves := make([]parquet.LeafColumn, len(ks.cols))
	for i, c := range ks.cols {
		lc, ok := pf.Schema().Lookup(c.Physical)
		if !ok {
			// A column added after the file was written: every row's value is null, and
			// keys are never null.
			return nil, false, nil
		}
		if lc.MaxRepetitionLevel > 0 {
			return nil, false, fmt.Errorf("key column %q is repeated in the file", c.Name)
		}
		leaves[i] = lc
	}
	b := indexBuilder{}
	base := uint32(0)
	anyRead := false
	var keys [][]byte
	for _, rg := range pf.RowGroups() {
		n := int(rg.NumRows())
		if !all && len(ks.cols) == 1 && !bloomAdmits(rg.ColumnChunks()[leaves[0].ColumnIndex], leaves[0], ks.cols[0], cands) {
			base += uint32(n)
			continue
		}
		anyRead = true
		keys = slices.Grow(keys[:0], n)[:n]
		for i := range keys {
			keys[i] = keys[i][:0]
		}
		for i, c := range ks.cols {
			if err := appendColumn(rg.ColumnChunks()[leaves[i].ColumnIndex], leaves[i], c, keys); err != nil {
				return nil, false, fmt.Errorf("key column %q: %w", c.Name, err)
			}
		}
		for i, k := range keys {
			if all || ks.Has(k) {
				b.add(k, base+uint32(i))
			}
		}
		base += uint32(n)
	}
	ix = b.build()
	ix.empty = !anyRead
	return ix, all, nil
}

// bloomAdmits reports whether a column chunk's bloom filter may hold one of the
// candidate keys (true when it has none).
func bloomAdmits(cc parquet.ColumnChunk, lc parquet.LeafColumn, c Column, cands []keyEntry) bool {
	bf := cc.BloomFilter()
	if bf == nil {
		return true
	}
	kind := lc.Node.Type().Kind()
	for _, e := range cands {
		k := e.vals
		var v parquet.Value
		switch {
		case k[0].null:
			return true
		case kind == parquet.ByteArray && isBytesType(c.Type):
			v = parquet.ByteArrayValue(k[0].b)
		case kind == parquet.Int64 && !isTimestampConverted(lc):
			v = parquet.Int64Value(k[0].i)
		case kind == parquet.Int32:
			v = parquet.Int32Value(int32(k[0].i))
		default:
			return true
		}
		if ok, err := bf.Check(v); err != nil || ok {
			return true
		}
	}
	return false
}

// isTimestampConverted reports whether a timestamp column's values are in another
// unit than microseconds (so its bloom filter hashes other numbers than the key's).
func isTimestampConverted(lc parquet.LeafColumn) bool {
	u := timestampUnit(lc)
	return u != 0 && u != time.Microsecond
}

// timestampUnit is the unit of a timestamp column's values, 0 for other columns.
func timestampUnit(lc parquet.LeafColumn) time.Duration {
	lt := lc.Node.Type().LogicalType()
	if lt == nil {
		return 0
	}
	ts, ok := lt.Value.(*format.TimestampType)
	if !ok || ts.Unit.Value == nil {
		return 0
	}
	return ts.Unit.Value.Duration()
}

// appendColumn appends each row's encoded value of one key column to keys.
func appendColumn(cc parquet.ColumnChunk, lc parquet.LeafColumn, c Column, keys [][]byte) error {
	kind := lc.Node.Type().Kind()
	scale := int64(1) // a timestamp's unit in the file, in microseconds (negative: divide)
	switch timestampUnit(lc) {
	case time.Millisecond:
		scale = 1000
	case time.Nanosecond:
		scale = -1000
	}
	pages := cc.Pages()
	defer pages.Close()
	vals := make([]parquet.Value, 1024)
	row := 0
	for {
		p, err := pages.ReadPage()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		r := p.Values()
		for {
			n, err := r.ReadValues(vals)
			for _, v := range vals[:n] {
				if row >= len(keys) {
					parquet.Release(p)
					return fmt.Errorf("more values than rows")
				}
				k := keys[row]
				switch {
				case v.IsNull():
					k = writer.AppendKeyNull(k)
				case kind == parquet.ByteArray || kind == parquet.FixedLenByteArray:
					k = writer.AppendKeyBytes(k, v.ByteArray())
				case kind == parquet.Int32:
					k = writer.AppendKeyInt(k, int64(v.Int32()))
				case kind == parquet.Int64 && scale > 0:
					k = writer.AppendKeyInt(k, v.Int64()*scale)
				case kind == parquet.Int64:
					k = writer.AppendKeyInt(k, v.Int64()/-scale)
				case kind == parquet.Boolean:
					b := int64(0)
					if v.Boolean() {
						b = 1
					}
					k = writer.AppendKeyInt(k, b)
				default:
					parquet.Release(p)
					return fmt.Errorf("physical type %s is not read as a key (an INT96 timestamp, say): rewrite the file with optimize", kind)
				}
				keys[row] = k
				row++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				parquet.Release(p)
				return err
			}
		}
		parquet.Release(p)
	}
	if row != len(keys) {
		return fmt.Errorf("%d values for %d rows", row, len(keys))
	}
	return nil
}
