package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicelake/sluice/connector"
	"github.com/sluicelake/sluice/optimize"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// OptimizeReport is the JSON form of `sluice table optimize --json`.
type OptimizeReport struct {
	Location     string        `json:"location"`
	DryRun       bool          `json:"dryRun"`
	ReadVersion  int64         `json:"readVersion"`
	Version      int64         `json:"version"` // the OPTIMIZE commit; -1 for none
	TargetSize   int64         `json:"targetSize"`
	Considered   int           `json:"filesConsidered"`
	Skipped      int           `json:"filesSkipped"`
	FilesRemoved int           `json:"filesRemoved"`
	BytesRemoved int64         `json:"bytesRemoved"`
	FilesAdded   int           `json:"filesAdded"`
	BytesAdded   int64         `json:"bytesAdded"`
	Rows         int64         `json:"rows"`
	RowsPurged   int64         `json:"deletedRowsPurged"`
	BinsDropped  int           `json:"binsDropped"`
	Unfit        []string      `json:"binsUnfit,omitempty"`
	Bins         []OptimizeBin `json:"bins"`
	Seconds      float64       `json:"seconds"`
}

// OptimizeBin is one group of files compacted together.
type OptimizeBin struct {
	Partition map[string]*string `json:"partition"`
	Files     int                `json:"files"`
	Bytes     int64              `json:"bytes"`
}

// sizeFlag is a byte size flag: 134217728, 128MiB, 512KB.
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil || *f.n == 0 {
		return ""
	}
	return humanBytes(*f.n)
}

func (f sizeFlag) Set(s string) error {
	var b connector.ByteSize
	if err := b.UnmarshalText([]byte(s)); err != nil {
		return err
	}
	*f.n = int64(b)
	return nil
}

func (sizeFlag) Type() string { return "size" }

func optimizeCmd() *cobra.Command {
	var opts optimize.Options
	var dryRun, asJSON bool
	cmd := locationCmd("optimize LOCATION", "Compact small files into larger ones (bin-packing OPTIMIZE)",
		func(cmd *cobra.Command, store storage.Storage) error {
			ctx := cmd.Context()
			tbl := table.New(store)
			start := time.Now()
			var report OptimizeReport
			if dryRun {
				snap, err := tbl.Snapshot(ctx)
				if err != nil {
					return err
				}
				plan, err := optimize.PlanBins(snap, opts)
				if err != nil {
					return err
				}
				report = optimizeReport(store.URI(), &optimize.Result{Plan: plan, Version: -1})
				report.DryRun = true
			} else {
				progress := func(done, total int, bytes int64) {
					if !asJSON && isTerminal(os.Stderr) {
						fmt.Fprintf(os.Stderr, "\rrewriting: %d/%d bins, %s read", done, total, humanBytes(bytes))
						if done == total {
							fmt.Fprintln(os.Stderr)
						}
					}
				}
				res, err := optimize.Run(ctx, tbl, opts, progress)
				if err != nil {
					return err
				}
				report = optimizeReport(store.URI(), res)
			}
			report.Seconds = time.Since(start).Seconds()
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(report)
			}
			printOptimize(os.Stdout, report)
			return nil
		})
	cmd.Long = `Optimize compacts the table's small files: per partition, the files smaller than
--min-file-size (and files with more than 5% of their rows deleted, which are left out) are packed
into new files of about --target-size, in the order they were written. One commit
removes the old files and adds the new ones, both with dataChange false, so streaming
readers skip it; appends that land meanwhile (sluice run's) do not conflict with it.
A file that another writer removes or changes meanwhile makes optimize give up the
files packed with it. Application transactions are not touched.

The old files stay on storage for time travel until vacuum deletes them.`
	cmd.Flags().Var(sizeFlag{&opts.TargetSize}, "target-size", "size of the new files (default: the table's delta.targetFileSize, else 128MiB)")
	cmd.Flags().Var(sizeFlag{&opts.MinFileSize}, "min-file-size", "compact files smaller than this (default: the target size)")
	cmd.Flags().StringVar(&opts.Where, "where", "", "only partitions matching this SQL predicate on partition columns, e.g. \"day >= '2024-06-01'\"")
	cmd.Flags().StringVar(&opts.Compression, "compression", "zstd", "codec of the new files: zstd, snappy, gzip or none")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan, change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func optimizeReport(uri string, res *optimize.Result) OptimizeReport {
	p := res.Plan
	r := OptimizeReport{Location: uri, ReadVersion: p.Version, Version: res.Version, TargetSize: p.TargetSize,
		Considered: p.Considered, Skipped: p.Skipped, FilesRemoved: res.FilesRemoved, BytesRemoved: res.BytesRemoved,
		FilesAdded: res.FilesAdded, BytesAdded: res.BytesAdded, Rows: res.Rows, RowsPurged: res.RowsPurged,
		BinsDropped: res.BinsDropped, Bins: []OptimizeBin{}}
	for _, b := range p.Bins {
		r.Bins = append(r.Bins, OptimizeBin{Partition: b.Partition, Files: len(b.Files), Bytes: b.Bytes})
	}
	for _, err := range res.Unfit {
		r.Unfit = append(r.Unfit, err.Error())
	}
	return r
}

func printOptimize(w io.Writer, r OptimizeReport) {
	if r.DryRun {
		for _, b := range r.Bins {
			fmt.Fprintf(w, "would compact %d files (%s) of partition %s\n", b.Files, humanBytes(b.Bytes), partitionText(b.Partition))
		}
		files, bytes := 0, int64(0)
		for _, b := range r.Bins {
			files, bytes = files+b.Files, bytes+b.Bytes
		}
		fmt.Fprintf(w, "dry run at version %d: %d of %d files (%s) would be compacted into files of about %s\n",
			r.ReadVersion, files, r.Considered, humanBytes(bytes), humanBytes(r.TargetSize))
		return
	}
	for _, u := range r.Unfit {
		fmt.Fprintf(w, "left as they are: %s\n", u)
	}
	if r.Version < 0 {
		fmt.Fprintf(w, "nothing committed: %d files considered, none to compact", r.Considered)
		if r.BinsDropped > 0 {
			fmt.Fprintf(w, " (%d bins given up: other writers changed their files)", r.BinsDropped)
		}
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintf(w, "optimized %s at version %d: %d files (%s) compacted into %d (%s), %d rows, %d deleted rows purged, in %.1fs\n",
		r.Location, r.Version, r.FilesRemoved, humanBytes(r.BytesRemoved), r.FilesAdded, humanBytes(r.BytesAdded), r.Rows, r.RowsPurged, r.Seconds)
	if r.BinsDropped > 0 {
		fmt.Fprintf(w, "%d bins given up: other writers changed their files meanwhile\n", r.BinsDropped)
	}
}

func partitionText(values map[string]*string) string {
	if len(values) == 0 {
		return "(unpartitioned)"
	}
	b, _ := json.Marshal(values)
	return string(b)
}

// isTerminal reports whether f is a terminal (a character device), for progress lines.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
