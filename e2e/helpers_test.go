// Package e2e holds end-to-end tests: real Kafka wire protocol (kfake, spoken to by
// librdkafka exactly as Apache Kafka would be), real files, and DuckDB reading the
// tables back.
package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicelake/sluice/connector"
	"github.com/sluicelake/sluice/query"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// newCluster starts an in-process Kafka cluster with the topic, closed with the test.
func newCluster(t testing.TB, topic string, partitions int32) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce sends records, waits until every one is acknowledged, and returns the last
// offset it wrote to each partition.
func produce(t *testing.T, c *kfake.Cluster, records ...*kgo.Record) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	results := cl.ProduceSync(context.Background(), records...)
	if err := results.FirstErr(); err != nil {
		t.Fatal(err)
	}
	last := map[int32]int64{}
	for _, r := range results {
		last[r.Record.Partition] = max(last[r.Record.Partition], r.Record.Offset)
	}
	return last
}

// events builds n JSON event records numbered from first.
func events(topic string, first, n int) []*kgo.Record {
	out := make([]*kgo.Record, 0, n)
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := first; i < first+n; i++ {
		ts := base.Add(time.Duration(i) * 37 * time.Second)
		v := fmt.Sprintf(`{"id":%d,"user":"user-%d","amount":%d.25,"ok":%t,"ts":%q}`, i, i%97, i%1000, i%3 == 0, ts.Format(time.RFC3339))
		out = append(out, &kgo.Record{Topic: topic, Value: []byte(v)})
	}
	return out
}

// issueConfig is the configuration from the vertical-slice issue, pointed at the
// cluster and a temporary table.
func issueConfig(t testing.TB, brokers, location string, maxRows int) *connector.Config {
	t.Helper()
	text := fmt.Sprintf(`name: events-ingest
kafka:
  bootstrap_servers: %s
  group_id: sluice-events
tables:
  - name: events
    topics: [events]
    location: %s        # a path, file:///…, or (later) s3://bucket/prefix
    format: json
    schema:
      - {name: id, type: long, nullable: false}
      - {name: user, type: string}
      - {name: amount, type: double}
      - {name: ok, type: boolean}
      - {name: ts, type: timestamp}    # ISO-8601 string in the message
    partition_by: [day]
    columns:
      day: "date(ts)"                  # derived column
    kafka_columns: true                # adds _kafka_topic, _kafka_partition, _kafka_offset, _kafka_timestamp
    flush:
      max_rows: %d
      max_latency: 5s
`, brokers, location, maxRows)
	cfg, err := connector.ParseConfig("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testLogger logs to stderr with -v; otherwise it keeps the last 64 KiB of logs and
// prints them only if the test fails.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	buf := &logTail{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("connector log (tail):\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// logTail keeps the last 64 KiB written to it.
type logTail struct {
	mu  sync.Mutex
	buf []byte
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - 64<<10; over > 0 {
		l.buf = l.buf[over:]
	}
	return len(p), nil
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// runUntilCaughtUp runs a connector until it has ingested everything produced so far.
func runUntilCaughtUp(t *testing.T, cfg *connector.Config) connector.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := connector.New(ctx, cfg, connector.Options{UntilCaughtUp: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := c.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// loadTable returns the latest snapshot of a local table.
func loadTable(t *testing.T, location string) (storage.Storage, *table.Snapshot) {
	t.Helper()
	store, err := storage.Open(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := table.Load(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	return store, snap
}

// duck opens DuckDB with the table registered as view "events".
func duck(t *testing.T, location string) *sql.DB {
	t.Helper()
	store, snap := loadTable(t, location)
	db, err := query.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := query.Register(context.Background(), db, "events", store, snap); err != nil {
		t.Fatal(err)
	}
	return db
}

// loadTableIfExists returns nil when the table has no log yet.
func loadTableIfExists(location string) (storage.Storage, *table.Snapshot) {
	store, err := storage.Open(context.Background(), location)
	if err != nil {
		return nil, nil
	}
	snap, err := table.Load(context.Background(), store)
	if err != nil {
		return nil, nil
	}
	return store, snap
}

func kgoClient(t testing.TB, c *kfake.Cluster) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic through the Kafka protocol.
func createTopic(t testing.TB, cl *kgo.Client, name string, partitions int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// duckNamed opens DuckDB with a snapshot registered under name.
func duckNamed(t *testing.T, store storage.Storage, snap *table.Snapshot, name string) *sql.DB {
	t.Helper()
	db, err := query.OpenDB()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := query.Register(context.Background(), db, name, store, snap); err != nil {
		t.Fatal(err)
	}
	return db
}

// running is a connector started in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// startConnector runs a connector until stop; stop returns Run's error.
func startConnector(t testing.TB, cfg *connector.Config, logger *slog.Logger) *running {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	c, err := connector.New(ctx, cfg, connector.Options{Logger: logger})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() {
		_, err := c.Run(ctx)
		r.done <- err
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop asks the connector to stop (as SIGTERM does) and waits for it.
func (r *running) stop() error {
	r.cancel()
	err, ok := <-r.done
	if ok {
		close(r.done)
	}
	return err
}

// group runs connectors of one consumer group in the background and collects the
// errors their Run returns.
type group struct {
	mu   sync.Mutex
	errs []error
}

// start runs a connector with cfg, logging as instance name, until cancel; wait waits
// for its Run to return.
func (g *group) start(t *testing.T, ctx context.Context, cfg *connector.Config, name string) (cancel context.CancelFunc, wait *sync.WaitGroup) {
	t.Helper()
	ictx, icancel := context.WithCancel(ctx)
	c, err := connector.New(ictx, cfg, connector.Options{Logger: testLogger(t).With("instance", name)})
	if err != nil {
		icancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := c.Run(ictx); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, fmt.Errorf("%s: %w", name, err))
			g.mu.Unlock()
		}
	}()
	return icancel, &wg
}

// check fails the test with every error an instance's Run returned.
func (g *group) check(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, err := range g.errs {
		t.Error(err)
	}
}
