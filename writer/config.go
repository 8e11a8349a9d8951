package writer

import (
	"fmt"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// Config tunes the Parquet files a Buffer produces.
type Config struct {
	// Compression is the codec of every column: "zstd", "snappy", "gzip" or "none".
	// Defaults to "zstd".
	Compression string
	// TargetFileSize rolls a partition's rows over to a new file once a file has
	// reached this many bytes (checked after each row group). Defaults to 128 MiB.
	TargetFileSize int64
	// RowGroupSize is the target uncompressed size of a row group in bytes.
	// Defaults to 64 MiB.
	RowGroupSize int64
	// PageSize is the target size of a data page in bytes. Defaults to 1 MiB.
	PageSize int
	// Dictionary enables dictionary encoding of string columns; a column whose
	// dictionary outgrows DictionaryMaxBytes falls back to plain encoding for the rest
	// of the row group, so it is used only where it pays. Defaults to true.
	Dictionary bool
	// DictionaryMaxBytes bounds a column's dictionary. Defaults to 1 MiB.
	DictionaryMaxBytes int64
	// NumIndexedCols is how many leading leaf columns get statistics
	// (delta.dataSkippingNumIndexedCols); -1 means all. Defaults to 32.
	NumIndexedCols int
	// StringPrefixLength is how many characters of a string min/max value are kept.
	// Defaults to 32.
	StringPrefixLength int
	// ReuseBytes bounds the column buffer memory a Buffer keeps from released files
	// (Pending.Release) to hold the next rows without growing again; the rest goes back
	// to the garbage collector. Defaults to 256 MiB; 0 disables reuse.
	ReuseBytes int64
	// Reused, when set, counts the bytes the Buffer's reuse pool holds: added as a
	// released file's memory is kept, taken off as new rows reuse it or DropReuse lets it
	// go. Buffers may share one counter, so that a memory budget covers them all; then
	// ReusedMax bounds it for them all: a release that would take it past keeps nothing.
	Reused    *atomic.Int64
	ReusedMax int64
	// ZstdLevel is the zstd encoder level: "fastest", "default" (about zstd level 3, what
	// Spark writes), "better" or "best". Defaults to "fastest": streaming ingestion
	// trades some file size for CPU; compaction can rewrite files denser.
	ZstdLevel string
	// Encoders is how many columns of a file are encoded at once, each by a goroutine
	// holding that column's pages and a compressor while it works: 1 encodes them one
	// after another. Defaults to 0: one per core (GOMAXPROCS), at most 8.
	Encoders int
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{Compression: "zstd", TargetFileSize: 128 << 20, RowGroupSize: 64 << 20, PageSize: 1 << 20,
		Dictionary: true, DictionaryMaxBytes: 1 << 20, NumIndexedCols: 32, StringPrefixLength: 32,
		ReuseBytes: 256 << 20, ZstdLevel: "fastest"}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if _, err := c.codec(); err != nil {
		return err
	}
	if c.RowGroupSize <= 0 || c.PageSize <= 0 || c.TargetFileSize <= 0 {
		return fmt.Errorf("writer: target file size, row group size and page size must be positive")
	}
	if c.Dictionary && c.DictionaryMaxBytes <= 0 {
		return fmt.Errorf("writer: DictionaryMaxBytes must be positive")
	}
	if c.ReuseBytes < 0 {
		return fmt.Errorf("writer: ReuseBytes must not be negative")
	}
	if c.Encoders < 0 {
		return fmt.Errorf("writer: Encoders must not be negative")
	}
	if c.NumIndexedCols < -1 || c.StringPrefixLength < 1 {
		return fmt.Errorf("writer: NumIndexedCols must be >= -1 and StringPrefixLength >= 1")
	}
	return nil
}

// zstdLevels are the values of Config.ZstdLevel.
var zstdLevels = map[string]zstd.EncoderLevel{"": zstd.SpeedFastest, "fastest": zstd.SpeedFastest,
	"default": zstd.SpeedDefault, "better": zstd.SpeedBetterCompression, "best": zstd.SpeedBestCompression}

func (c Config) codec() (compress.Codec, error) {
	switch c.Compression {
	case "", "zstd":
		if level, ok := zstdLevels[c.ZstdLevel]; ok {
			return newZstdCodec(level, c.PageSize), nil
		}
		return nil, fmt.Errorf("writer: unknown zstd level %q (want fastest, default, better or best)", c.ZstdLevel)
	case "snappy":
		return &parquet.Snappy, nil
	case "gzip":
		return &parquet.Gzip, nil
	case "none", "uncompressed":
		return &parquet.Uncompressed, nil
	}
	return nil, fmt.Errorf("writer: unknown compression %q (want zstd, snappy, gzip or none)", c.Compression)
}
