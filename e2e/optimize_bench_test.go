package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sluicelake/sluice/query"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// BenchmarkOptimize builds a table shaped like a day of continuous ingestion: 20,000
// small files (SLUICE_BENCH_OPTIMIZE_FILES) of 100 rows over 4 day partitions, 10
// files per commit, as a connector flushing every few seconds leaves them. Each
// iteration times a DuckDB aggregate over a copy of it (through the query view, as
// `sluice query` runs it), runs the real `sluice table optimize` on it, and times the
// aggregate again. It reports the speedup, optimize's throughput, CPU time and peak
// RSS (the child process's), and the file counts.
func BenchmarkOptimize(b *testing.B) {
	files := 20_000
	if v := os.Getenv("SLUICE_BENCH_OPTIMIZE_FILES"); v != "" {
		files, _ = strconv.Atoi(v)
	}
	const rowsPerFile = 100
	src := filepath.Join(b.TempDir(), "src")
	start := time.Now()
	smallFilesTable(b, src, files, rowsPerFile)
	b.Logf("built %d files in %s", files, time.Since(start).Round(time.Second))
	if keep := os.Getenv("SLUICE_BENCH_KEEP"); keep != "" {
		if err := os.CopyFS(keep, os.DirFS(src)); err != nil {
			b.Fatal(err)
		}
	}
	bin := sluiceBinary(b)
	var before, after, opt time.Duration
	var report struct {
		FilesRemoved int   `json:"filesRemoved"`
		FilesAdded   int   `json:"filesAdded"`
		BytesRemoved int64 `json:"bytesRemoved"`
		BytesAdded   int64 `json:"bytesAdded"`
		Rows         int64 `json:"rows"`
	}
	var cpu time.Duration
	var rss int64
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "t")
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			b.Fatal(err)
		}
		before += aggregate(b, dir, int64(files*rowsPerFile))
		b.StartTimer()
		cmd := exec.Command(bin, "table", "optimize", dir, "--json")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		// The child's rusage maxrss would count the test process it was forked from;
		// its own high-water mark is in /proc while it runs.
		peak, exited := make(chan float64), make(chan struct{})
		go func() {
			var hwm float64
			for {
				if v := vmHWM(cmd.Process.Pid); v > 0 {
					hwm = v
				}
				select {
				case <-exited:
					peak <- hwm
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
		err := cmd.Wait()
		close(exited)
		if err != nil {
			b.Fatalf("optimize: %v\n%s", err, out.String())
		}
		opt += time.Since(t0)
		rss = max(rss, int64(<-peak))
		b.StopTimer()
		if err := json.Unmarshal(out.Bytes(), &report); err != nil {
			b.Fatalf("%v: %s", err, out.String())
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		after += aggregate(b, dir, int64(files*rowsPerFile))
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(before.Seconds()/n, "duckdb_before_s")
	b.ReportMetric(after.Seconds()/n, "duckdb_after_s")
	b.ReportMetric(before.Seconds()/after.Seconds(), "speedup_x")
	b.ReportMetric(float64(report.BytesRemoved)/1e6/(opt.Seconds()/n), "MB/s")
	b.ReportMetric(float64(report.Rows)/(opt.Seconds()/n), "rows/s")
	b.ReportMetric(cpu.Seconds()/n, "cpu_s")
	b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MiB")
	b.ReportMetric(float64(report.FilesRemoved), "files_before")
	b.ReportMetric(float64(report.FilesAdded), "files_after")
}

// aggregate times a per-day aggregate over the table at dir, through the query view,
// and checks it counts rows rows.
func aggregate(b *testing.B, dir string, rows int64) time.Duration {
	b.Helper()
	ctx := context.Background()
	t0 := time.Now()
	store, err := storage.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := table.Load(ctx, store)
	if err != nil {
		b.Fatal(err)
	}
	db, err := query.OpenDB()
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := query.Register(ctx, db, "events", store, snap); err != nil {
		b.Fatal(err)
	}
	var total int64
	if err := db.QueryRowContext(ctx, `SELECT sum(n) FROM (SELECT day, count(*) AS n, sum(amount), count(DISTINCT "user"), max(ts) FROM events GROUP BY day)`).Scan(&total); err != nil {
		b.Fatal(err)
	}
	if total != rows {
		b.Fatalf("aggregate counted %d rows, want %d", total, rows)
	}
	return time.Since(t0)
}

// smallFilesTable writes a table of files small files of rowsPerFile rows each, in
// commits of 10 files, spread over 4 day partitions.
func smallFilesTable(b *testing.B, dir string, files, rowsPerFile int) {
	b.Helper()
	ctx := context.Background()
	store, err := storage.NewLocal(dir)
	if err != nil {
		b.Fatal(err)
	}
	tbl := table.New(store, table.ForAppending())
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long}, {Name: "user", Type: table.String, Nullable: true},
		{Name: "amount", Type: table.Double, Nullable: true}, {Name: "ok", Type: table.Boolean, Nullable: true},
		{Name: "ts", Type: table.Timestamp, Nullable: true}, {Name: "day", Type: table.Date, Nullable: true},
		{Name: "_kafka_partition", Type: table.Integer}, {Name: "_kafka_offset", Type: table.Long},
	}}
	snap, err := tbl.Create(ctx, table.CreateOptions{Name: "events", Schema: schema, PartitionColumns: []string{"day"}})
	if err != nil {
		b.Fatal(err)
	}
	spec := writer.Spec{Schema: schema, PartitionColumns: []string{"day"}}
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	id := int64(0)
	for c := 0; c < files/10; c++ {
		var adds []table.Add
		for f := range 10 {
			buf, err := writer.NewBuffer(spec, writer.DefaultConfig())
			if err != nil {
				b.Fatal(err)
			}
			day := int64((c*10 + f) % 4)
			for range rowsPerFile {
				ts := base.Add(time.Duration(day)*24*time.Hour + time.Duration(id%86400)*time.Second)
				buf.SetInt(0, id)
				buf.SetBytes(1, fmt.Appendf(nil, "user-%d", id%997))
				buf.SetFloat(2, float64(id%1000)+0.25)
				buf.SetBool(3, id%3 == 0)
				buf.SetInt(4, ts.UnixMicro())
				buf.SetInt(5, 19875+day)
				buf.SetInt(6, day)
				buf.SetInt(7, id)
				if err := buf.EndRow(); err != nil {
					b.Fatal(err)
				}
				id++
			}
			for _, p := range buf.Take() {
				var data bytes.Buffer
				info, err := p.Encode(&data)
				if err != nil {
					b.Fatal(err)
				}
				key := path.Join(p.Dir, "part-"+uuid.NewString()+".zstd.parquet")
				if err := store.Put(ctx, key, &data, int64(data.Len())); err != nil {
					b.Fatal(err)
				}
				adds = append(adds, table.Add{Path: table.EncodePath(key), PartitionValues: p.PartitionValues, Size: info.Size,
					ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: info.Stats})
			}
		}
		if _, err := tbl.Commit(ctx, &table.Transaction{Adds: adds, SchemaString: snap.Metadata().SchemaString}); err != nil {
			b.Fatal(err)
		}
	}
}
