// Package connector is Sluice's runtime: it consumes Kafka topics in a consumer group,
// decodes messages on several goroutines into per-table buffers, and commits them to
// Delta tables exactly once, using the tables' txn actions as the only record of what
// was ingested (DESIGN.md, "Exactly-once"). Kafka offsets are committed after each
// table commit for lag monitoring only.
//
// One goroutine polls the consumer and dispatches messages to each table's workers
// (partitions spread over them by hash, so each partition stays in order); each table
// has one committer goroutine that writes data files and log entries. Control messages
// (assign, seal, discard, schema changes) travel through the same ordered channels as
// the messages, which is what keeps a batch's offsets exact.
package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
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
	// UntilCaughtUp makes Run return once every assigned partition has been ingested up
	// to the high watermark it had when Run started, and committed.
	UntilCaughtUp bool
	// Logger receives progress and errors. Defaults to slog.Default().
	Logger *slog.Logger
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
	cfg      *Config
	opts     Options
	log      *slog.Logger
	metrics  *metrics
	tables   []*tableRT
	registry *schema.Registry

	consumer     *kafka.Consumer
	producerOnce sync.Once
	producer     *kafka.Producer
	producerErr  error

	buffered atomic.Int64 // bytes of rows in worker buffers
	inflight atomic.Int64 // bytes of sealed batches being written

	// Poller state: touched only by the goroutine running Run (and the rebalance
	// callback, which runs inside its Poll).
	topicTables map[string][]*tableRT
	assigned    map[tp]bool
	dispatched  map[tp]int64 // next offset to dispatch, per partition
	highWater   map[tp]int64
	eofAt       map[tp]int64
	paused      bool
	peakMemory  int64
	pending     map[*worker]*workItem // messages not yet handed to a worker
	decisions   []routeDecision       // dispatch's scratch, one per table of a message
	lastOffsets time.Time

	failOnce  sync.Once
	failErr   error
	failCh    chan struct{}
	reseekCh  chan *tableRT
	notifyCh  chan struct{}
	ready     atomic.Bool
	lastPoll  atomic.Int64
	startTime time.Time
}

// New checks the configuration, reaches the schema registry and every table's storage
// (retrying within startup_timeout), and opens (creating where the schema is known)
// every table.
func New(ctx context.Context, cfg *Config, opts Options) (*Connector, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Connector{cfg: cfg, opts: opts, log: opts.Logger, metrics: newMetrics(), topicTables: map[string][]*tableRT{},
		assigned: map[tp]bool{}, dispatched: map[tp]int64{}, eofAt: map[tp]int64{}, pending: map[*worker]*workItem{},
		failCh: make(chan struct{}), reseekCh: make(chan *tableRT, 16), notifyCh: make(chan struct{}, 1)}
	if cfg.SchemaRegistry.URL != "" {
		r, err := schema.NewRegistry(schema.RegistryConfig{
			URL: cfg.SchemaRegistry.URL, Username: cfg.SchemaRegistry.Username, Password: cfg.SchemaRegistry.Password,
			BearerToken: cfg.SchemaRegistry.BearerToken, CAFile: cfg.SchemaRegistry.CAFile, CertFile: cfg.SchemaRegistry.CertFile,
			KeyFile: cfg.SchemaRegistry.KeyFile, InsecureSkipVerify: cfg.SchemaRegistry.InsecureSkipVerify,
			Timeout: time.Duration(cfg.SchemaRegistry.Timeout), Logger: c.log,
		})
		if err != nil {
			return nil, fmt.Errorf("schema registry: %w", err)
		}
		c.registry = r
		if err := c.retryStartup(ctx, "schema registry", r.Ping, isPermanentRegistryError); err != nil {
			return nil, err
		}
	}
	for i := range cfg.Tables {
		t, err := c.openTable(ctx, &cfg.Tables[i])
		if err != nil {
			return nil, err
		}
		c.tables = append(c.tables, t)
	}
	return c, nil
}

func isPermanentRegistryError(err error) bool {
	return errors.Is(err, schema.ErrUnauthorized)
}

// reuseBytes is how much released buffer memory each worker may keep: half the memory
// budget, shared by every worker of every table.
func (c *Connector) reuseBytes() int64 {
	return int64(c.cfg.MemoryBudget) / 2 / int64(max(1, len(c.cfg.Tables)*c.cfg.Decoders))
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
	delay := 500 * time.Millisecond
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

func (c *Connector) requestReseek(t *tableRT) {
	select {
	case c.reseekCh <- t:
	default:
		go func() { c.reseekCh <- t }()
	}
}

// consumerConfig is librdkafka's configuration: Sluice's defaults, then the user's
// properties on top.
func (c *Connector) consumerConfig() *kafka.ConfigMap {
	cm := kafka.ConfigMap{
		"bootstrap.servers":             c.cfg.Kafka.BootstrapServers,
		"group.id":                      c.cfg.Kafka.GroupID,
		"enable.auto.commit":            false,
		"enable.auto.offset.store":      false,
		"auto.offset.reset":             "earliest",
		"partition.assignment.strategy": "cooperative-sticky",
		"fetch.queue.backoff.ms":        10,
		"max.partition.fetch.bytes":     10 << 20,
		// Prefetched messages take memory too: bound them by the budget.
		"queued.max.messages.kbytes": int(min(32<<10, max(int64(c.cfg.MemoryBudget)/4/1024, 1024))),
		"enable.metrics.push":        false,
		"enable.partition.eof":       c.opts.UntilCaughtUp,
		"go.logs.channel.enable":     true,
		"client.id":                  "sluice-" + c.cfg.Name,
	}
	for k, v := range c.cfg.Kafka.Properties {
		cm[k] = v
	}
	return &cm
}

// Run consumes until ctx is done (or, with UntilCaughtUp, until caught up), committing
// as the flush policies say; it then commits what is buffered within shutdown_timeout.
func (c *Connector) Run(ctx context.Context) (Summary, error) {
	c.startTime = time.Now()
	// Keep the Go heap near what the budget allows: the buffers plus room for messages
	// in flight and decoding, so garbage does not pile up past the budget.
	debug.SetMemoryLimit(int64(c.cfg.MemoryBudget) + 96<<20)
	consumer, err := kafka.NewConsumer(c.consumerConfig())
	if err != nil {
		return Summary{}, fmt.Errorf("kafka: create consumer: %w", err)
	}
	c.consumer = consumer
	logDone := make(chan struct{})
	go c.forwardLogs(consumer.Logs(), logDone)
	closed := false
	closeConsumer := func() {
		if !closed {
			closed = true
			consumer.Close()
			<-logDone
		}
	}
	defer closeConsumer()
	if err := c.retryStartup(ctx, "kafka ("+c.cfg.Kafka.BootstrapServers+")", func(ctx context.Context) error {
		timeout := 5 * time.Second
		if d, ok := ctx.Deadline(); ok {
			timeout = max(min(timeout, time.Until(d)), 100*time.Millisecond)
		}
		_, err := consumer.GetMetadata(nil, false, int(timeout.Milliseconds()))
		return err
	}, nil); err != nil {
		return Summary{}, err
	}

	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	var workers, committers sync.WaitGroup
	for _, t := range c.tables {
		t.start(runCtx, &workers, &committers)
	}
	stopWorkers := func() {
		cancelRun()
		committers.Wait() // nothing sends to the workers after this
		for _, t := range c.tables {
			for _, w := range t.workers {
				close(w.in)
			}
		}
		workers.Wait()
	}

	var srv *http.Server
	if c.cfg.Metrics.Listen != "" {
		if srv, err = c.serveHTTP(); err != nil {
			stopWorkers()
			return Summary{}, err
		}
		defer srv.Close()
	}

	subscription := c.cfg.Subscription()
	if c.opts.UntilCaughtUp {
		if err := c.readHighWatermarks(); err != nil {
			stopWorkers()
			return Summary{}, err
		}
	}
	if err := consumer.SubscribeTopics(subscription, c.rebalance); err != nil {
		stopWorkers()
		return Summary{}, fmt.Errorf("kafka: subscribe %v: %w", subscription, err)
	}
	c.ready.Store(true)
	c.log.Info("consuming", "subscription", subscription, "group", c.cfg.Kafka.GroupID, "tables", len(c.tables), "decoders_per_table", c.cfg.Decoders)

	runErr := c.loop(ctx)
	c.ready.Store(false)

	// Commit what is buffered, whatever stopped the loop: good rows before a bad message
	// are not lost, and nothing after it is committed.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(c.cfg.ShutdownTimeout))
	if err := c.flushAll(shutdownCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("final commit: %w", err)
	}
	cancel()
	c.commitKafkaOffsets(true)
	closeConsumer() // revokes what is left (already flushed)
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

func (c *Connector) loop(ctx context.Context) error {
	progress := time.Duration(*c.cfg.Logging.ProgressInterval)
	var lastProgress, lastGauges time.Time
	var lastRows int64
	lastLag := time.Now()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			c.log.Info("stopping: flushing and committing what is buffered")
			c.sendPending(ctx)
			return nil
		case <-c.failCh:
			return c.failErr
		case t := <-c.reseekCh:
			c.sendPending(ctx)
			if err := c.reseek(ctx, t); err != nil {
				return err
			}
		case <-c.notifyCh:
			c.commitKafkaOffsets(false)
		default:
		}
		ev := c.consumer.Poll(100)
		switch e := ev.(type) {
		case *kafka.Message:
			c.dispatch(ctx, e)
		case nil: // idle: hand over what is batched
			c.sendPending(ctx)
		case kafka.PartitionEOF:
			c.eofAt[tp{*e.Topic, e.Partition}] = int64(e.Offset)
		case kafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("kafka: %w", e)
			}
			c.log.Warn("kafka", "error", e.Error(), "code", e.Code().String())
		}
		select {
		case <-c.failCh: // a rebalance callback may have failed inside Poll
			return c.failErr
		default:
		}
		c.checkMemory()
		if ev != nil && i%64 != 0 {
			continue // housekeeping below is not needed per message
		}
		now := time.Now()
		c.lastPoll.Store(now.UnixNano())
		if now.Sub(lastGauges) >= time.Second {
			for _, t := range c.tables {
				t.m.bufferBytes.Set(float64(t.bytes.Load()))
			}
			lastGauges = now
		}
		if now.Sub(lastLag) >= 5*time.Second {
			c.updateLag()
			lastLag = now
		}
		if progress > 0 && now.Sub(lastProgress) >= progress {
			rows := c.summary().Rows
			if !lastProgress.IsZero() {
				c.logProgress(rows, rows-lastRows, now.Sub(lastProgress), c.updateLag())
				lastLag = now
			}
			lastProgress, lastRows = now, rows
		}
		if c.opts.UntilCaughtUp && c.caughtUp() {
			c.sendPending(ctx)
			c.log.Info("caught up with the high watermarks seen at start")
			return nil
		}
	}
}

// batchSize is how many messages the poller hands a worker at once.
const batchSize = 64

// sendPending hands every worker the messages batched for it.
func (c *Connector) sendPending(ctx context.Context) {
	for w, item := range c.pending {
		if len(item.msgs) == 0 {
			continue
		}
		select {
		case w.in <- *item:
		case <-ctx.Done():
		}
		c.pending[w] = &workItem{kind: itemMsgs, msgs: make([]*kafka.Message, 0, batchSize), routes: make([]routeDecision, 0, batchSize)}
	}
}

// tablesFor returns the tables that read a topic.
func (c *Connector) tablesFor(topic string) []*tableRT {
	if ts, ok := c.topicTables[topic]; ok {
		return ts
	}
	var ts []*tableRT
	for _, t := range c.tables {
		if t.cfg.matches(topic, t.pattern) {
			ts = append(ts, t)
		}
	}
	c.topicTables[topic] = ts
	return ts
}

// dispatch sends a message to the worker of every table reading its topic, with the
// routing decision when tables select messages by a field.
func (c *Connector) dispatch(ctx context.Context, m *kafka.Message) {
	p := tp{*m.TopicPartition.Topic, m.TopicPartition.Partition}
	tables := c.tablesFor(p.topic)
	decisions := c.decisions[:0]
	for range tables {
		decisions = append(decisions, routeHere)
	}
	c.decisions = decisions
	allRouted, anyHere := true, false
	for i, t := range tables {
		if t.route == nil {
			allRouted = false
			anyHere = true
			continue
		}
		if t.route.match(m.Value) {
			anyHere = true
		} else {
			decisions[i] = routeElsewhere
		}
	}
	if allRouted && !anyHere && len(tables) > 0 {
		decisions[0] = routeNowhere
	}
	for i, t := range tables {
		w := t.workerFor(p)
		item := c.pending[w]
		if item == nil {
			item = &workItem{kind: itemMsgs, msgs: make([]*kafka.Message, 0, batchSize), routes: make([]routeDecision, 0, batchSize)}
			c.pending[w] = item
		}
		item.msgs = append(item.msgs, m)
		item.routes = append(item.routes, decisions[i])
		if len(item.msgs) >= batchSize {
			select {
			case w.in <- *item:
			case <-ctx.Done():
				return
			}
			c.pending[w] = &workItem{kind: itemMsgs, msgs: make([]*kafka.Message, 0, batchSize), routes: make([]routeDecision, 0, batchSize)}
		}
	}
	c.dispatched[p] = int64(m.TopicPartition.Offset) + 1
}

// rebalance is the consumer-group callback: on assignment it seeks every partition to
// the offset after its txn; on revocation it commits what is buffered first.
func (c *Connector) rebalance(consumer *kafka.Consumer, ev kafka.Event) error {
	ctx := context.Background()
	c.sendPending(ctx) // messages already polled go first, in order
	cooperative := consumer.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		parts := make([]tp, 0, len(e.Partitions))
		for _, p := range e.Partitions {
			parts = append(parts, tp{*p.Topic, p.Partition})
		}
		offsets, err := c.assign(ctx, parts)
		if err != nil {
			c.fail(fmt.Errorf("on partition assignment: %w", err))
			return err
		}
		c.log.Info("partitions assigned", "partitions", describe(offsets))
		if cooperative {
			err = consumer.IncrementalAssign(offsets)
		} else {
			err = consumer.Assign(offsets)
		}
		if err != nil {
			c.fail(fmt.Errorf("kafka: assign: %w", err))
		}
		return err
	case kafka.RevokedPartitions:
		parts := make([]tp, 0, len(e.Partitions))
		for _, p := range e.Partitions {
			parts = append(parts, tp{*p.Topic, p.Partition})
		}
		c.revoke(ctx, parts, consumer.AssignmentLost())
		c.log.Info("partitions revoked", "partitions", describe(e.Partitions))
		if cooperative {
			return consumer.IncrementalUnassign(e.Partitions)
		}
		return consumer.Unassign()
	}
	return nil
}

// assign reads every table fed by the partitions and returns where to start each: the
// smallest position over its tables.
func (c *Connector) assign(ctx context.Context, parts []tp) ([]kafka.TopicPartition, error) {
	start := map[tp]int64{} // -1: from the beginning
	for _, p := range parts {
		start[p] = -2 // unset
	}
	for _, t := range c.tables {
		mine := t.mine(parts)
		if len(mine) == 0 {
			continue
		}
		next, err := t.positions(ctx, mine)
		if err != nil {
			return nil, err
		}
		byWorker := map[*worker]map[tp]int64{}
		for _, p := range mine {
			n := next[p]
			if n < 0 && t.cfg.Start.Policy == "latest" {
				_, high, err := c.consumer.QueryWatermarkOffsets(p.topic, p.partition, 10_000)
				if err != nil {
					return nil, fmt.Errorf("kafka: watermarks of %s: %w", p, err)
				}
				n = high
			}
			w := t.workerFor(p)
			if byWorker[w] == nil {
				byWorker[w] = map[tp]int64{}
			}
			byWorker[w][p] = n
			switch cur := start[p]; {
			case cur == -2:
				start[p] = n
			case cur == -1 || n == -1:
				start[p] = -1 // some table starts from the beginning
			case n < cur:
				start[p] = n
			}
		}
		for w, ps := range byWorker {
			w.in <- workItem{kind: itemAssign, parts: ps}
		}
	}
	var out []kafka.TopicPartition
	for _, p := range parts {
		topic := p.topic
		off := kafka.OffsetBeginning
		if s := start[p]; s >= 0 {
			off = kafka.Offset(s)
		}
		out = append(out, kafka.TopicPartition{Topic: &topic, Partition: p.partition, Offset: off})
		c.assigned[p] = true
		c.dispatched[p] = max(start[p], 0)
	}
	return out, nil
}

// revoke commits what is buffered (within a deadline) before the partitions go; if
// the assignment was lost, or the commit cannot be made in time, the buffers are
// dropped instead: the new owner reads those rows again from the table's txn.
func (c *Connector) revoke(ctx context.Context, parts []tp, lost bool) {
	if lost {
		c.log.Warn("partitions lost (session timed out); dropping buffered rows", "partitions", len(parts))
		c.discardAll(ctx)
	} else {
		fctx, cancel := context.WithTimeout(ctx, min(time.Duration(c.cfg.ShutdownTimeout), 30*time.Second))
		err := c.flushAll(fctx)
		cancel()
		if err != nil {
			c.log.Error("commit before revocation failed; the rows will be read again by the new owner", "error", err)
			c.discardAll(ctx)
		}
	}
	for _, p := range parts {
		delete(c.assigned, p)
		delete(c.dispatched, p)
	}
	for _, t := range c.tables {
		if mine := t.mine(parts); len(mine) > 0 {
			t.forget(mine)
		}
	}
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

// discardAll drops every buffer and re-seeks every assigned partition from the tables.
func (c *Connector) discardAll(ctx context.Context) {
	for _, t := range c.tables {
		if err := c.reseek(ctx, t); err != nil {
			c.fail(err)
		}
	}
}

// reseek drops a table's batch and moves its partitions back to what the table
// records; other tables skip what they already have.
func (c *Connector) reseek(ctx context.Context, t *tableRT) error {
	parts := t.mine(slices.Collect(maps.Keys(c.assigned)))
	next, err := t.positions(ctx, parts)
	if err != nil {
		return err
	}
	byWorker := map[*worker]map[tp]int64{}
	for _, w := range t.workers {
		byWorker[w] = map[tp]int64{}
	}
	for _, p := range parts {
		byWorker[t.workerFor(p)][p] = next[p]
	}
	for w, ps := range byWorker {
		w.in <- workItem{kind: itemDiscard, parts: ps}
	}
	for _, p := range parts {
		n := next[p]
		if n >= c.dispatched[p] && n >= 0 {
			continue // the table is ahead of what was dispatched: its worker skips up to it
		}
		topic := p.topic
		off := kafka.OffsetBeginning
		if n >= 0 {
			off = kafka.Offset(n)
		}
		if err := c.consumer.Seek(kafka.TopicPartition{Topic: &topic, Partition: p.partition, Offset: off}, 0); err != nil {
			c.log.Warn("seek failed; the partition was probably revoked", "partition", p.String(), "error", err)
			continue
		}
		c.dispatched[p] = max(n, 0)
	}
	return nil
}

// checkMemory pauses fetching past the memory budget (flushing the largest buffer) and
// resumes once memory falls below three quarters of it.
func (c *Connector) checkMemory() {
	budget := int64(c.cfg.MemoryBudget)
	used := c.buffered.Load() + c.inflight.Load()
	c.metrics.memory.Set(float64(used))
	if used > c.peakMemory {
		c.peakMemory = used
		c.metrics.memoryMax.Set(float64(used))
	}
	switch {
	case used > budget:
		var largest *tableRT
		for _, t := range c.tables {
			if largest == nil || t.bytes.Load() > largest.bytes.Load() {
				largest = t
			}
		}
		if largest != nil && largest.bytes.Load() > 0 {
			largest.forceFlush()
		}
		if !c.paused {
			if err := c.consumer.Pause(c.assignment()); err == nil {
				c.paused = true
				c.metrics.paused.Set(1)
				c.log.Info("memory budget reached: fetching paused", "buffered_bytes", used, "budget", budget)
			}
		}
	case c.paused && used < budget*3/4:
		if err := c.consumer.Resume(c.assignment()); err == nil {
			c.paused = false
			c.metrics.paused.Set(0)
			c.log.Info("fetching resumed", "buffered_bytes", used)
		}
	}
}

func (c *Connector) assignment() []kafka.TopicPartition {
	out := make([]kafka.TopicPartition, 0, len(c.assigned))
	for p := range c.assigned {
		topic := p.topic
		out = append(out, kafka.TopicPartition{Topic: &topic, Partition: p.partition})
	}
	return out
}

// committedNext is, per assigned partition, the offset every table reading it has
// committed up to (and -1 where one has not committed anything yet).
func (c *Connector) committedNext() map[tp]int64 {
	out := map[tp]int64{}
	for p := range c.assigned {
		low := int64(-1)
		for i, t := range c.tablesFor(p.topic) {
			t.mu.Lock()
			v, ok := t.committed[p]
			t.mu.Unlock()
			if !ok || v < 0 {
				low = -1
				break
			}
			if i == 0 || v+1 < low {
				low = v + 1
			}
		}
		out[p] = low
	}
	return out
}

// commitKafkaOffsets records in the consumer group what every table has committed, for
// lag monitoring. The tables remain the source of truth.
func (c *Connector) commitKafkaOffsets(force bool) {
	if !force && time.Since(c.lastOffsets) < time.Second {
		c.noteCommittedLater()
		return
	}
	c.lastOffsets = time.Now()
	var offsets []kafka.TopicPartition
	for p, next := range c.committedNext() {
		if next >= 0 {
			topic := p.topic
			offsets = append(offsets, kafka.TopicPartition{Topic: &topic, Partition: p.partition, Offset: kafka.Offset(next)})
		}
	}
	if len(offsets) == 0 {
		return
	}
	if _, err := c.consumer.CommitOffsets(offsets); err != nil {
		c.log.Debug("kafka offset commit failed (lag metrics only)", "error", err)
	}
}

func (c *Connector) noteCommittedLater() {
	time.AfterFunc(time.Second, c.noteCommitted)
}

// updateLag publishes, per partition, the messages between the tables' position and the
// high watermark the consumer last saw, and returns their sum.
func (c *Connector) updateLag() int64 {
	var total int64
	for p, next := range c.committedNext() {
		_, high, err := c.consumer.GetWatermarkOffsets(p.topic, p.partition)
		if err != nil || high < 0 {
			continue
		}
		lag := max(high-max(next, 0), 0)
		c.metrics.lag.WithLabelValues(p.topic, strconv.Itoa(int(p.partition))).Set(float64(lag))
		total += lag
	}
	return total
}

// logProgress logs rows committed in total and in the last d, and the lag.
func (c *Connector) logProgress(total, rows int64, d time.Duration, lag int64) {
	versions := make([]string, 0, len(c.tables))
	for _, t := range c.tables {
		versions = append(versions, t.cfg.Name+"@"+strconv.FormatInt(t.version.Load(), 10))
	}
	c.log.Info("progress", "rows_per_sec", int64(float64(rows)/d.Seconds()), "rows_committed", total,
		"lag", lag, "buffered_bytes", c.buffered.Load(), "partitions", len(c.assigned), "tables", versions)
}

// readHighWatermarks records the high watermark of every partition of the subscribed
// topics (regular expressions matched against the cluster's topics).
func (c *Connector) readHighWatermarks() error {
	c.highWater = map[tp]int64{}
	md, err := c.consumer.GetMetadata(nil, true, 10_000)
	if err != nil {
		return fmt.Errorf("kafka: metadata: %w", err)
	}
	for _, t := range c.cfg.Tables {
		for _, name := range t.Topics {
			if tm, ok := md.Topics[name]; !ok || len(tm.Partitions) == 0 {
				return fmt.Errorf("kafka: topic %s (table %s) does not exist", name, t.Name)
			}
		}
	}
	for name, tm := range md.Topics {
		if len(c.tablesFor(name)) == 0 {
			continue
		}
		for _, pm := range tm.Partitions {
			_, high, err := c.consumer.QueryWatermarkOffsets(name, pm.ID, 10_000)
			if err != nil {
				return fmt.Errorf("kafka: watermarks of %s[%d]: %w", name, pm.ID, err)
			}
			c.highWater[tp{name, pm.ID}] = high
		}
	}
	return nil
}

// caughtUp reports whether every assigned partition has been dispatched up to its
// start-time high watermark and no table holds messages back for a schema change.
func (c *Connector) caughtUp() bool {
	if len(c.assigned) == 0 {
		return false
	}
	for p := range c.assigned {
		hw := c.highWater[p]
		if eof, ok := c.eofAt[p]; ok && eof >= hw {
			continue
		}
		if c.dispatched[p] < hw {
			return false
		}
	}
	for _, t := range c.tables {
		if t.waiting.Load() > 0 {
			return false
		}
	}
	return true
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

func describe(parts []kafka.TopicPartition) string {
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		s := fmt.Sprintf("%s[%d]", *p.Topic, p.Partition)
		if p.Offset >= 0 {
			s += "@" + strconv.FormatInt(int64(p.Offset), 10)
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}
