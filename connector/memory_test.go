package connector

import (
	"io"
	"log/slog"
	"testing"
)

// TestMemoryPauseFlushesUntilResumed: past the memory budget fetching pauses and the
// largest buffer is flushed; while still at or above three quarters of the budget (where
// fetching resumes) the next largest are flushed too, one per check, instead of waiting
// for their max_latency with fetching paused. Tables with nothing buffered are not
// flushed.
func TestMemoryPauseFlushesUntilResumed(t *testing.T) {
	const budget = 1000
	c := &Connector{cfg: &Config{MemoryBudget: budget}, metrics: newMetrics()}
	for _, b := range []int64{300, 260, 240, 0} {
		tbl := &ingestTable{cfg: &TableConfig{}, force: make(chan struct{}, 1)}
		tbl.bytes.Store(b)
		c.tables = append(c.tables, tbl)
	}
	c.buffered.Store(800)
	c.reused.Store(250) // kept for reuse: counted, and no flush frees it
	p := &poller{conn: c, cons: newSimConsumer(newSimBroker("t", 1)), log: slog.New(slog.NewTextHandler(io.Discard, nil)), parts: map[tp]*pollPart{}}
	forced := func(i int) bool {
		select {
		case <-c.tables[i].force:
			return true
		default:
			return false
		}
	}
	// flushed simulates table i's committer sealing its buffer.
	flushed := func(i int) {
		c.buffered.Add(-c.tables[i].bytes.Load())
		c.tables[i].bytes.Store(0)
	}

	p.checkMemory() // 1050 > 1000
	if !p.paused || !forced(0) {
		t.Fatalf("past the budget: paused %v, the largest table flushed %v", p.paused, forced(0))
	}
	flushed(0) // 750: not below three quarters yet
	p.checkMemory()
	if !p.paused || !forced(1) {
		t.Fatalf("at three quarters of the budget: paused %v, the next largest flushed %v (want both)", p.paused, forced(1))
	}
	flushed(1) // 490
	p.checkMemory()
	if p.paused || forced(2) {
		t.Fatalf("below three quarters: paused %v, a third table flushed %v (want neither)", p.paused, forced(2))
	}
	for i := range c.tables {
		if forced(i) {
			t.Fatalf("table %d flushed again", i)
		}
	}
	if forced(3) {
		t.Fatal("an empty table was flushed")
	}
}
