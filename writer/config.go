package writer

import (
	"fmt"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
)

// Config tunes the Parquet files a Buffer produces.
type Config struct {
	// Compression is the codec of every column: "zstd", "snappy", "gzip" or "none".
	// Defaults to "zstd".
	Compression string
	// RowGroupSize is the target uncompressed size of a row group in bytes.
	// Defaults to 128 MiB.
	RowGroupSize int64
	// PageSize is the target size of a data page in bytes. Defaults to 1 MiB.
	PageSize int
	// NumIndexedCols is how many leading data columns get min/max statistics
	// (delta.dataSkippingNumIndexedCols); -1 means all. Defaults to 32.
	NumIndexedCols int
	// StringPrefixLength is how many characters of a string min/max value are kept.
	// Defaults to 32.
	StringPrefixLength int
}

// DefaultConfig returns the defaults documented on each field.
func DefaultConfig() Config {
	return Config{Compression: "zstd", RowGroupSize: 128 << 20, PageSize: 1 << 20, NumIndexedCols: 32, StringPrefixLength: 32}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if _, err := c.codec(); err != nil {
		return err
	}
	if c.RowGroupSize <= 0 || c.PageSize <= 0 {
		return fmt.Errorf("writer: row group size and page size must be positive")
	}
	if c.NumIndexedCols < -1 || c.StringPrefixLength < 1 {
		return fmt.Errorf("writer: NumIndexedCols must be >= -1 and StringPrefixLength >= 1")
	}
	return nil
}

func (c Config) codec() (compress.Codec, error) {
	switch c.Compression {
	case "", "zstd":
		return &parquet.Zstd, nil
	case "snappy":
		return &parquet.Snappy, nil
	case "gzip":
		return &parquet.Gzip, nil
	case "none", "uncompressed":
		return &parquet.Uncompressed, nil
	}
	return nil, fmt.Errorf("writer: unknown compression %q (want zstd, snappy, gzip or none)", c.Compression)
}
