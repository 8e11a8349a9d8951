package connector

import (
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// committedNext is, per assigned partition, the offset every table reading it has
// committed up to (and -1 where one has not committed anything yet).
func (p *poller) committedNext() map[tp]int64 {
	out := map[tp]int64{}
	for part := range p.parts {
		low := int64(-1)
		for i, t := range p.tablesFor(part.topic) {
			v, ok := t.book.get(part)
			if !ok || v == noTxn {
				low = -1
				break
			}
			if i == 0 || v+1 < low {
				low = v + 1
			}
		}
		out[part] = low
	}
	return out
}

// commitKafkaOffsets records in the consumer group what every table has committed, for
// lag monitoring; librdkafka commits the stored offsets in the background (every
// auto.commit.interval.ms, and when it leaves the group). The tables remain the source
// of truth. A synchronous commit here would block the poll loop on the broker: during a
// rebalance, for as long as the rebalance takes, which can be until this very consumer
// polls again.
func (p *poller) commitKafkaOffsets(force bool) {
	if !force && time.Since(p.lastOffsets) < time.Second {
		time.AfterFunc(time.Second, p.conn.noteCommitted)
		return
	}
	p.lastOffsets = time.Now()
	var offsets []kafka.TopicPartition
	for part, next := range p.committedNext() {
		if next >= 0 {
			offsets = append(offsets, topicPartition(part, next))
		}
	}
	if len(offsets) == 0 {
		return
	}
	if err := p.cons.StoreOffsets(offsets); err != nil {
		p.log.Debug("kafka offsets not stored (lag metrics only)", "error", err)
	}
}

// updateLag publishes, per table and partition, the messages between the table's
// position and the high watermark the consumer last saw, and returns the sum over
// partitions of the largest (the least advanced table's).
func (p *poller) updateLag() int64 {
	var total int64
	for part, next := range p.committedNext() {
		_, high, err := p.cons.Watermarks(part.topic, part.partition, true)
		if err != nil || high < 0 {
			continue
		}
		total += max(high-max(next, 0), 0)
		for _, t := range p.tablesFor(part.topic) {
			tnext := int64(0)
			if v, ok := t.book.get(part); ok && v != noTxn {
				tnext = v + 1
			}
			p.conn.metrics.lag.WithLabelValues(t.cfg.Name, part.topic, strconv.Itoa(int(part.partition))).Set(float64(max(high-tnext, 0)))
		}
	}
	return total
}

// logProgress logs rows committed in total and in the last d, and the lag.
func (p *poller) logProgress(total, rows int64, d time.Duration, lag int64) {
	versions := make([]string, 0, len(p.conn.tables))
	for _, t := range p.conn.tables {
		versions = append(versions, t.cfg.Name+"@"+strconv.FormatInt(t.version.Load(), 10))
	}
	p.log.Info("progress", "rows_per_sec", int64(float64(rows)/d.Seconds()), "rows_committed", total,
		"lag", lag, "buffered_bytes", p.conn.buffered.Load(), "partitions", len(p.parts), "tables", versions)
}

// checkMemory pauses fetching past the memory budget, flushing the largest buffer, and
// while paused flushes the next largest until memory falls below three quarters of the
// budget, where fetching resumes. Memory is the rows buffered and being written, and
// the buffers kept for reuse: at most half the budget (Connector.reuseLimits), so that
// once nothing is buffered or being written it is below three quarters.
func (p *poller) checkMemory() {
	c := p.conn
	budget := int64(c.cfg.MemoryBudget)
	reused := c.reused.Load()
	used := c.buffered.Load() + c.inflight.Load() + reused
	c.metrics.memory.Set(float64(used))
	c.metrics.memoryReused.Set(float64(reused))
	if used > p.peakMemory {
		p.peakMemory = used
		c.metrics.memoryMax.Set(float64(used))
	}
	switch {
	case used > budget || p.paused && used >= budget*3/4:
		// Paused, the buffers no longer grow: flush the largest until memory is below
		// where fetching resumes, rather than wait for their max_latency. One a check:
		// a flushed table's count drops at its seal.
		var largest *ingestTable
		for _, t := range c.tables {
			if largest == nil || t.bytes.Load() > largest.bytes.Load() {
				largest = t
			}
		}
		if largest != nil && largest.bytes.Load() > 0 {
			largest.forceFlush()
		}
		if !p.paused {
			if err := p.cons.Pause(p.assignment()); err == nil {
				p.paused = true
				c.metrics.paused.Set(1)
				p.log.Info("memory budget reached: fetching paused", "buffered_bytes", used, "budget", budget)
			}
		}
	case p.paused && used < budget*3/4:
		if err := p.cons.Resume(p.assignment()); err == nil {
			p.paused = false
			c.metrics.paused.Set(0)
			p.log.Info("fetching resumed", "buffered_bytes", used)
		}
	}
}

func (p *poller) assignment() []kafka.TopicPartition {
	out := make([]kafka.TopicPartition, 0, len(p.parts))
	for part := range p.parts {
		topic := part.topic
		out = append(out, kafka.TopicPartition{Topic: &topic, Partition: part.partition})
	}
	return out
}
