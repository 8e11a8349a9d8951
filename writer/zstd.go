package writer

import (
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"
	pzstd "github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
)

// zstdCodec compresses pages with zstd, its encoders' history sized to a page.
// parquet-go's own codec keeps zstd's default window (4 MiB at the fastest level), and
// each of its encoders holds twice that, 8 MiB, for history no page can use: a page is
// one frame, compressed on its own, of about Config.PageSize. Here the window is the
// page size (a power of two, at least 1 MiB), and an encoder holds about 2.8 MiB
// (TestZstdEncoderMemory; the Go heap at a 256 MiB budget held 32 MiB of zstd history
// before: BENCHMARKS.md, "Memory, fifth and sixth sessions"). Files come out the same
// size, and as fast, pages larger than the window included (zstd's low-memory mode is
// not used: it made a 3 MiB page 4× slower to compress).
//
// The encoders are pooled per level and window for the whole process, not per Buffer:
// how many exist follows how many pages are compressed at once, not how many tables
// there are.
type zstdCodec struct {
	level    zstd.EncoderLevel
	window   int
	encoders *sync.Pool // *zstd.Encoder, shared (zstdEncoders)
	dec      pzstd.Codec
}

var zstdEncoders struct {
	sync.Mutex
	pools map[[2]int]*sync.Pool // by level and window
}

func newZstdCodec(level zstd.EncoderLevel, pageSize int) *zstdCodec {
	window := 1 << 20
	if pageSize > window {
		window = 1 << bits.Len(uint(pageSize-1)) // the next power of two
	}
	window = min(window, zstd.MaxWindowSize)
	zstdEncoders.Lock()
	defer zstdEncoders.Unlock()
	if zstdEncoders.pools == nil {
		zstdEncoders.pools = map[[2]int]*sync.Pool{}
	}
	key := [2]int{int(level), window}
	pool := zstdEncoders.pools[key]
	if pool == nil {
		pool = &sync.Pool{}
		zstdEncoders.pools[key] = pool
	}
	return &zstdCodec{level: level, window: window, encoders: pool}
}

func (c *zstdCodec) String() string { return "ZSTD" }

func (c *zstdCodec) CompressionCodec() format.CompressionCodec { return format.Zstd }

func (c *zstdCodec) Encode(dst, src []byte) ([]byte, error) {
	e, _ := c.encoders.Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(c.level),
			zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false), zstd.WithWindowSize(c.window))
		if err != nil {
			return dst, err
		}
	}
	defer c.encoders.Put(e)
	return e.EncodeAll(src, dst[:0]), nil
}

// Decode decodes as parquet-go's codec does (its readers pick their codec by the
// file's compression code, so this one only writes).
func (c *zstdCodec) Decode(dst, src []byte) ([]byte, error) { return c.dec.Decode(dst, src) }
