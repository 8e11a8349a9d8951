package connector

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// rebalance is the consumer-group callback: on assignment it seeks every partition to
// the offset after its txn; on revocation it commits what is buffered first.
func (p *poller) rebalance(ev kafka.Event) error {
	p.sendPending(p.hard) // messages already polled go first, in order
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		if p.closing || p.ctx.Err() != nil {
			// Leaving the group: nothing is consumed any more, so the tables need not be read.
			return p.cons.Assign(e.Partitions)
		}
		parts := make([]tp, 0, len(e.Partitions))
		for _, kp := range e.Partitions {
			parts = append(parts, tp{*kp.Topic, kp.Partition})
		}
		offsets, err := p.assign(parts)
		if err != nil {
			p.conn.fail(fmt.Errorf("on partition assignment: %w", err))
			return err
		}
		p.log.Info("partitions assigned", "partitions", describe(offsets))
		if err := p.cons.Assign(offsets); err != nil {
			p.conn.fail(fmt.Errorf("kafka: assign: %w", err))
			return err
		}
		if p.paused { // fetching stays paused for new partitions too
			if err := p.cons.Pause(offsets); err != nil {
				p.log.Warn("cannot pause newly assigned partitions", "error", err)
			}
		}
		return nil
	case kafka.RevokedPartitions:
		parts := make([]tp, 0, len(e.Partitions))
		for _, kp := range e.Partitions {
			parts = append(parts, tp{*kp.Topic, kp.Partition})
		}
		p.revoke(parts, p.cons.AssignmentLost())
		p.log.Info("partitions revoked", "partitions", describe(e.Partitions))
		return p.cons.Unassign(e.Partitions)
	}
	return nil
}

// assign reads every table fed by the partitions and returns where to start each: the
// smallest position over its tables. Each committer is held while its workers learn
// the positions, so nothing it had sealed before commits after them.
func (p *poller) assign(parts []tp) ([]kafka.TopicPartition, error) {
	start := map[tp]int64{}
	set := map[tp]bool{}
	for _, part := range parts {
		set[part] = true
	}
	for _, t := range p.conn.tables {
		mine := t.mine(parts)
		if len(mine) == 0 {
			continue
		}
		pos, release, err := t.positions(p.ctx, mine)
		if err != nil {
			return nil, err
		}
		for _, part := range mine {
			if pos[part].prev == noTxn && pos[part].next == fromStart && t.cfg.Start.Policy == StartLatest {
				_, high, err := p.cons.Watermarks(part.topic, part.partition, false)
				if err != nil {
					release()
					return nil, fmt.Errorf("kafka: watermarks of %s: %w", part, err)
				}
				pos[part] = position{next: high, prev: noTxn}
			}
		}
		p.sendToWorkers(t, itemAssign, pos)
		release()
		for _, part := range mine {
			n := pos[part].next
			switch cur, seen := start[part]; {
			case !seen:
				start[part] = n
			case cur == fromStart || n == fromStart:
				start[part] = fromStart // some table starts from the beginning
			case n < cur:
				start[part] = n
			}
		}
	}
	var out []kafka.TopicPartition
	for _, part := range parts {
		s, ok := start[part]
		if !ok {
			s = fromStart
		}
		out = append(out, topicPartition(part, s))
		p.parts[part] = &pollPart{dispatched: max(s, 0), start: s, lastBelow: -1, eof: -1}
	}
	for _, t := range p.conn.tables {
		t.noteAssignment(p.parts)
	}
	return out, nil
}

// sendToWorkers hands each worker of t the positions of its partitions (every worker
// gets an item for a discard, so that each drops its batch).
func (p *poller) sendToWorkers(t *ingestTable, kind itemKind, pos map[tp]position) {
	byWorker := map[*worker]map[tp]position{}
	if kind == itemDiscard {
		for _, w := range t.workers {
			byWorker[w] = map[tp]position{}
		}
	}
	for part, ps := range pos {
		w := t.workerFor(part)
		if byWorker[w] == nil {
			byWorker[w] = map[tp]position{}
		}
		byWorker[w][part] = ps
	}
	for _, w := range t.workers { // in worker order: the same run for the same input
		if ps, ok := byWorker[w]; ok {
			select {
			case w.in <- workItem{kind: kind, parts: ps}:
			case <-p.hard.Done():
				return
			}
		}
	}
}

func topicPartition(part tp, next int64) kafka.TopicPartition {
	topic := part.topic
	off := kafka.OffsetBeginning
	if next >= 0 {
		off = kafka.Offset(next)
	}
	return kafka.TopicPartition{Topic: &topic, Partition: part.partition, Offset: off}
}

// revoke commits what is buffered (within a deadline) before the partitions go; if
// the assignment was lost, or the commit cannot be made in time, the buffers are
// dropped instead: the new owner reads those rows again from the table's txn.
func (p *poller) revoke(parts []tp, lost bool) {
	switch {
	case p.closing: // the final flush ran already
	case lost:
		p.log.Warn("partitions lost (session timed out); dropping buffered rows", "partitions", len(parts))
		p.discardAll()
	default:
		fctx, cancel := context.WithTimeout(p.hard, min(time.Duration(p.conn.cfg.ShutdownTimeout), 30*time.Second))
		err := p.conn.flushAll(fctx)
		cancel()
		if err != nil {
			p.log.Error("commit before revocation failed; the rows will be read again by the new owner", "error", err)
			p.discardAll()
		}
	}
	for _, part := range parts {
		delete(p.parts, part)
	}
	for _, t := range p.conn.tables {
		if mine := t.mine(parts); len(mine) > 0 {
			t.forget(p.hard, mine)
		}
		t.noteAssignment(p.parts)
	}
}

// discardAll drops every buffer and re-seeks every assigned partition from the tables.
func (p *poller) discardAll() {
	for _, t := range p.conn.tables {
		if err := p.reseek(p.ctx, t); err != nil {
			p.conn.fail(err)
		}
	}
}

// reseek drops a table's batch and moves its partitions back to what the table
// records; other tables skip what they already have. The committer is held from the
// read of the positions until the workers have them.
func (p *poller) reseek(ctx context.Context, t *ingestTable) error {
	parts := t.mine(slices.Collect(maps.Keys(p.parts)))
	sort.Slice(parts, func(i, j int) bool { return parts[i].String() < parts[j].String() })
	pos, release, err := t.positions(ctx, parts)
	if err != nil {
		if ctx.Err() != nil || p.hard.Err() != nil {
			return nil // stopping: the next run reads the positions
		}
		return err
	}
	defer release()
	for _, part := range parts {
		if pos[part].prev == noTxn && pos[part].next == fromStart {
			pos[part] = position{next: p.parts[part].start, prev: noTxn} // where the start policy put it
		}
	}
	p.sendToWorkers(t, itemDiscard, pos)
	for _, part := range parts {
		pp := p.parts[part]
		n := pos[part].next
		if n >= pp.dispatched && n >= 0 {
			continue // the table is ahead of what was dispatched: its worker skips up to it
		}
		if err := p.cons.Seek(topicPartition(part, n)); err != nil {
			p.log.Warn("seek failed; the partition was probably revoked", "partition", part.String(), "error", err)
			continue
		}
		pp.dispatched, pp.eof = max(n, 0), -1
	}
	return nil
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
