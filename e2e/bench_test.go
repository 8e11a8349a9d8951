package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/connector"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// BenchmarkIngestJSON measures the whole path: librdkafka fetching from kfake, JSON
// decoding, buffering, Parquet encoding, and commits to a local table. Each iteration
// ingests the same 1,000,000 events (≈92 bytes, 5 fields + 4 Kafka columns, partitioned
// by day) into a new table; start-up and shutdown are included. SLUICE_BENCH_DECODERS
// overrides the number of decoders.
func BenchmarkIngestJSON(b *testing.B) {
	const n = 1_000_000
	cluster := newCluster(b, "events", 3)
	records := events("events", 0, n)
	var bytes int64
	for _, r := range records {
		bytes += int64(len(r.Value))
	}
	produceB(b, cluster, records)
	b.SetBytes(bytes)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		location := filepath.Join(b.TempDir(), "events")
		cfg := issueConfig(b, cluster.ListenAddrs()[0], location, 100_000)
		cfg.Name = fmt.Sprintf("bench-%d", i)
		cfg.Kafka.GroupID = cfg.Name
		if d := os.Getenv("SLUICE_BENCH_DECODERS"); d != "" {
			fmt.Sscan(d, &cfg.Decoders)
		}
		ingestAll(b, cfg, n)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// ingestAll runs a connector with cfg until it has caught up, and checks that it
// committed n rows.
func ingestAll(b *testing.B, cfg *connector.Config, n int64) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	c, err := connector.New(ctx, cfg, connector.Options{UntilCaughtUp: true, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	sum, err := c.Run(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if sum.Rows != n {
		b.Fatalf("rows = %d, want %d", sum.Rows, n)
	}
}

func produceB(b *testing.B, c interface{ ListenAddrs() []string }, records []*kgo.Record) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), records...).FirstErr(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkConsumeOnly is the reference for BenchmarkIngestJSON: librdkafka polling the
// same 1,000,000 messages from kfake with Sluice's consumer settings, doing nothing with
// them. The difference is what decoding, encoding and committing cost.
func BenchmarkConsumeOnly(b *testing.B) {
	const n = 1_000_000
	cluster := newCluster(b, "events", 3)
	produceB(b, cluster, events("events", 0, n))
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c, err := kafka.NewConsumer(&kafka.ConfigMap{
			"bootstrap.servers": cluster.ListenAddrs()[0], "group.id": fmt.Sprint("consume-only-", i),
			"enable.auto.commit": false, "auto.offset.reset": "earliest", "fetch.queue.backoff.ms": 10,
			"max.partition.fetch.bytes": 10 << 20, "enable.metrics.push": false,
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Subscribe("events", nil); err != nil {
			b.Fatal(err)
		}
		got := 0
		for got < n {
			if _, ok := c.Poll(100).(*kafka.Message); ok {
				got++
			}
		}
		c.Close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkIngestAutoOptimize measures what auto-optimize costs ingestion while it
// runs: 2,000,000 events ingested into an unpartitioned table with a flush every 8,000
// rows (250 commits of small files, as a busy low-latency table makes them), with
// auto-optimize off, then on
// (every second, at 10 small files, at its default read rate). It reports ingest
// rows/s and the live files left.
func BenchmarkIngestAutoOptimize(b *testing.B) {
	const n = 2_000_000
	cluster := newCluster(b, "events", 3)
	produceB(b, cluster, events("events", 0, n))
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("optimize=%v", on), func(b *testing.B) {
			files := 0
			for i := 0; b.Loop(); i++ {
				location := filepath.Join(b.TempDir(), "events")
				cfg := issueConfig(b, cluster.ListenAddrs()[0], location, 8000)
				cfg.Name = fmt.Sprintf("bench-opt-%v-%d", on, i)
				cfg.Kafka.GroupID = cfg.Name
				cfg.Tables[0].PartitionBy = nil // one partition: the events span 200 days
				m := &cfg.Tables[0].Maintenance.Optimize
				m.Enabled, m.MinFiles, m.Interval = &on, 10, connector.Duration(time.Second)
				ingestAll(b, cfg, n)
				store, err := storage.NewLocal(location)
				if err != nil {
					b.Fatal(err)
				}
				snap, err := table.Load(context.Background(), store)
				if err != nil {
					b.Fatal(err)
				}
				files = snap.NumFiles()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(files), "files_left")
		})
	}
}
