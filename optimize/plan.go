// Package optimize compacts the small files of a Delta table into fewer, larger ones:
// bin-packing OPTIMIZE as Delta Lake and delta-rs define it. It sits above writer and
// table: rows are copied column by column out of the old files (writer.AppendRowGroup,
// deleted rows left out) into new files whose statistics the writer computes, and one
// commit removes the old files and adds the new, both with dataChange false, so that
// streaming readers skip it and the connector's appends never conflict with it.
package optimize

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/sluicelake/sluice/table"
)

// Options say which files to compact and into what.
type Options struct {
	// TargetSize is the size new files are packed to. Defaults to the table property
	// delta.targetFileSize, else 128 MiB.
	TargetSize int64
	// MinFileSize makes files smaller than it candidates. Defaults to TargetSize.
	MinFileSize int64
	// Where restricts the partitions compacted: a SQL predicate on partition columns
	// (table/expr's subset), e.g. "day >= '2024-01-01'". Defaults to every partition.
	Where string
	// MinFiles is the fewest candidate files a bin needs to be rewritten (a bin of one
	// file without deleted rows gains nothing). Defaults to 2.
	MinFiles int
	// Compression of the new files: "zstd" (default, at zstd's default level, denser
	// than ingestion's), "snappy", "gzip" or "none".
	Compression string
	// BufferBytes bounds the rows held in memory: when the copied rows reach it they are
	// encoded as a row group of the file being written. Defaults to 64 MiB.
	BufferBytes int64
	// ReadRate bounds the bytes per second read from storage (the files compacted), so
	// that a run beside ingestion leaves it bandwidth and CPU. Defaults to 0: no bound.
	ReadRate int64
	// SkipCompacted leaves out files an optimize wrote (tag sluice.optimized), unless
	// enough of their rows are deleted: auto-optimize compacts each file once, as
	// Databricks' auto compaction does, instead of rewriting its growing output again
	// and again. Defaults to false: every small file is a candidate.
	SkipCompacted bool

	beforeCommit func() // tests: runs between the rewrite and the commit
}

// Bin is a group of files of one partition rewritten into new files of about the
// target size.
type Bin struct {
	// Partition is the partition's values, as the files' partitionValues hold them.
	Partition map[string]*string
	Files     []*table.Add
	Bytes     int64
}

// Plan is what an optimize run rewrites.
type Plan struct {
	Version    int64 // the snapshot planned on
	Bins       []*Bin
	Considered int // live files in the partitions that match Where
	Skipped    int // of those, files left as they are (large enough, alone in their bin)
	TargetSize int64
}

// Files is the number of files the plan rewrites.
func (p *Plan) Files() int {
	n := 0
	for _, b := range p.Bins {
		n += len(b.Files)
	}
	return n
}

// Bytes is the size of the files the plan rewrites.
func (p *Plan) Bytes() int64 {
	var n int64
	for _, b := range p.Bins {
		n += b.Bytes
	}
	return n
}

const defaultTargetSize = 128 << 20

// withDefaults fills the defaults from snap's properties.
func (o Options) withDefaults(snap *table.Snapshot) (Options, error) {
	if o.TargetSize == 0 {
		o.TargetSize = defaultTargetSize
		if v := snap.Property("delta.targetFileSize", ""); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return o, fmt.Errorf("optimize: table property delta.targetFileSize %q is not a size in bytes", v)
			}
			o.TargetSize = n
		}
	}
	if o.MinFileSize == 0 {
		o.MinFileSize = o.TargetSize
	}
	if o.MinFiles == 0 {
		o.MinFiles = 2
	}
	if o.Compression == "" {
		o.Compression = "zstd"
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = 64 << 20
	}
	if o.TargetSize < 0 || o.MinFileSize < 0 || o.MinFiles < 1 || o.BufferBytes < 0 {
		return o, fmt.Errorf("optimize: target size, minimum file size, buffer bytes and minimum files must be positive")
	}
	return o, nil
}

// PlanBins picks the files to rewrite in snap: per partition (those Where accepts),
// the files smaller than MinFileSize and the files of which more than 5% of the rows
// are deleted (deletion vectors), in the order
// they were added (modification time), packed greedily into bins of at most
// TargetSize bytes. A bin of fewer than MinFiles files is dropped unless a file in it
// has deleted rows to purge.
func PlanBins(snap *table.Snapshot, opts Options) (*Plan, error) {
	opts, err := opts.withDefaults(snap)
	if err != nil {
		return nil, err
	}
	where, err := compileWhere(snap, opts.Where)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Version: snap.Version(), TargetSize: opts.TargetSize}
	parts := map[string][]*table.Add{}
	var keys []string
	for _, f := range snap.Files() {
		ok, err := where.accepts(f.PartitionValues)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		plan.Considered++
		if (f.Size >= opts.MinFileSize || opts.SkipCompacted && f.Tags[TagOptimized] != "") && !purgeable(f) {
			plan.Skipped++
			continue
		}
		k := partitionKey(f.PartitionValues)
		if _, seen := parts[k]; !seen {
			keys = append(keys, k)
		}
		parts[k] = append(parts[k], f)
	}
	slices.Sort(keys)
	for _, k := range keys {
		files := parts[k]
		slices.SortStableFunc(files, func(a, b *table.Add) int {
			return cmp.Or(cmp.Compare(a.ModificationTime, b.ModificationTime), cmp.Compare(a.Path, b.Path))
		})
		var bin *Bin
		flush := func() {
			if bin == nil {
				return
			}
			purges := slices.ContainsFunc(bin.Files, purgeable)
			if len(bin.Files) >= opts.MinFiles || purges {
				plan.Bins = append(plan.Bins, bin)
			} else {
				plan.Skipped += len(bin.Files)
			}
			bin = nil
		}
		for _, f := range files {
			if bin != nil && bin.Bytes+f.Size > opts.TargetSize {
				flush()
			}
			if bin == nil {
				bin = &Bin{Partition: f.PartitionValues}
			}
			bin.Files = append(bin.Files, f)
			bin.Bytes += f.Size
		}
		flush()
	}
	return plan, nil
}

// TagOptimized is the add.tags key of the files an optimize wrote.
const TagOptimized = "sluice.optimized"

// maxDeletedRowsRatio is the share of deleted rows past which a large file is
// rewritten without them, as Delta's OPTIMIZE does (its maxDeletedRowsRatio).
const maxDeletedRowsRatio = 0.05

// purgeable reports whether f has enough deleted rows to be worth rewriting without
// them whatever its size.
func purgeable(f *table.Add) bool {
	if f.DeletionVector == nil {
		return false
	}
	st, ok := f.ParseStats()
	return !ok || st.NumRecords == 0 || float64(f.DeletionVector.Cardinality)/float64(st.NumRecords) > maxDeletedRowsRatio
}

// partitionKey is a canonical text of partition values (encoding/json sorts keys).
func partitionKey(values map[string]*string) string {
	b, _ := json.Marshal(values)
	return string(b)
}
