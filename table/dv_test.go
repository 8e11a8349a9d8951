package table

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2/roaring64"

	"github.com/sluicelake/sluice/table/storage"
)

// The examples of PROTOCOL.md, "Deletion Vector Descriptor Schema". The inline example
// is Delta's native serialization with its header written big endian, which no
// reference reader accepts (they read little endian); its bitmap is checked with the
// header as Spark and the kernel write it.
func TestDeletionVectorProtocolExamples(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory("dv")
	example, err := z85Decode("wi5b=000010000siXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i += 4 { // magic, count, size: to little endian
		slices.Reverse(example[i : i+4])
	}
	inline := &Add{Path: "f.parquet", DeletionVector: &DeletionVector{StorageType: DVInline,
		PathOrInlineDv: z85Encode(example), SizeInBytes: 40, Cardinality: 6}}
	rows, err := DeletedRows(ctx, store, inline)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows.ToArray(); !slices.Equal(got, []uint64{3, 4, 7, 11, 18, 29}) {
		t.Fatalf("inline example: rows %v, want [3 4 7 11 18 29]", got)
	}
	key, err := dvKey(store, &DeletionVector{StorageType: DVRelativeUUID, PathOrInlineDv: "ab^-aqEH.-t@S}K{vb[*k^"})
	if err != nil || key != "ab/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin" {
		t.Fatalf("relative example: %q, %v", key, err)
	}
	key, err = dvKey(store, &DeletionVector{StorageType: DVAbsolutePath, PathOrInlineDv: "memory://dv/x/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin"})
	if err != nil || key != "x/deletion_vector_d2c639aa-8816-431a-aaf6-d3fe2512ff61.bin" {
		t.Fatalf("absolute path inside the table: %q, %v", key, err)
	}
	if _, err := dvKey(store, &DeletionVector{StorageType: DVAbsolutePath, PathOrInlineDv: "s3://elsewhere/deletion_vector_x.bin"}); err == nil {
		t.Fatal("absolute path outside the table: no error")
	}
}

func TestZ85RoundTrip(t *testing.T) {
	for _, in := range [][]byte{{}, {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 13)} {
		enc := z85Encode(in)
		out, err := z85Decode(enc)
		if err != nil || !bytes.Equal(out[:len(in)], in) {
			t.Fatalf("%x → %q → %x, %v", in, enc, out, err)
		}
	}
	// The example of the Z85 specification.
	if enc := z85Encode([]byte{0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B}); enc != "HelloWorld" {
		t.Fatalf("Z85 spec example: %q", enc)
	}
	for _, bad := range []string{"abcd", "abc\"d", "#####"} {
		if _, err := z85Decode(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestDeletionVectorFileRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory("dv")
	rows := roaring64.BitmapOf(0, 5, 70000, 1<<32+7) // two 32-bit buckets, two containers
	rows.AddRange(100, 5000)                         // a run
	dv, err := WriteDeletionVector(ctx, store, rows)
	if err != nil {
		t.Fatal(err)
	}
	if dv.StorageType != DVRelativeUUID || dv.Cardinality != int64(rows.GetCardinality()) || *dv.Offset != 1 {
		t.Fatalf("descriptor %+v", dv)
	}
	got, err := DeletedRows(ctx, store, &Add{Path: "f", DeletionVector: dv})
	if err != nil || !got.Equals(rows) {
		t.Fatalf("read back %v (%v), want %v", got, err, rows)
	}
	in, err := InlineDeletionVector(rows)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DeletedRows(ctx, store, &Add{Path: "f", DeletionVector: in}); err != nil || !got.Equals(rows) {
		t.Fatalf("inline: %v, %v", got, err)
	}

	key, _ := dvKey(store, dv)
	file, _ := store.Get(ctx, key)
	corrupt := func(name string, change func(b []byte) []byte, d DeletionVector, want string) {
		t.Helper()
		b := change(slices.Clone(file))
		if err := store.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
			t.Fatal(err)
		}
		_, err := DeletedRows(ctx, store, &Add{Path: "data.parquet", DeletionVector: &d})
		var de *DeletionVectorError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "data.parquet") {
			t.Errorf("%s: %v, want a *DeletionVectorError naming the file and saying %q", name, err, want)
		}
	}
	same := func(b []byte) []byte { return b }
	corrupt("flipped bit", func(b []byte) []byte { b[len(b)-6] ^= 1; return b }, *dv, "checksum")
	corrupt("truncated", func(b []byte) []byte { return b[:len(b)-2] }, *dv, "past the end")
	corrupt("version", func(b []byte) []byte { b[0] = 2; return b }, *dv, "version byte")
	wrongSize := *dv
	wrongSize.SizeInBytes--
	corrupt("size", same, wrongSize, "the descriptor")
	wrongCount := *dv
	wrongCount.Cardinality++
	corrupt("cardinality", same, wrongCount, "the descriptor says")
	if err := store.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := DeletedRows(ctx, store, &Add{Path: "f", DeletionVector: dv}); err == nil || !strings.Contains(err.Error(), key) {
		t.Fatalf("missing file: %v", err)
	}
}

// DeleteRows marks rows deleted in one commit that Spark reads (remove and add of the
// same path, the protocol moved to the feature), accumulates them, survives a
// checkpoint, and refuses a file another writer changed in between.
func TestDeleteRows(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory("del")
	tbl := New(store)
	if _, err := tbl.Create(ctx, CreateOptions{Name: "t", Schema: &StructType{Fields: []*StructField{{Name: "id", Type: Long, Nullable: true}}},
		Configuration: map[string]string{"delta.checkpointInterval": "3"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Commit(ctx, &Transaction{Adds: []Add{{Path: "a.parquet", Size: 10, DataChange: true, Stats: `{"numRecords":10,"minValues":{"id":0}}`}}}); err != nil {
		t.Fatal(err)
	}
	stale := New(store)
	if _, err := stale.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.DeleteRows(ctx, "a.parquet", []uint64{1, 3}); err != nil {
		t.Fatal(err)
	}
	snap, _ := New(store).Snapshot(ctx)
	if p := snap.Protocol(); !slices.Contains(p.ReaderFeatures, "deletionVectors") || !slices.Contains(p.WriterFeatures, "deletionVectors") {
		t.Fatalf("protocol %+v lacks deletionVectors", p)
	}
	files := snap.Files()
	if len(files) != 1 || files[0].DeletionVector == nil || files[0].DeletionVector.Cardinality != 2 {
		t.Fatalf("files %+v", files)
	}
	if st, _ := files[0].ParseStats(); st.TightBounds == nil || *st.TightBounds || st.NumRecords != 10 {
		t.Fatalf("stats after delete: %s", files[0].Stats)
	}
	// A second delete from a handle that saw the first commit: rows accumulate, and the
	// commit reaches the checkpoint interval.
	res, err := tbl.DeleteRows(ctx, "a.parquet", []uint64{3, 9})
	if err != nil || !res.Checkpointed {
		t.Fatalf("second delete: %+v, %v", res, err)
	}
	// The checkpoint keeps the live descriptor.
	cp, err := Load(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := DeletedRows(ctx, store, cp.Files()[0])
	if err != nil || !slices.Equal(rows.ToArray(), []uint64{1, 3, 9}) {
		t.Fatalf("after checkpoint: %v, %v", rows, err)
	}
	// A transaction planned on the old descriptor must not land.
	old := files[0]
	size := old.Size
	_, err = stale.Commit(ctx, &Transaction{Removes: []Remove{{Path: old.Path, DataChange: true, Size: &size, DeletionVector: old.DeletionVector}}})
	var ce *ConcurrentDeleteError
	if !errors.As(err, &ce) {
		t.Fatalf("remove of a changed file: %v, want *ConcurrentDeleteError", err)
	}
	if _, err := tbl.DeleteRows(ctx, "a.parquet", []uint64{10}); err == nil || !strings.Contains(err.Error(), "past the file's 10 rows") {
		t.Fatalf("row past the end: %v", err)
	}
	if _, err := tbl.DeleteRows(ctx, "gone.parquet", []uint64{0}); !errors.As(err, &ce) {
		t.Fatalf("unknown file: %v", err)
	}
	if _, err := New(store, ForAppending()).DeleteRows(ctx, "a.parquet", []uint64{0}); err == nil {
		t.Fatal("an appending handle deleted rows")
	}
}
