package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// BenchmarkUpsert measures change data capture into an upsert table: a table of
// SLUICE_BENCH_KEYS keys (default 1,000,000) is loaded first (not timed), then a stream
// of SLUICE_BENCH_CHANGES changes (default 200,000; 90% updates of keys spread over the
// whole table, 10% inserts) is ingested end to end, kfake in-process. Reported: changes/s,
// MERGE commits, bytes of data files read per flush to find the keys' rows (the first
// flush reads every file; later ones find the keys in the key cache), and the peak RSS
// of the change phase.
//
//	go test ./e2e -run '^$' -bench BenchmarkUpsert -benchtime 1x
//	SLUICE_BENCH_KEYS=10000000 go test ./e2e -run '^$' -bench BenchmarkUpsert -benchtime 1x -timeout 60m
func BenchmarkUpsert(b *testing.B) {
	keys := benchEnv("SLUICE_BENCH_KEYS", 1_000_000)
	changes := benchEnv("SLUICE_BENCH_CHANGES", 200_000)
	cluster := newCluster(b, "customers", 3)
	record := func(id, version int) *kgo.Record {
		return &kgo.Record{Topic: "customers", Key: strconv.AppendInt(nil, int64(id), 10),
			Value: fmt.Appendf(nil, `{"id":%d,"name":"customer-%d","plan":"p%d","balance":%d.%02d,"version":%d}`, id, id, id%7, id%100000, id%100, version)}
	}
	produceKeyed := func(recs []*kgo.Record) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ProducerBatchMaxBytes(1<<20))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		for len(recs) > 0 {
			n := min(len(recs), 200_000)
			if err := cl.ProduceSync(context.Background(), recs[:n]...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			recs = recs[n:]
		}
	}
	location := filepath.Join(b.TempDir(), "customers")
	cfg := parseConfig(b, fmt.Sprintf(`
name: upsert-bench
kafka: {bootstrap_servers: %s}
tables:
  - name: customers
    topics: [customers]
    location: %s
    mode: upsert
    key: [id]
    schema: [{name: id, type: long, nullable: false}, {name: name, type: string}, {name: plan, type: string},
             {name: balance, type: "decimal(12,2)"}, {name: version, type: long}]
    flush: {max_rows: 200000, max_latency: 10s}
    maintenance: {optimize: {enabled: false}}
`, cluster.ListenAddrs()[0], location))
	// Load the table: ids 0…keys-1, in order (files then cover id ranges, as a table
	// loaded from a database snapshot does).
	start := time.Now()
	for lo := 0; lo < keys; lo += 1_000_000 {
		var recs []*kgo.Record
		for id := lo; id < min(keys, lo+1_000_000); id++ {
			recs = append(recs, record(id, 0))
		}
		produceKeyed(recs)
	}
	ingestAll(b, cfg, int64(keys))
	b.Logf("loaded %d keys in %s", keys, time.Since(start).Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(1, 2))
	var recs []*kgo.Record
	inserts := 0
	for i := range changes {
		if rng.IntN(10) == 0 {
			recs = append(recs, record(keys+inserts, 1))
			inserts++
		} else {
			recs = append(recs, record(rng.IntN(keys), i+1))
		}
	}
	produceKeyed(recs)
	// Changes flush every 20,000 rows, as a stream of a few thousand changes a second
	// with a few seconds of latency would.
	cfg.Tables[0].Flush.MaxRows = 20_000
	resetPeakRSS()
	b.ResetTimer()
	for b.Loop() {
		ingestAll(b, cfg, int64(changes))
	}
	b.StopTimer()
	b.ReportMetric(float64(changes*b.N)/b.Elapsed().Seconds(), "changes/s")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")

	store, err := storage.Open(context.Background(), location)
	if err != nil {
		b.Fatal(err)
	}
	h, err := table.History(context.Background(), store, 0)
	if err != nil {
		b.Fatal(err)
	}
	var merges, bytesRead, rowsDeleted, filesRead int64
	for _, e := range h {
		if e.CommitInfo == nil || e.CommitInfo.Operation != "MERGE" || e.Version <= 0 {
			continue
		}
		m := e.CommitInfo.OperationMetrics
		if n, _ := strconv.ParseInt(m["numTargetRowsDeleted"], 10, 64); n > 0 {
			merges++
			rowsDeleted += n
			br, _ := strconv.ParseInt(m["keyLookupBytesRead"], 10, 64)
			fr, _ := strconv.ParseInt(m["keyLookupFilesRead"], 10, 64)
			bytesRead += br
			filesRead += fr
		}
	}
	snap, err := table.Load(context.Background(), store)
	if err != nil {
		b.Fatal(err)
	}
	var live int64
	for _, f := range snap.Files() {
		st, _ := f.ParseStats()
		live += st.NumRecords
		if f.DeletionVector != nil {
			live -= f.DeletionVector.Cardinality
		}
	}
	if live != int64(keys+inserts) {
		b.Fatalf("the table holds %d live rows, want %d keys", live, keys+inserts)
	}
	if merges > 0 {
		b.ReportMetric(float64(bytesRead)/float64(merges)/(1<<20), "MiB-read/flush")
		b.ReportMetric(float64(filesRead)/float64(merges), "files-read/flush")
		b.ReportMetric(float64(rowsDeleted)/float64(merges), "rows-replaced/flush")
	}
	b.Logf("%d keys, %d changes (%d inserts): %d MERGE flushes replacing rows, %d files in the table", keys, changes, inserts, merges, snap.NumFiles())
}

func benchEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// resetPeakRSS starts the process's peak resident set size (VmHWM) from now.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is the test process's VmHWM in bytes.
func peakRSS() int64 { return int64(vmHWM(os.Getpid())) }
