// Package connector is Sluice's runtime: it consumes Kafka topics in a consumer group,
// decodes messages on several goroutines into per-table buffers, and commits them to
// Delta tables exactly once, using the tables' txn actions as the only record of what
// was ingested (DESIGN.md, "Exactly-once"). Kafka offsets are committed after each
// table commit for lag monitoring only.
//
// One goroutine, the poller, polls the consumer and dispatches messages to each
// table's workers (partitions spread over them by hash, so each partition stays in
// order); each table has one committer goroutine that writes data files and log
// entries. Control messages (assign, seal, discard, schema changes) travel through the
// same ordered channels as the messages, which is what keeps a batch's offsets exact.
// Every batch carries, per partition, the txn version it continues from, bound when it
// is sealed; the table refuses a commit unless it still holds exactly that version, so
// a batch after a lost one can never commit over a gap.
package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table/storage"
)

// Version is the Sluice version, set at build time.
var Version = "dev"

// Options tune one run.
type Options struct {
	// UntilCaughtUp makes Run return once the tables' txns cover every partition of the
	// subscribed topics up to the high watermark it had when Run started, whichever
	// member of the group ingested it.
	UntilCaughtUp bool
	// Logger receives progress and errors. Defaults to slog.Default().
	Logger *slog.Logger
	// TopicRefresh is how often topic_pattern is matched against the cluster's topics
	// (new topics are subscribed to, and get their table from a template). Defaults to 30s.
	TopicRefresh time.Duration
}

// Summary reports what a run did.
type Summary struct {
	Rows     int64
	Commits  int64
	Files    int64
	Bytes    int64
	Duration time.Duration
}

// tp names a Kafka partition.
type tp struct {
	topic     string
	partition int32
}

func (p tp) String() string { return fmt.Sprintf("%s[%d]", p.topic, p.partition) }

// Connector runs one configuration.
type Connector struct {
	cfg     *Config
	opts    Options
	log     *slog.Logger
	metrics *metrics
	// tables are opened at start, and by the poller's goroutine for new topics of
	// templates; every other reader runs on that goroutine or after it stopped.
	tables    []*ingestTable
	templates templates
	registry  *schema.Registry
	// protoFiles are compiled Protobuf writer schemas by id (protoFile).
	protoFiles sync.Map

	// openStore opens a table location (storage.OpenWith with the configured S3 options).
	openStore func(ctx context.Context, location string) (storage.Storage, error)
	// retryBase is the first delay between retries of a failed storage operation (200ms);
	// retries of the registry and of start-up scale with it, so that tests can shorten them all.
	retryBase time.Duration

	producerOnce sync.Once
	producer     *kafka.Producer
	producerErr  error

	buffered atomic.Int64 // bytes of rows in worker buffers
	inflight atomic.Int64 // bytes of sealed batches being written
	reused   atomic.Int64 // bytes of written batches' buffers kept for the next rows (writer.Config.Reused)

	failOnce  sync.Once
	failErr   error
	failCh    chan struct{}
	reseekCh  chan *ingestTable
	notifyCh  chan struct{}
	ready     atomic.Bool
	lastPoll  atomic.Int64
	startTime time.Time
}

// New checks the configuration, reaches the schema registry and every table's storage
// (retrying within startup_timeout), and opens (creating where the schema is known)
// every table.
func New(ctx context.Context, cfg *Config, opts Options) (*Connector, error) {
	c := newConnector(cfg, opts)
	c.openStore = func(ctx context.Context, location string) (storage.Storage, error) {
		return storage.OpenWith(ctx, location, c.storageOptions())
	}
	return c, c.open(ctx)
}

func newConnector(cfg *Config, opts Options) *Connector {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TopicRefresh <= 0 {
		opts.TopicRefresh = topicRefresh
	}
	return &Connector{cfg: cfg, opts: opts, log: opts.Logger, metrics: newMetrics(), retryBase: 200 * time.Millisecond,
		failCh: make(chan struct{}), reseekCh: make(chan *ingestTable, 16), notifyCh: make(chan struct{}, 1)}
}

// open reaches the registry and opens every table.
func (c *Connector) open(ctx context.Context) error {
	cfg := c.cfg
	if cfg.SchemaRegistry.URL != "" {
		r, err := schema.NewRegistry(schema.RegistryConfig{
			URL: cfg.SchemaRegistry.URL, Username: cfg.SchemaRegistry.Username, Password: cfg.SchemaRegistry.Password,
			BearerToken: cfg.SchemaRegistry.BearerToken, CAFile: cfg.SchemaRegistry.CAFile, CertFile: cfg.SchemaRegistry.CertFile,
			KeyFile: cfg.SchemaRegistry.KeyFile, InsecureSkipVerify: cfg.SchemaRegistry.InsecureSkipVerify,
			Timeout: time.Duration(cfg.SchemaRegistry.Timeout), RetryBackoff: c.retryBase, Logger: c.log,
		})
		if err != nil {
			return fmt.Errorf("schema registry: %w", err)
		}
		c.registry = r
		if err := c.retryStartup(ctx, "schema registry", r.Ping, isPermanentRegistryError); err != nil {
			return err
		}
	}
	for i := range cfg.Tables {
		if cfg.Tables[i].IsTemplate() {
			if err := c.addTemplate(ctx, &cfg.Tables[i]); err != nil {
				return err
			}
			continue
		}
		t, err := c.openTable(ctx, &cfg.Tables[i])
		if err != nil {
			return err
		}
		c.tables = append(c.tables, t)
	}
	return nil
}

func isPermanentRegistryError(err error) bool {
	return errors.Is(err, schema.ErrUnauthorized)
}

// MemoryLimit is the Go heap size that suits a configuration: the memory budget, the
// key caches of upsert tables (memory besides the budget), and 32 MiB for messages in
// flight and decoding. The process sets it (debug.SetMemoryLimit), not the connector,
// since it applies to the whole process. 32 MiB rather than more: the collector's
// headroom is most of the process's memory past the budget (BENCHMARKS.md, "Memory at
// 256 partitions").
func (c *Config) MemoryLimit() int64 {
	limit := int64(c.MemoryBudget) + 32<<20
	for _, t := range c.Tables {
		if t.Mode == ModeUpsert {
			limit += int64(t.KeyCache)
		}
	}
	return limit
}

// reuseLimits bound the memory of written files' buffers kept to hold the next rows:
// each worker's buffer keeps at most perBuffer (half the budget shared by the workers of
// the configured tables), and all of them together at most total (half the budget: a
// table template opens more tables than configured); counter counts it, and it counts
// against the budget (checkMemory). Kept or not, it is memory the process holds.
type reuseLimits struct {
	perBuffer, total int64
	counter          *atomic.Int64
}

func (c *Connector) reuseLimits() reuseLimits {
	half := int64(c.cfg.MemoryBudget) / 2
	return reuseLimits{perBuffer: half / int64(max(1, len(c.cfg.Tables)*c.cfg.Decoders)), total: half, counter: &c.reused}
}

// encoders is how many columns of a data file are encoded at once: one per 128 MiB of
// memory budget, at most one per core and at most 8. Each holds its column's pages and a compressor
// while it works; at 256 partitions and a 64 MiB budget two of them took 10–40 MiB more
// (BENCHMARKS.md), so a small budget encodes one column at a time.
func (c *Connector) encoders() int {
	return max(1, min(runtime.GOMAXPROCS(0), 8, int(int64(c.cfg.MemoryBudget)/(128<<20))))
}

func (c *Connector) storageOptions() storage.Options {
	s := c.cfg.Storage.S3
	return storage.Options{S3: storage.S3Options{Region: s.Region, Endpoint: s.Endpoint, PathStyle: s.PathStyle,
		AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey, SessionToken: s.SessionToken}}
}

// retryStartup runs op until it succeeds, fails permanently, or startup_timeout passes;
// op's context ends at that deadline.
func (c *Connector) retryStartup(ctx context.Context, peer string, op func(context.Context) error, permanent func(error) bool) error {
	deadline := time.Now().Add(time.Duration(c.cfg.StartupTimeout))
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	delay := c.retryBase * 5 / 2
	for {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if permanent != nil && permanent(err) {
			return err
		}
		if time.Now().Add(delay).After(deadline) || ctx.Err() != nil {
			return &StartupError{Peer: peer, Err: fmt.Errorf("gave up after %s: %w", time.Duration(c.cfg.StartupTimeout), err)}
		}
		c.log.Warn("cannot reach "+peer+"; retrying", "error", err, "delay", delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return &StartupError{Peer: peer, Err: ctx.Err()}
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// fail stops the connector with err (the first one wins).
func (c *Connector) fail(err error) {
	c.failOnce.Do(func() {
		c.failErr = err
		close(c.failCh)
	})
}

func (c *Connector) noteCommitted() {
	select {
	case c.notifyCh <- struct{}{}:
	default:
	}
}

// requestReseek asks the poller to rewind a table's partitions to the table's positions.
// A request while one is queued is the same request: the poller reads the positions when
// it serves it.
func (c *Connector) requestReseek(t *ingestTable) {
	if t.reseekQueued.Swap(true) {
		return
	}
	select {
	case c.reseekCh <- t:
	default:
		go func() {
			select {
			case c.reseekCh <- t:
			case <-t.done:
			}
		}()
	}
}

// consumerConfig is librdkafka's configuration: Sluice's defaults, then the user's
// properties on top.
func (c *Connector) consumerConfig() *kafka.ConfigMap {
	// librdkafka's own memory is fetch responses and the prefetch queue, outside the Go
	// heap and its limit: bounded by the budget too (BENCHMARKS.md, "Memory at 256
	// partitions"). A fetch response is at most 1/32 of the budget (4–50 MiB), and a
	// partition's prefetch stops at 10,000 messages, not librdkafka's 100,000.
	budget := int64(c.cfg.MemoryBudget)
	fetchMax := min(50<<20, max(4<<20, budget/32))
	cm := kafka.ConfigMap{
		"bootstrap.servers": c.cfg.Kafka.BootstrapServers,
		"group.id":          c.cfg.Kafka.GroupID,
		// Offsets are stored after each table commit (StoreOffsets) and committed by
		// librdkafka in the background: for lag monitoring only.
		"enable.auto.commit":            true,
		"auto.commit.interval.ms":       1000,
		"enable.auto.offset.store":      false,
		"auto.offset.reset":             "earliest",
		"partition.assignment.strategy": "cooperative-sticky",
		"fetch.queue.backoff.ms":        10,
		"fetch.max.bytes":               int(fetchMax),
		"max.partition.fetch.bytes":     int(min(10<<20, fetchMax)),
		"queued.min.messages":           10_000,
		// Prefetched messages take memory too: bound them by the budget.
		"queued.max.messages.kbytes": int(min(32<<10, max(budget/4/1024, 1024))),
		"enable.metrics.push":        false,
		"enable.partition.eof":       c.opts.UntilCaughtUp,
		"go.logs.channel.enable":     true,
		"client.id":                  "sluice-" + c.cfg.Name,
	}
	if c.cfg.Kafka.InstanceID != "" {
		cm["group.instance.id"] = c.cfg.Kafka.InstanceID
	}
	for k, v := range c.cfg.Kafka.Properties {
		cm[k] = v
	}
	return &cm
}

// Run consumes until ctx is done (or, with UntilCaughtUp, until caught up), committing
// as the flush policies say; it then commits what is buffered within shutdown_timeout.
func (c *Connector) Run(ctx context.Context) (Summary, error) {
	kc, err := kafka.NewConsumer(c.consumerConfig())
	if err != nil {
		return Summary{}, fmt.Errorf("kafka: create consumer: %w", err)
	}
	logDone := make(chan struct{})
	go c.forwardLogs(kc.Logs(), logDone)
	defer func() { <-logDone }() // the channel closes with the consumer, which run closes
	return c.run(ctx, &kafkaConsumer{consumer: kc})
}

// run is Run over any consumer. Whatever stops it (ctx, a failure, caught up), it
// shuts down through one path: commit what is buffered within shutdown_timeout, close
// the consumer (leaving the group), stop the committers, then the workers.
func (c *Connector) run(ctx context.Context, cons consumer) (Summary, error) {
	c.startTime = time.Now()
	p := newPoller(c, cons)
	closed := false
	closeConsumer := func() {
		if !closed {
			closed = true
			p.closing = true
			_ = cons.Close()
		}
	}
	defer closeConsumer()
	if err := c.retryStartup(ctx, "kafka ("+c.cfg.Kafka.BootstrapServers+")", func(ctx context.Context) error {
		timeout := 5 * time.Second
		if d, ok := ctx.Deadline(); ok {
			timeout = max(min(timeout, time.Until(d)), 100*time.Millisecond)
		}
		return cons.Ping(int(timeout.Milliseconds()))
	}, nil); err != nil {
		return Summary{}, err
	}

	// hard ends everything that may block: workers waiting on the registry, sends to
	// workers, committers. It ends at the shutdown deadline at the latest.
	hard, stopHard := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHard()
	p.hard = hard
	var workers, committers sync.WaitGroup
	for _, t := range c.tables {
		t.start(hard, &workers, &committers)
	}
	// Tables of templates that the poller opens for new topics start in the same groups.
	c.templates.hard, c.templates.workers, c.templates.committers = hard, &workers, &committers
	stopWorkers := func() {
		stopHard()
		committers.Wait() // nothing sends to the workers after this
		for _, t := range c.tables {
			for _, w := range t.workers {
				close(w.in)
			}
		}
		workers.Wait()
	}

	runErr := func() error {
		if c.cfg.Metrics.Listen != "" {
			srv, err := c.serveHTTP()
			if err != nil {
				return err
			}
			defer srv.Close()
		}
		if err := p.start(); err != nil {
			return err
		}
		c.ready.Store(true)
		defer c.ready.Store(false)
		return p.loop(ctx)
	}()

	// Commit what is buffered, whatever stopped the loop: good rows before a bad message
	// are not lost, and nothing after it is committed. Past the deadline, hard ends
	// whatever still waits (a worker stuck on an unreachable registry).
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(c.cfg.ShutdownTimeout))
	stopAtDeadline := context.AfterFunc(shutdownCtx, stopHard)
	if err := c.flushAll(shutdownCtx); err != nil && !errors.Is(err, errBatchRefused) && runErr == nil {
		runErr = fmt.Errorf("final commit: %w", err)
	}
	p.commitKafkaOffsets(true)
	closeConsumer() // revokes what is left, already flushed
	stopAtDeadline()
	cancel()
	stopWorkers()
	if c.producer != nil {
		c.producer.Flush(5000)
		c.producer.Close()
	}
	if c.registry != nil {
		c.registry.Close()
	}
	if runErr == nil {
		select {
		case <-c.failCh:
			runErr = c.failErr
		default:
		}
	}
	return c.summary(), runErr
}

// flushAll commits every table's buffer.
func (c *Connector) flushAll(ctx context.Context) error {
	var errs []error
	for _, t := range c.tables {
		if err := t.requestFlush(ctx); err != nil {
			errs = append(errs, fmt.Errorf("table %s: %w", t.cfg.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Connector) summary() Summary {
	s := Summary{Duration: time.Since(c.startTime)}
	for _, t := range c.tables {
		s.Rows += t.rowsCommitted.Load()
		s.Commits += t.commits.Load()
		s.Files += t.files.Load()
		s.Bytes += t.bytesOut.Load()
	}
	return s
}

func (c *Connector) forwardLogs(logs chan kafka.LogEvent, done chan struct{}) {
	defer close(done)
	for l := range logs {
		level := slog.LevelDebug
		switch {
		case l.Level <= 3:
			level = slog.LevelError
		case l.Level == 4:
			level = slog.LevelWarn
		case l.Level <= 6:
			level = slog.LevelInfo
		}
		c.log.Log(context.Background(), level, l.Message, "source", "librdkafka", "tag", l.Tag)
	}
}
