// Package storagetest holds the acceptance suite that every storage backend must pass.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicelake/sluice/table/storage"
)

// AcceptanceTest checks the Storage contracts against a backend. newStore must return an
// empty store each time it is called.
func AcceptanceTest(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	ctx := context.Background()

	t.Run("GetMissing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, "nope/missing.json"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get missing: got %v, want ErrNotFound", err)
		}
		if _, err := s.Stat(ctx, "nope/missing.json"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Stat missing: got %v, want ErrNotFound", err)
		}
	})

	t.Run("PutGetStat", func(t *testing.T) {
		s := newStore(t)
		data := []byte("hello, delta")
		if err := s.Put(ctx, "a/b/c.txt", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "a/b/c.txt")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get = %q, %v; want %q", got, err, data)
		}
		info, err := s.Stat(ctx, "a/b/c.txt")
		if err != nil || info.Size != int64(len(data)) || info.ModTime.IsZero() {
			t.Fatalf("Stat = %+v, %v", info, err)
		}
		// Put replaces.
		if err := s.Put(ctx, "a/b/c.txt", bytes.NewReader([]byte("x")), 1); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, "a/b/c.txt"); string(got) != "x" {
			t.Fatalf("after overwrite Get = %q", got)
		}
	})

	t.Run("PutFailureKeepsOld", func(t *testing.T) {
		// A Put that fails, because its body breaks or does not have the length the
		// caller promised, stores nothing: the old object stays whole and no other key
		// appears. A checkpoint or _last_checkpoint cut short must never replace a good one.
		s := newStore(t)
		const key = "_delta_log/_last_checkpoint"
		old := []byte(`{"version":10,"size":3}`)
		if err := s.Put(ctx, key, bytes.NewReader(old), int64(len(old))); err != nil {
			t.Fatal(err)
		}
		body := []byte(`{"version":20,"size":4}`)
		for _, tc := range []struct {
			name string
			r    io.Reader
			size int64
		}{
			{"BrokenBody", io.MultiReader(bytes.NewReader(body[:5]), brokenReader{}), int64(len(body))},
			{"BrokenBodyUnknownSize", io.MultiReader(bytes.NewReader(body[:5]), brokenReader{}), -1},
			{"ShortBody", bytes.NewReader(body[:5]), int64(len(body))},
			{"LongBody", bytes.NewReader(body), 5},
			{"EmptyBody", bytes.NewReader(nil), int64(len(body))},
		} {
			if err := s.Put(ctx, key, tc.r, tc.size); err == nil {
				t.Errorf("%s: Put succeeded, want an error", tc.name)
			}
			if got, err := s.Get(ctx, key); err != nil || !bytes.Equal(got, old) {
				t.Errorf("%s: after the failed Put Get = %q, %v; want %q", tc.name, got, err, old)
			}
			if got := listKeys(t, s, "", ""); fmt.Sprint(got) != "["+key+"]" {
				t.Errorf("%s: after the failed Put List = %q, want only %q", tc.name, got, key)
			}
		}
		// Nor does a failed Put of a new key create it.
		if err := s.Put(ctx, "_delta_log/00000000000000000020.checkpoint.parquet", bytes.NewReader(body[:5]), int64(len(body))); err == nil {
			t.Error("short Put of a new key succeeded, want an error")
		}
		if _, err := s.Get(ctx, "_delta_log/00000000000000000020.checkpoint.parquet"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get after a failed Put of a new key: %v, want ErrNotFound", err)
		}
	})

	t.Run("PutReplaceAtomic", func(t *testing.T) {
		// Readers racing a Put see the old bytes or the new ones, never a mix or a prefix.
		s := newStore(t)
		const key = "_delta_log/_last_checkpoint"
		bodies := [][]byte{bytes.Repeat([]byte("a"), 64<<10), bytes.Repeat([]byte("b"), 96<<10)}
		if err := s.Put(ctx, key, bytes.NewReader(bodies[0]), int64(len(bodies[0]))); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		bad := make(chan string, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					got, err := s.Get(ctx, key)
					if err != nil || (!bytes.Equal(got, bodies[0]) && !bytes.Equal(got, bodies[1])) {
						bad <- fmt.Sprintf("Get during Put = %d bytes, %v", len(got), err)
						return
					}
				}
			}()
		}
		for i := range 20 {
			b := bodies[(i+1)%2]
			if err := s.Put(ctx, key, bytes.NewReader(b), int64(len(b))); err != nil {
				t.Error(err)
				break
			}
		}
		close(stop)
		wg.Wait()
		close(bad)
		for msg := range bad {
			t.Fatal(msg)
		}
	})

	t.Run("PutIfAbsent", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutIfAbsent(ctx, "_delta_log/00000000000000000000.json", []byte("first")); err != nil {
			t.Fatal(err)
		}
		err := s.PutIfAbsent(ctx, "_delta_log/00000000000000000000.json", []byte("second"))
		if !errors.Is(err, storage.ErrExists) {
			t.Fatalf("second PutIfAbsent: got %v, want ErrExists", err)
		}
		if got, _ := s.Get(ctx, "_delta_log/00000000000000000000.json"); string(got) != "first" {
			t.Fatalf("loser overwrote the winner: %q", got)
		}
	})

	t.Run("PutIfAbsentRace", func(t *testing.T) {
		s := newStore(t)
		const writers = 8
		for round := range 5 {
			key := fmt.Sprintf("_delta_log/%020d.json", round)
			var wins atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.PutIfAbsent(ctx, key, []byte(fmt.Sprintf("writer %d", w)))
					switch {
					case err == nil:
						wins.Add(1)
					case !errors.Is(err, storage.ErrExists):
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("unexpected error: %v", err)
			}
			if wins.Load() != 1 {
				t.Fatalf("round %d: %d writers won, want exactly 1", round, wins.Load())
			}
		}
	})

	t.Run("ListOrderPrefixStartAfter", func(t *testing.T) {
		s := newStore(t)
		keys := []string{
			"_delta_log/00000000000000000002.json",
			"_delta_log/00000000000000000000.json",
			"_delta_log/00000000000000000001.checkpoint.parquet",
			"_delta_log/00000000000000000001.json",
			"_delta_log/_last_checkpoint",
			"part=a/file1.parquet",
			"part=b/file2.parquet",
			"top.parquet",
		}
		for _, k := range keys {
			if err := s.Put(ctx, k, bytes.NewReader([]byte(k)), int64(len(k))); err != nil {
				t.Fatal(err)
			}
		}
		list := func(prefix, after string) []string {
			var out []string
			for o, err := range s.List(ctx, prefix, after) {
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, o.Key)
			}
			return out
		}
		want := []string{
			"_delta_log/00000000000000000000.json",
			"_delta_log/00000000000000000001.checkpoint.parquet",
			"_delta_log/00000000000000000001.json",
			"_delta_log/00000000000000000002.json",
			"_delta_log/_last_checkpoint",
		}
		if got := list("_delta_log/", ""); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("List _delta_log/ = %v\nwant %v", got, want)
		}
		if got := list("_delta_log/", "_delta_log/00000000000000000001.json"); fmt.Sprint(got) != fmt.Sprint(want[3:]) {
			t.Fatalf("List startAfter = %v, want %v", got, want[3:])
		}
		if got := list("_delta_log/0000000000000000000", ""); len(got) != 4 {
			t.Fatalf("List partial-name prefix = %v, want 4 keys", got)
		}
		if got := list("", ""); len(got) != len(keys) {
			t.Fatalf("List all = %v, want %d keys", got, len(keys))
		}
		if got := list("nothing/", ""); len(got) != 0 {
			t.Fatalf("List empty prefix = %v", got)
		}
	})

	t.Run("ListByteOrderAcrossDirectories", func(t *testing.T) {
		// '-' < '.' < '/' < '0': a backend that walks directories must still order
		// "d/a/b" between "d/a.b" and "d/a0", as S3 does.
		s := newStore(t)
		for _, k := range []string{"d/a0", "d/a/b", "d/a.b", "d/a-c"} {
			if err := s.Put(ctx, k, bytes.NewReader([]byte(k)), int64(len(k))); err != nil {
				t.Fatal(err)
			}
		}
		want := []string{"d/a-c", "d/a.b", "d/a/b", "d/a0"}
		if got := listKeys(t, s, "d/a", ""); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("List d/a = %v\nwant %v", got, want)
		}
		if got := listKeys(t, s, "d/", "d/a.b"); fmt.Sprint(got) != fmt.Sprint(want[2:]) {
			t.Fatalf("List startAfter d/a.b = %v, want %v", got, want[2:])
		}
		if got := listKeys(t, s, "d/", "c"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("List startAfter before the prefix = %v, want %v", got, want)
		}
		if got := listKeys(t, s, "d/", "e"); len(got) != 0 {
			t.Fatalf("List startAfter past the prefix = %v, want nothing", got)
		}
	})

	t.Run("KeyCharacters", func(t *testing.T) {
		// Hive-escaped partition values carry '%', '=' and spaces; S3 keys are UTF-8.
		s := newStore(t)
		keys := []string{
			"city=New York/part-0.parquet",
			"city=S%C3%A3o Paulo/part-1.parquet",
			"note=a+b&c/part-2.parquet",
			"z\u00e9/caf\u00e9.json",
		}
		for _, k := range keys {
			if err := s.PutIfAbsent(ctx, k, []byte(k)); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range keys {
			if got, err := s.Get(ctx, k); err != nil || string(got) != k {
				t.Fatalf("Get %q = %q, %v", k, got, err)
			}
		}
		if got := listKeys(t, s, "", ""); fmt.Sprint(got) != fmt.Sprint(keys) {
			t.Fatalf("List = %q\nwant %q", got, keys)
		}
	})

	t.Run("PutLarge", func(t *testing.T) {
		// Larger than two 5 MiB parts (the S3 minimum) and read from a stream that
		// cannot seek, so an S3 store with a small PartSize takes the multipart path.
		s := newStore(t)
		data := make([]byte, 11<<20+7)
		for i := range data {
			data[i] = byte(i*7 + i>>11)
		}
		if err := s.Put(ctx, "big/part-0.parquet", struct{ io.Reader }{bytes.NewReader(data)}, int64(len(data))); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "big/part-0.parquet")
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get = %d bytes, %v; want the %d bytes put", len(got), err, len(data))
		}
		info, err := s.Stat(ctx, "big/part-0.parquet")
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("Stat = %+v, %v; want size %d", info, err, len(data))
		}
		for o, err := range s.List(ctx, "big/", "") {
			if err != nil || o.Size != int64(len(data)) {
				t.Fatalf("List = %+v, %v; want size %d", o, err, len(data))
			}
		}
	})

	t.Run("DeleteIdempotent", func(t *testing.T) {
		s := newStore(t)
		if err := s.Put(ctx, "x/y", bytes.NewReader([]byte("1")), 1); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := s.Delete(ctx, "x/y"); err != nil {
				t.Fatalf("Delete: %v", err)
			}
		}
		if _, err := s.Get(ctx, "x/y"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
	})
}

type brokenReader struct{}

func (brokenReader) Read([]byte) (int, error) { return 0, errors.New("body broke") }

func listKeys(t *testing.T, s storage.Storage, prefix, startAfter string) []string {
	t.Helper()
	var out []string
	for o, err := range s.List(context.Background(), prefix, startAfter) {
		if err != nil {
			t.Fatalf("List %q after %q: %v", prefix, startAfter, err)
		}
		out = append(out, o.Key)
	}
	return out
}
