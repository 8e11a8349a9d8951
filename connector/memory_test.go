package connector

import (
	"io"
	"log/slog"
	"testing"

	"github.com/sluicelake/sluice/table"
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

// TestCarriedRowsCounted: rows a worker holds when its schema changes (another worker
// or another engine changed it) are carried into the next batch. Until that seal they
// still count against the memory budget and the flush limits, and the batch counts
// them among its rows (sluice_rows_committed_total).
func TestCarriedRowsCounted(t *testing.T) {
	cfg, err := ParseConfig("test.yaml", []byte("name: x\nkafka: {bootstrap_servers: b}\ntables: [{name: t, topics: [a], location: /tmp/t, schema: [{name: id, type: long}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := &Connector{cfg: cfg, metrics: newMetrics()}
	tbl := &ingestTable{conn: c, cfg: &cfg.Tables[0]}
	spec := func(schema string) *schemaSpec {
		s, err := newSchemaSpec(tbl.cfg, table.Metadata{ID: "id", SchemaString: schema, Format: table.Format{Provider: "parquet"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	w := newWorker(tbl)
	if err := w.setSpec(spec(`{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}}]}`)); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		w.buf.SetInt(0, int64(i))
		if err := w.buf.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	w.account()
	mem, bytes := c.buffered.Load(), tbl.bytes.Load()
	if mem <= 0 || tbl.rows.Load() != 100 {
		t.Fatalf("100 rows buffered: %d bytes of memory, %d rows counted", mem, tbl.rows.Load())
	}
	if err := w.setSpec(spec(`{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},{"name":"v","type":"string","nullable":true,"metadata":{}}]}`)); err != nil {
		t.Fatal(err)
	}
	w.account()
	if c.buffered.Load() != mem || tbl.rows.Load() != 100 || tbl.bytes.Load() != bytes {
		t.Fatalf("after the schema change: %d bytes of memory (want %d), %d rows (want 100), %d bytes (want %d) counted",
			c.buffered.Load(), mem, tbl.rows.Load(), tbl.bytes.Load(), bytes)
	}
	b := w.sealBatch()
	if b.rows != 100 || b.bytes != mem {
		t.Fatalf("the batch counts %d rows and %d bytes of memory, want 100 and %d", b.rows, b.bytes, mem)
	}
	if c.buffered.Load() != 0 || tbl.rows.Load() != 0 || tbl.bytes.Load() != 0 {
		t.Fatalf("after the seal still counted: %d bytes of memory, %d rows, %d bytes", c.buffered.Load(), tbl.rows.Load(), tbl.bytes.Load())
	}
	b.release()
}
