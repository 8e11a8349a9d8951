package writer

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// TestZstdEncoderMemory: a page compressor holds about a page of history, not zstd's
// default window twice over (8 MiB at the fastest level), since each page is a frame
// of its own; and pages of every size still come back intact, larger than the window
// included.
func TestZstdEncoderMemory(t *testing.T) {
	codec, err := DefaultConfig().codec()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	page := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdefgh"[rng.IntN(8)] // compressible, not trivially
		}
		return b
	}
	src, dst := page(1<<20), make([]byte, 0, 2<<20) // page buffers are reused
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, err := codec.Encode(dst, src)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("the first 1 MiB page took %.1f MiB for its encoder", float64(alloc)/(1<<20))
	if alloc > 3<<20 {
		t.Errorf("the first 1 MiB page took %.1f MiB for its encoder, want at most 3", float64(alloc)/(1<<20))
	}
	if len(out) >= len(src)/2 {
		t.Errorf("1 MiB of 8 letters compressed to %d bytes", len(out))
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var wg sync.WaitGroup
	for _, n := range []int{0, 1, 1000, 1 << 20, 1<<20 + 1, 3 << 20} {
		src := page(n)
		wg.Go(func() {
			out, err := codec.Encode(nil, src)
			if err != nil {
				t.Error(err)
				return
			}
			got, err := dec.DecodeAll(out, nil)
			if err != nil || !bytes.Equal(got, src) {
				t.Errorf("a page of %d bytes: decoded %d bytes, %v", n, len(got), err)
			}
		})
	}
	wg.Wait()
}
