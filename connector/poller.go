package connector

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// poller owns the consumer: it polls, dispatches messages to the tables' workers,
// handles rebalances and reseeks, pauses fetching past the memory budget, and reports
// lag. Every field is touched only by the goroutine running the loop (the rebalance
// callback runs inside its Poll); committers reach it through the connector's reseekCh
// and notifyCh.
type poller struct {
	conn *Connector
	cons consumer
	log  *slog.Logger
	// hard ends sends to workers and waits on committers at the shutdown deadline.
	hard context.Context
	// ctx is the loop's: it bounds what the loop waits for (table reads on a reseek or
	// an assignment), so that a stop is not stuck behind unreachable storage.
	ctx context.Context
	// closing is set once the final flush is done: revocations then only forget.
	closing bool

	topics      topicSet                  // what the consumer is subscribed to
	topicTables map[string][]*ingestTable // tables per topic, cached
	parts       map[tp]*pollPart          // assigned partitions
	pending     map[*worker]*workItem     // messages not yet handed to a worker
	decisions   []routeDecision           // dispatch's scratch, one per table of a message
	paused      bool                      // fetching paused by the memory budget
	peakMemory  int64
	lastOffsets time.Time
	caught      *catchUp // with UntilCaughtUp: the watermarks to reach
}

// pollPart is the poller's view of one assigned partition.
type pollPart struct {
	dispatched int64 // next offset to dispatch (the consumer's position as far as we know)
	start      int64 // where the start policy put the partition at assignment, or fromStart
	lastBelow  int64 // offset of the last message dispatched below the catch-up watermark, -1 for none
	eof        int64 // offset of the end of the partition seen since the last seek, -1 for none
}

func newPoller(c *Connector, cons consumer) *poller {
	return &poller{conn: c, cons: cons, log: c.log, hard: context.Background(), ctx: context.Background(), topicTables: map[string][]*ingestTable{},
		parts: map[tp]*pollPart{}, pending: map[*worker]*workItem{}}
}

// start subscribes to the configured topics (and, with UntilCaughtUp, records the
// high watermarks to reach).
func (p *poller) start() error {
	if err := p.refreshTopics(true); err != nil {
		return err
	}
	if p.conn.opts.UntilCaughtUp {
		if err := p.readWatermarks(); err != nil {
			return err
		}
	}
	p.log.Info("consuming", "topics", p.topics.names(), "group", p.conn.cfg.Kafka.GroupID, "tables", len(p.conn.tables), "decoders_per_table", p.conn.cfg.Decoders)
	return nil
}

// topicRefresh is how often topic_pattern is matched against the cluster's topics.
const topicRefresh = 30 * time.Second

func (p *poller) loop(ctx context.Context) error {
	p.ctx = ctx
	progress := time.Duration(*p.conn.cfg.Logging.ProgressInterval)
	var lastProgress, lastGauges time.Time
	var lastRows int64
	lastLag, lastTopics := time.Now(), time.Now()
	idle := true
	for i := 0; ; i++ {
		// The control channels are looked at when idle and every controlEvery messages:
		// a select per message cost 5% of the process's CPU under load (issue 15).
		if idle || i%controlEvery == 0 {
			if stop, err := p.control(ctx); stop {
				return err
			}
		}
		ev := p.cons.Poll(100)
		idle = ev == nil
		switch e := ev.(type) {
		case *kafka.Message:
			p.dispatch(ctx, e)
		case nil: // idle: hand over what is batched
			p.sendPending(ctx)
		case kafka.PartitionEOF:
			if pp := p.parts[tp{*e.Topic, e.Partition}]; pp != nil {
				pp.eof = int64(e.Offset)
			}
		case kafka.Error:
			if e.IsFatal() {
				return fmt.Errorf("kafka: %w", e)
			}
			p.log.Warn("kafka", "error", e.Error(), "code", e.Code().String())
		}
		select {
		case <-p.conn.failCh: // a rebalance callback may have failed inside Poll
			return p.conn.failErr
		default:
		}
		p.checkMemory()
		if ev != nil && i%controlEvery != 0 {
			continue // housekeeping below is not needed per message
		}
		now := time.Now()
		p.conn.lastPoll.Store(now.UnixNano())
		if now.Sub(lastGauges) >= time.Second {
			for _, t := range p.conn.tables {
				t.metrics.bufferBytes.Set(float64(t.bytes.Load()))
			}
			lastGauges = now
		}
		if now.Sub(lastTopics) >= p.conn.opts.TopicRefresh {
			if err := p.refreshTopics(false); err != nil {
				p.log.Warn("topic_pattern: cannot list topics; retrying later", "error", err)
			}
			lastTopics = now
		}
		if now.Sub(lastLag) >= 5*time.Second {
			p.updateLag()
			lastLag = now
		}
		if progress > 0 && now.Sub(lastProgress) >= progress {
			rows := p.conn.summary().Rows
			if !lastProgress.IsZero() {
				p.logProgress(rows, rows-lastRows, now.Sub(lastProgress), p.updateLag())
				lastLag = now
			}
			lastProgress, lastRows = now, rows
		}
		if p.caught != nil {
			p.sendPending(ctx)
			if p.caughtUp(ctx, now) {
				p.log.Info("caught up: the tables hold every partition up to the high watermarks seen at start")
				return nil
			}
		}
	}
}

// controlEvery is how many messages the poller dispatches between two looks at its
// control channels (stop, failure, rewind, offsets to commit) and its housekeeping
// (gauges, topics, lag, progress) when not idle.
const controlEvery = 64

// control serves the poller's control channels without blocking; stop says the loop
// ends, returning err.
func (p *poller) control(ctx context.Context) (stop bool, err error) {
	select {
	case <-ctx.Done():
		p.log.Info("stopping: flushing and committing what is buffered")
		p.sendPending(p.hard) // what was polled goes to the final commit
		return true, nil
	case <-p.conn.failCh:
		return true, p.conn.failErr
	case t := <-p.conn.reseekCh:
		t.reseekQueued.Store(false) // a failure from here on queues another rewind
		p.sendPending(ctx)
		if err := p.reseek(ctx, t); err != nil {
			return true, err
		}
	case <-p.conn.notifyCh:
		p.commitKafkaOffsets(false)
	default:
	}
	return false, nil
}

// batchSize is how many messages the poller hands a worker at once.
const batchSize = 64

func newMsgItem() *workItem {
	return &workItem{kind: itemMsgs, msgs: make([]*kafka.Message, 0, batchSize), routes: make([]routeDecision, 0, batchSize)}
}

// sendPending hands every worker the messages batched for it.
func (p *poller) sendPending(ctx context.Context) {
	for w, item := range p.pending {
		if len(item.msgs) == 0 {
			continue
		}
		select {
		case w.in <- *item:
			p.pending[w] = newMsgItem()
		case <-ctx.Done():
			return
		}
	}
}

// tablesFor returns the tables that read a topic.
func (p *poller) tablesFor(topic string) []*ingestTable {
	if ts, ok := p.topicTables[topic]; ok {
		return ts
	}
	var ts []*ingestTable
	for _, t := range p.conn.tables {
		if t.reads(topic) {
			ts = append(ts, t)
		}
	}
	p.topicTables[topic] = ts
	return ts
}

// dispatch sends a message to the worker of every table reading its topic, with the
// routing decision when tables select messages by a field. A message is never dropped
// while later ones are dispatched: when ctx ends mid-way the loop stops.
func (p *poller) dispatch(ctx context.Context, m *kafka.Message) {
	part := tp{*m.TopicPartition.Topic, m.TopicPartition.Partition}
	tables := p.tablesFor(part.topic)
	decisions := p.decisions[:0]
	for range tables {
		decisions = append(decisions, routeHere)
	}
	p.decisions = decisions
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
		w := t.workerFor(part)
		item := p.pending[w]
		if item == nil {
			item = newMsgItem()
			p.pending[w] = item
		}
		item.msgs = append(item.msgs, m)
		item.routes = append(item.routes, decisions[i])
		if len(item.msgs) >= batchSize {
			select {
			case w.in <- *item:
			case <-ctx.Done():
				return
			}
			p.pending[w] = newMsgItem()
		}
	}
	if pp := p.parts[part]; pp != nil {
		pp.dispatched = int64(m.TopicPartition.Offset) + 1
		if p.caught != nil && int64(m.TopicPartition.Offset) < p.caught.high[part] {
			pp.lastBelow = int64(m.TopicPartition.Offset)
		}
	}
}
