package connector

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// catchUp is what UntilCaughtUp waits for: every partition of the subscribed topics,
// whoever owns it, covered by the tables' txns up to its high watermark at start.
type catchUp struct {
	high, low   map[tp]int64
	lastRefresh time.Time // foreign partitions' txns last read from the tables
	lastFlush   time.Time
	lastReport  time.Time
}

// readWatermarks records the watermarks of every partition of the subscribed topics.
func (p *poller) readWatermarks() error {
	all, err := p.cons.Topics()
	if err != nil {
		return err
	}
	for _, t := range p.conn.cfg.Tables {
		for _, name := range t.Topics {
			if len(all[name]) == 0 {
				return fmt.Errorf("kafka: topic %s (table %s) does not exist", name, t.Name)
			}
		}
	}
	cu := &catchUp{high: map[tp]int64{}, low: map[tp]int64{}}
	for name, parts := range all {
		if !p.topics.has(name) {
			continue
		}
		for _, id := range parts {
			low, high, err := p.cons.Watermarks(name, id, false)
			if err != nil {
				return fmt.Errorf("kafka: watermarks of %s[%d]: %w", name, id, err)
			}
			cu.high[tp{name, id}], cu.low[tp{name, id}] = high, low
		}
	}
	p.caught = cu
	return nil
}

// caughtUp reports whether the tables cover every partition up to its start-time high
// watermark. A partition this instance owns is covered once the consumer reached the
// watermark and everything dispatched below it is committed (it flushes to get there);
// one another member owns is covered once the tables' txns reach the watermark, read
// from the tables every few seconds. Until then it names what it waits for.
func (p *poller) caughtUp(ctx context.Context, now time.Time) bool {
	cu := p.caught
	for _, t := range p.conn.tables {
		if t.waiting.Load() > 0 {
			return false
		}
	}
	var reading, committing, foreign []tp
	for part, hw := range cu.high {
		if hw <= cu.low[part] {
			continue // nothing retained below the watermark
		}
		tables := p.tablesFor(part.topic)
		if pp := p.parts[part]; pp != nil {
			switch {
			case pp.eof < hw && pp.dispatched < hw:
				reading = append(reading, part)
			case pp.lastBelow >= 0 && !p.txnsReach(tables, part, pp.lastBelow):
				committing = append(committing, part)
			}
			continue
		}
		for _, t := range tables {
			if !p.foreignCovered(t, part, hw) {
				foreign = append(foreign, part)
				break
			}
		}
	}
	if len(reading)+len(committing)+len(foreign) == 0 {
		return true
	}
	if len(committing) > 0 && now.Sub(cu.lastFlush) >= time.Second {
		for _, t := range p.conn.tables {
			t.forceFlush()
		}
		cu.lastFlush = now
	}
	if len(reading)+len(committing) == 0 && now.Sub(cu.lastRefresh) >= 2*time.Second {
		p.refreshForeign(ctx, foreign)
		cu.lastRefresh = now
	}
	if now.Sub(cu.lastReport) >= 10*time.Second {
		if !cu.lastReport.IsZero() {
			p.log.Info("catching up", "reading", names(reading), "committing", names(committing), "held_by_other_members", names(foreign))
		}
		cu.lastReport = now
	}
	return false
}

func (p *poller) txnsReach(tables []*ingestTable, part tp, offset int64) bool {
	for _, t := range tables {
		if v, ok := t.book.get(part); !ok || v == noTxn || v < offset {
			return false
		}
	}
	return true
}

// foreignCovered reports whether table t covers a partition it does not own here up to
// the high watermark hw, by its txn as last read.
func (p *poller) foreignCovered(t *ingestTable, part tp, hw int64) bool {
	v, ok := t.book.get(part)
	switch {
	case !ok:
		return false
	case v != noTxn:
		return v >= hw-1
	case t.cfg.Start.Policy == StartLatest:
		return true // nothing before the owner's start is to be ingested
	default:
		off, explicit := t.cfg.Start.Offsets[part.topic][part.partition]
		return explicit && t.cfg.Start.Policy == StartOffsets && off >= hw
	}
}

// refreshForeign reads the tables' txns of partitions other members own.
func (p *poller) refreshForeign(ctx context.Context, parts []tp) {
	for _, t := range p.conn.tables {
		mine := t.mine(parts)
		if len(mine) == 0 {
			continue
		}
		snap, err := t.tbl.Snapshot(ctx)
		if err != nil {
			p.log.Warn("cannot read the table to check other members' progress; retrying", "table", t.cfg.Name, "error", err)
			continue
		}
		t.book.observe(snap, mine)
	}
}

func names(parts []tp) []string {
	out := make([]string, 0, len(parts))
	for _, part := range parts {
		out = append(out, part.String())
	}
	sort.Strings(out)
	return out
}
