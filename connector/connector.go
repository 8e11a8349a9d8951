// Package connector is Sluice's runtime: it consumes Kafka topics in a consumer group,
// decodes messages into per-table buffers, and commits them to Delta tables exactly
// once, using the tables' txn actions as the only record of what was ingested
// (DESIGN.md, "Exactly-once"). Kafka offsets are committed after each table commit for
// lag monitoring only.
package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/sluicelake/sluice/table"
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

// MessageError is a message that could not be ingested. Nothing at or after its offset
// in its partition is committed.
type MessageError struct {
	Table     string
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("topic %s partition %d offset %d: table %s: %v", e.Topic, e.Partition, e.Offset, e.Table, e.Err)
}

func (e *MessageError) Unwrap() error { return e.Err }

// Summary reports what a run did.
type Summary struct {
	Rows     int64
	Commits  int64
	Files    int64
	Bytes    int64
	Duration time.Duration
}

// Connector runs one configuration.
type Connector struct {
	cfg    *Config
	opts   Options
	log    *slog.Logger
	sinks  []*sink
	routes map[string][]*sink // topic → sinks

	consumer *kafka.Consumer
	assigned map[tp]bool
	// highWater is the high watermark of every partition at start (UntilCaughtUp).
	highWater map[tp]int64
	eofAt     map[tp]int64
	fatal     error // set by the rebalance callback
}

// New checks the configuration and opens (creating where needed) every table.
func New(ctx context.Context, cfg *Config, opts Options) (*Connector, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Connector{cfg: cfg, opts: opts, log: opts.Logger, routes: map[string][]*sink{},
		assigned: map[tp]bool{}, eofAt: map[tp]int64{}}
	for i := range cfg.Tables {
		s, err := openSink(ctx, cfg.Name, &cfg.Tables[i], c.log)
		if err != nil {
			return nil, err
		}
		c.sinks = append(c.sinks, s)
		for _, t := range cfg.Tables[i].Topics {
			c.routes[t] = append(c.routes[t], s)
		}
	}
	return c, nil
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
		"enable.metrics.push":           false,
		"enable.partition.eof":          c.opts.UntilCaughtUp,
		"go.logs.channel.enable":        true,
		"client.id":                     "sluice-" + c.cfg.Name,
	}
	for k, v := range c.cfg.Kafka.Properties {
		cm[k] = v
	}
	return &cm
}

// Run consumes until ctx is done (or, with UntilCaughtUp, until caught up), committing
// as the flush policy says; it flushes and commits what is buffered before returning.
func (c *Connector) Run(ctx context.Context) (Summary, error) {
	start := time.Now()
	consumer, err := kafka.NewConsumer(c.consumerConfig())
	if err != nil {
		return Summary{}, fmt.Errorf("kafka: create consumer: %w", err)
	}
	c.consumer = consumer
	logDone := make(chan struct{})
	go c.forwardLogs(consumer.Logs(), logDone)
	defer func() {
		consumer.Close()
		<-logDone
	}()

	topics := slices.Sorted(maps.Keys(c.routes))
	if c.opts.UntilCaughtUp {
		if err := c.readHighWatermarks(topics); err != nil {
			return Summary{}, err
		}
	}
	if err := consumer.SubscribeTopics(topics, c.rebalance); err != nil {
		return Summary{}, fmt.Errorf("kafka: subscribe %v: %w", topics, err)
	}
	c.log.Info("consuming", "topics", topics, "group", c.cfg.Kafka.GroupID, "tables", len(c.sinks))

	runErr := c.loop(ctx)
	// Commit what is buffered, whatever stopped the loop: good rows before a bad message
	// are not lost, and nothing after it is committed.
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := c.flushAll(flushCtx); err != nil && runErr == nil {
		runErr = err
	}
	sum := c.summary(time.Since(start))
	return sum, runErr
}

func (c *Connector) loop(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		ev := c.consumer.Poll(100)
		if c.fatal != nil {
			return c.fatal
		}
		switch e := ev.(type) {
		case *kafka.Message:
			if err := c.handle(ctx, e); err != nil {
				return err
			}
		case kafka.PartitionEOF:
			p := tp{*e.Topic, e.Partition}
			c.eofAt[p] = int64(e.Offset)
		case kafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("kafka: %w", e)
			}
			c.log.Warn("kafka", "error", e.Error(), "code", e.Code().String())
		}
		now := time.Now()
		for _, s := range c.sinks {
			if s.dueForFlush(now) {
				if err := c.flush(ctx, s); err != nil {
					return err
				}
			}
		}
		if c.opts.UntilCaughtUp && c.caughtUp() {
			c.log.Info("caught up with the high watermarks seen at start")
			return nil
		}
	}
}

func (c *Connector) handle(ctx context.Context, m *kafka.Message) error {
	p := tp{*m.TopicPartition.Topic, m.TopicPartition.Partition}
	off := int64(m.TopicPartition.Offset)
	hasTS := m.TimestampType != kafka.TimestampNotAvailable
	for _, s := range c.routes[p.topic] {
		if _, err := s.add(p, off, m.Value, m.Timestamp, hasTS); err != nil {
			return &MessageError{Table: s.cfg.Name, Topic: p.topic, Partition: p.partition, Offset: off, Err: err}
		}
		if s.buf.Rows() >= s.cfg.Flush.MaxRows || s.buf.Bytes() >= int64(s.cfg.Flush.MaxBytes) {
			if err := c.flush(ctx, s); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush commits one sink. A lost partition (txn conflict) drops the batch and re-seeks
// from the table instead of failing.
func (c *Connector) flush(ctx context.Context, s *sink) error {
	err := s.flush(ctx)
	var conflict *table.TxnConflictError
	switch {
	case err == nil:
		c.commitKafkaOffsets()
		return nil
	case errors.As(err, &conflict):
		c.log.Warn("batch dropped: another writer committed one of its partitions", "table", s.cfg.Name, "error", err)
		return c.reseek(ctx)
	default:
		return err
	}
}

func (c *Connector) flushAll(ctx context.Context) error {
	var errs []error
	for _, s := range c.sinks {
		if err := c.flush(ctx, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// reseek drops every buffer and moves every assigned partition back to the position
// the tables record.
func (c *Connector) reseek(ctx context.Context) error {
	for _, s := range c.sinks {
		s.discard()
	}
	parts := slices.Collect(maps.Keys(c.assigned))
	offsets, err := c.positions(ctx, parts)
	if err != nil {
		return err
	}
	for _, tpo := range offsets {
		if err := c.consumer.Seek(tpo, 0); err != nil {
			c.log.Warn("seek failed; the partition was probably revoked", "partition", tpo.String(), "error", err)
		}
	}
	return nil
}

// positions re-reads every table and returns where each partition must resume: the
// smallest next offset over the tables fed by its topic.
func (c *Connector) positions(ctx context.Context, parts []tp) ([]kafka.TopicPartition, error) {
	snaps := map[*sink]*table.Snapshot{}
	for _, s := range c.sinks {
		snap, err := s.tbl.Snapshot(ctx)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", s.cfg.Name, err)
		}
		snaps[s] = snap
	}
	var out []kafka.TopicPartition
	for _, p := range parts {
		resume := kafka.Offset(-1)
		for _, s := range c.routes[p.topic] {
			st := s.assign(snaps[s], p)
			if st.next < 0 && s.cfg.Start == "latest" {
				_, high, err := c.consumer.QueryWatermarkOffsets(p.topic, p.partition, 10_000)
				if err != nil {
					return nil, fmt.Errorf("kafka: watermarks of %s: %w", p, err)
				}
				st.next = high
			}
			off := kafka.OffsetBeginning
			if st.next >= 0 {
				off = kafka.Offset(st.next)
			}
			if resume == -1 || off == kafka.OffsetBeginning || (resume != kafka.OffsetBeginning && off < resume) {
				resume = off
			}
		}
		topic := p.topic
		out = append(out, kafka.TopicPartition{Topic: &topic, Partition: p.partition, Offset: resume})
	}
	return out, nil
}

// rebalance is the consumer-group callback: on assignment it seeks every partition to
// the offset after its txn; on revocation it commits what is buffered first.
func (c *Connector) rebalance(consumer *kafka.Consumer, ev kafka.Event) error {
	ctx := context.Background()
	cooperative := consumer.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		parts := make([]tp, 0, len(e.Partitions))
		for _, p := range e.Partitions {
			parts = append(parts, tp{*p.Topic, p.Partition})
		}
		offsets, err := c.positions(ctx, parts)
		if err != nil {
			c.fatal = fmt.Errorf("on partition assignment: %w", err)
			return err
		}
		for _, p := range parts {
			c.assigned[p] = true
		}
		c.log.Info("partitions assigned", "partitions", describe(offsets))
		if cooperative {
			err = consumer.IncrementalAssign(offsets)
		} else {
			err = consumer.Assign(offsets)
		}
		if err != nil {
			c.fatal = fmt.Errorf("kafka: assign: %w", err)
		}
		return err
	case kafka.RevokedPartitions:
		if consumer.AssignmentLost() {
			c.log.Warn("partitions lost (session timed out); dropping buffered rows", "partitions", describe(e.Partitions))
			for _, s := range c.sinks {
				s.discard()
			}
		} else if err := c.flushAll(ctx); err != nil {
			c.log.Error("commit before revocation failed; the rows will be re-read by the new owner", "error", err)
			for _, s := range c.sinks {
				s.discard()
			}
		}
		for _, p := range e.Partitions {
			k := tp{*p.Topic, p.Partition}
			delete(c.assigned, k)
			for _, s := range c.routes[k.topic] {
				delete(s.parts, k)
			}
		}
		c.log.Info("partitions revoked", "partitions", describe(e.Partitions))
		var err error
		if cooperative {
			err = consumer.IncrementalUnassign(e.Partitions)
		} else {
			err = consumer.Unassign()
		}
		return err
	}
	return nil
}

// commitKafkaOffsets records, per assigned partition, the offset every table has
// committed up to. The tables remain the source of truth; this is for lag monitoring.
func (c *Connector) commitKafkaOffsets() {
	var offsets []kafka.TopicPartition
	for p := range c.assigned {
		low := int64(-1)
		for _, s := range c.routes[p.topic] {
			st := s.parts[p]
			if st == nil || st.prev < 0 {
				low = -1
				break
			}
			if low < 0 || st.prev+1 < low {
				low = st.prev + 1
			}
		}
		if low >= 0 {
			topic := p.topic
			offsets = append(offsets, kafka.TopicPartition{Topic: &topic, Partition: p.partition, Offset: kafka.Offset(low)})
		}
	}
	if len(offsets) == 0 {
		return
	}
	if _, err := c.consumer.CommitOffsets(offsets); err != nil {
		c.log.Debug("kafka offset commit failed (lag metrics only)", "error", err)
	}
}

// readHighWatermarks records the high watermark of every partition of the topics.
func (c *Connector) readHighWatermarks(topics []string) error {
	c.highWater = map[tp]int64{}
	for _, t := range topics {
		md, err := c.consumer.GetMetadata(&t, false, 10_000)
		if err != nil {
			return fmt.Errorf("kafka: metadata of topic %s: %w", t, err)
		}
		tm, ok := md.Topics[t]
		if !ok || tm.Error.Code() == kafka.ErrUnknownTopicOrPart || len(tm.Partitions) == 0 {
			return fmt.Errorf("kafka: topic %s does not exist", t)
		}
		for _, pm := range tm.Partitions {
			_, high, err := c.consumer.QueryWatermarkOffsets(t, pm.ID, 10_000)
			if err != nil {
				return fmt.Errorf("kafka: watermarks of %s[%d]: %w", t, pm.ID, err)
			}
			c.highWater[tp{t, pm.ID}] = high
		}
	}
	return nil
}

// caughtUp reports whether every assigned partition has reached its start-time high
// watermark in every table it feeds.
func (c *Connector) caughtUp() bool {
	if len(c.assigned) == 0 {
		return false
	}
	for p := range c.assigned {
		hw := c.highWater[p]
		if eof, ok := c.eofAt[p]; ok && eof >= hw {
			continue
		}
		for _, s := range c.routes[p.topic] {
			st := s.parts[p]
			if st == nil || st.next < hw {
				return false
			}
		}
	}
	return true
}

func (c *Connector) summary(d time.Duration) Summary {
	sum := Summary{Duration: d}
	for _, s := range c.sinks {
		sum.Rows += s.rowsCommitted
		sum.Commits += s.commits
		sum.Files += s.filesWritten
		sum.Bytes += s.bytesWritten
	}
	return sum
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
	return fmt.Sprint(out)
}
