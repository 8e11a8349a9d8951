package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/optimize"
	"github.com/sluicelake/sluice/schema/registrytest"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// The simulation drives two connector instances in one consumer group through random
// schedules of produces, deliveries, flushes, rebalances (cooperative and lost
// assignments, so zombies), storage faults (failed puts and puts whose response is
// lost), foreign commits (a schema change, a file rewrite, a DELETE that writes a
// deletion vector), log cleanup by checkpoints,
// schema evolution from messages, and crashes with restart. One seed in three reads
// its messages through a schema registry (format json_schema), whose outages the
// schedule injects as well. One in four writes to a table with column mapping (name
// or id mode): files by physical names, new columns with fresh ones. After every step
// it checks the table: per partition, exactly the messages up to its txn, no gap, no
// duplicate, and txns never move back. At the end it heals everything and checks that
// every message got in, and that nothing is left counted against the memory budget.
// One seed in seven opens its table from a table template. One in six has a memory
// budget of 1 KiB: fetching pauses and buffers are flushed by the budget between steps.
//
//	make sim SEEDS=10000                                         (go test ./connector -run TestSimulation -sim.seeds 10000)
//	go test ./connector -run TestSimulation -sim.seed 1234 -v     (replay one seed)
var (
	simSeeds = flag.Int("sim.seeds", envInt("SIM_SEEDS", 150), "simulation: how many seeds to run (env SIM_SEEDS)")
	simSeed  = flag.Uint64("sim.seed", 0, "simulation: run only this seed")
	simSteps = flag.Int("sim.steps", 60, "simulation: steps per seed")
	simFirst = flag.Uint64("sim.first", uint64(envInt("SIM_FIRST", 1)), "simulation: first seed (env SIM_FIRST)")
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func TestSimulation(t *testing.T) {
	if *simSeed != 0 {
		runSimSeed(t, *simSeed, *simSteps, true)
		return
	}
	start := time.Now()
	for seed := *simFirst; seed < *simFirst+uint64(*simSeeds); seed++ {
		if !runSimSeed(t, seed, *simSteps, false) {
			return
		}
	}
	t.Logf("%d seeds of %d steps in %s", *simSeeds, *simSteps, time.Since(start).Round(time.Millisecond))
}

const (
	simPartitions = 3
	simTopic      = "events"
)

const simYAML = `
name: sim
kafka: {bootstrap_servers: "sim:9092"}
shutdown_timeout: 200ms
memory_budget: 1GiB
decoders: 2
tables:
  - name: events
    topics: [events]
    location: /sim/events
    schema: [{name: id, type: long}]
    json: {unknown_fields: evolve}
    evolution: add_columns
    kafka_columns: [partition, offset]
    flush: {max_rows: 100000000, max_latency: 24h}
`

func simConfig(t testing.TB, yaml string) *Config {
	cfg, err := ParseConfig("sim.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// faultStore injects storage faults into one instance's view of the table's store.
type faultStore struct {
	storage.Storage
	mu       sync.Mutex
	failPuts int  // the next puts fail before writing
	losePuts int  // the next puts write, then report a failure (a lost response)
	dead     bool // the process is gone: nothing reaches the store
}

var errInjected = errors.New("injected storage fault")

func (f *faultStore) put(write func() error) error {
	f.mu.Lock()
	switch {
	case f.dead:
		f.mu.Unlock()
		return errInjected
	case f.failPuts > 0:
		f.failPuts--
		f.mu.Unlock()
		return errInjected
	case f.losePuts > 0:
		f.losePuts--
		f.mu.Unlock()
		if err := write(); err != nil {
			return err
		}
		return errInjected
	}
	f.mu.Unlock()
	return write()
}

func (f *faultStore) isDead() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dead
}

func (f *faultStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	return f.put(func() error { return f.Storage.Put(ctx, key, r, size) })
}

func (f *faultStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	return f.put(func() error { return f.Storage.PutIfAbsent(ctx, key, data) })
}

func (f *faultStore) Get(ctx context.Context, key string) ([]byte, error) {
	if f.isDead() {
		return nil, errInjected
	}
	return f.Storage.Get(ctx, key)
}

func (f *faultStore) List(ctx context.Context, prefix, startAfter string) iter.Seq2[storage.ObjectInfo, error] {
	if f.isDead() {
		return func(yield func(storage.ObjectInfo, error) bool) { yield(storage.ObjectInfo{}, errInjected) }
	}
	return f.Storage.List(ctx, prefix, startAfter)
}

func (f *faultStore) Delete(ctx context.Context, key string) error {
	if f.isDead() {
		return errInjected
	}
	return f.Storage.Delete(ctx, key)
}

// simNode is one connector instance.
type simNode struct {
	id     int
	c      *Connector
	cons   *simConsumer
	store  *faultStore
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	alive  bool
}

// sim is one seed's world.
type sim struct {
	t       testing.TB
	rng     *rand.Rand
	seed    uint64
	broker  *simBroker
	mem     *storage.Memory
	nodes   []*simNode
	owner   map[int32]int         // partition → node that the group gave it to, -1 for none
	zombies map[int32]int         // partition → node that lost it but was not told yet
	txns    map[int32]int64       // last txn seen per partition
	rows    map[string][][2]int64 // data file → (partition, offset) rows
	deleted map[[2]int64]bool     // (partition, offset) rows a foreign DELETE removed
	fields  int                   // new JSON fields produced so far
	foreign int                   // foreign schema changes so far
	trace   []string
	logs    *ringLog
	ctx     context.Context
	cfg     string  // the connectors' configuration
	opts    Options // the connectors' options (the logger is the sim's)
	reg     *registrytest.Server
	ids     []int // registry mode: ids[k] is the schema with fields f1…fk
	// tableConf are table properties createTable sets besides its own.
	tableConf map[string]string
	// autoOptimize runs the nodes' auto-optimize every few milliseconds, at 2 small
	// files, so that the maintenance owner compacts while the nodes ingest.
	autoOptimize bool
	// smallBudget sets memory_budget to a few KiB, so that fetching pauses and buffers
	// are flushed by the budget (checkMemory) between the other steps.
	smallBudget bool
	// cdc is the change stream of an upsert table (sim_upsert_test.go): "" for an
	// append table, else the envelope the messages use (none, debezium).
	cdc string
}

func newSim(t testing.TB, seed uint64, cfg string) *sim {
	return &sim{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), broker: newSimBroker(simTopic, simPartitions),
		mem: storage.NewMemory(fmt.Sprintf("sim-%d", seed)), owner: map[int32]int{}, zombies: map[int32]int{}, txns: map[int32]int64{},
		rows: map[string][][2]int64{}, deleted: map[[2]int64]bool{}, logs: &ringLog{max: 300}, ctx: context.Background(), cfg: cfg}
}

func runSimSeed(t *testing.T, seed uint64, steps int, verbose bool) bool {
	cfg := simYAML
	if seed%7 == 3 { // the table from a template: {topic} in name and location
		cfg = strings.Replace(strings.Replace(cfg, "  - name: events\n", "  - name: \"{topic}\"\n", 1), "location: /sim/events", "location: /sim/{topic}", 1)
	}
	if seed%11 == 5 { // flushes by the latency timer too (paced by FlushPacer when commits lose races), raced against the schedule's
		cfg = strings.Replace(cfg, "max_latency: 24h", "max_latency: 1ms, max_stretch: 8", 1)
	}
	return runSim(t, newSim(t, seed, cfg), steps, verbose)
}

// runSim runs one seed's schedule on s.
func runSim(t *testing.T, s *sim, steps int, verbose bool) bool {
	seed := s.seed
	if seed%3 == 0 && s.cdc != "debezium" {
		s.withRegistry()
	}
	if seed%4 == 1 {
		s.tableConf = map[string]string{"delta.columnMapping.mode": [...]string{"name", "id"}[seed/4%2]}
	}
	s.autoOptimize = seed%5 == 2
	s.smallBudget = seed%6 == 3
	ok := true
	defer func() {
		s.shutdown()
		if r := recover(); r != nil || !ok {
			if r != nil {
				t.Errorf("seed %d: %v", seed, r)
			}
			t.Logf("seed %d failed; replay with: go test ./connector -run %s -sim.seed %d -sim.steps %d -v\nsteps:\n  %s\nlast connector logs:\n%s\nthe log:\n%s",
				seed, "^"+t.Name()+"$", seed, steps, strings.Join(s.trace, "\n  "), s.logs.String(), s.describeLog())
			ok = false
		}
	}()
	s.createTable()
	for i := range 2 {
		s.nodes = append(s.nodes, s.startNode(i))
	}
	for p := range int32(simPartitions) {
		s.owner[p] = -1
		s.assign(p, s.rng.IntN(2))
	}
	for step := 0; step < steps; step++ {
		s.step()
		if err := s.check(); err != nil {
			t.Errorf("seed %d, step %d (%s): %v", seed, step, s.trace[len(s.trace)-1], err)
			ok = false
			return false
		}
	}
	if err := s.drain(); err != nil {
		t.Errorf("seed %d, final drain: %v", seed, err)
		ok = false
		return false
	}
	if verbose {
		var names []string
		for _, tbl := range s.nodes[0].c.tables {
			names = append(names, tbl.cfg.Name)
		}
		t.Logf("tables: %v", names)
		t.Logf("steps:\n  %s", strings.Join(s.trace, "\n  "))
		if h, err := table.History(s.ctx, s.mem, 0); err == nil {
			ops := map[string]int{}
			for _, e := range h {
				if e.CommitInfo != nil {
					ops[e.CommitInfo.Operation]++
				}
			}
			t.Logf("commits by operation: %v", ops)
		}
	}
	return true
}

func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, fmt.Sprintf(format, args...))
}

// withRegistry has the connectors read the schema-registry wire format (json_schema):
// each new field registers a new schema version, and the registry can fail.
func (s *sim) withRegistry() {
	s.reg = registrytest.NewServer()
	s.cfg = strings.NewReplacer("schema: [{name: id, type: long}]\n", "format: json_schema\n",
		"kafka: {", "schema_registry: {url: "+s.reg.URL()+"}\nkafka: {").Replace(s.cfg)
	s.registerFields()
}

// registerFields registers the schema with fields f1…f(s.fields).
func (s *sim) registerFields() {
	props := []string{`"id":{"type":"integer"}`}
	for i := 1; i <= s.fields; i++ {
		props = append(props, fmt.Sprintf(`"f%d":{"type":"string"}`, i))
	}
	id, err := s.reg.Register(simTopic+"-value", registrytest.TypeJSON,
		`{"type":"object","properties":{`+strings.Join(props, ",")+`},"required":["id"]}`)
	if err != nil {
		panic(err)
	}
	s.ids = append(s.ids, id)
}

// message is the value of a message at offset off, carrying extra fields.
func (s *sim) message(off int64, fields string) []byte {
	if s.reg == nil {
		return fmt.Appendf(nil, `{"id":%d%s}`, off, fields)
	}
	id := s.ids[len(s.ids)-1]
	return fmt.Appendf([]byte{0, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}, `{"id":%d%s}`, off, fields)
}

// createTable writes version 0 with a short checkpoint interval and no log retention,
// so that checkpoints and log cleanup by one instance run under the other's feet.
func (s *sim) createTable() {
	cfg := s.cfg
	if s.reg != nil {
		cfg = simYAML // the columns the registry's first schema maps to
	}
	full, err := simConfig(s.t, cfg).Tables[0].tableSchema()
	if err != nil {
		s.t.Fatal(err)
	}
	conf := map[string]string{"delta.checkpointInterval": "4", "delta.logRetentionDuration": "interval 0 seconds"}
	maps.Copy(conf, s.tableConf)
	_, err = table.New(s.mem).Create(s.ctx, table.CreateOptions{Name: "events", Schema: full, Configuration: conf})
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *sim) startNode(id int) *simNode {
	n := &simNode{id: id, store: &faultStore{Storage: s.mem}, done: make(chan struct{}), alive: true}
	opts := s.opts
	opts.Logger = slog.New(slog.NewTextHandler(s.logs.prefixed(fmt.Sprintf("node%d ", id)), &slog.HandlerOptions{Level: slog.LevelInfo}))
	cfg := simConfig(s.t, s.cfg)
	if s.autoOptimize {
		o := &cfg.Tables[0].Maintenance.Optimize
		o.Interval, o.MinFiles, o.MaxReadRate = Duration(5*time.Millisecond), 2, 1<<40
	}
	if s.smallBudget {
		cfg.MemoryBudget = 1 << 10
	}
	n.c = newConnector(cfg, opts)
	n.c.openStore = func(context.Context, string) (storage.Storage, error) { return n.store, nil }
	n.c.retryBase = time.Millisecond
	if err := n.c.open(s.ctx); err != nil {
		s.t.Fatalf("node %d: open: %v", id, err)
	}
	n.cons = newSimConsumer(s.broker)
	ctx, cancel := context.WithCancel(s.ctx)
	n.cancel = cancel
	go func() {
		defer close(n.done)
		_, n.err = n.c.run(ctx, n.cons)
	}()
	select {
	case <-n.cons.ready:
	case <-n.done:
		s.t.Fatalf("node %d stopped at start: %v", id, n.err)
	}
	return n
}

// do has node n's Poll run cmd and waits until the loop is back in Poll, and until
// its workers and committer have settled.
func (s *sim) do(n *simNode, cmd simCmd) {
	s.doRaw(n, cmd)
	s.quiesce(n)
}

// doRaw is do without waiting for the workers and the committer.
func (s *sim) doRaw(n *simNode, cmd simCmd) {
	select {
	case n.cons.cmds <- cmd:
	case <-n.done:
		panic(fmt.Sprintf("node %d stopped: %v", n.id, n.err))
	}
	select {
	case <-n.cons.ready:
	case <-n.done:
		panic(fmt.Sprintf("node %d stopped: %v", n.id, n.err))
	}
}

// quiesce waits until node n's workers and committer have handled everything sent to
// them, schema changes included, so that the next step starts from a settled state.
func (s *sim) quiesce(n *simNode) {
	for _, t := range n.c.tables {
		for range 10 {
			for _, w := range t.workers {
				done := make(chan struct{})
				select {
				case w.in <- workItem{kind: itemSync, done: done}:
				case <-n.done:
					return
				}
				select {
				case <-done:
				case <-n.done:
					return
				}
			}
			ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
			_, release, err := t.positions(ctx, nil)
			cancel()
			if err != nil {
				if n.store.isDead() {
					return
				}
				panic(fmt.Sprintf("node %d: committer barrier: %v", n.id, err))
			}
			release()
			settled := len(t.evolveCh) == 0
			for _, w := range t.workers {
				settled = settled && len(w.in) == 0
			}
			if settled {
				break
			}
		}
	}
}

func (s *sim) assign(p int32, node int) {
	n := s.nodes[node]
	topic := simTopic
	s.do(n, simCmd{event: kafka.AssignedPartitions{Partitions: []kafka.TopicPartition{{Topic: &topic, Partition: p}}}})
	s.owner[p] = node
}

func (s *sim) revoke(p int32, node int, lost bool) {
	n := s.nodes[node]
	topic := simTopic
	s.do(n, simCmd{event: kafka.RevokedPartitions{Partitions: []kafka.TopicPartition{{Topic: &topic, Partition: p}}}, lost: lost})
}

func (s *sim) step() {
	r := s.rng.IntN(100)
	node := s.rng.IntN(len(s.nodes))
	n := s.nodes[node]
	switch {
	case r < 22:
		p := s.rng.IntN(simPartitions)
		k := 1 + s.rng.IntN(12)
		for range k {
			gap := int64(0)
			if s.rng.IntN(10) == 0 {
				gap = 1 + s.rng.Int64N(3) // compaction or transaction markers
			}
			field := ""
			if s.rng.IntN(40) == 0 && s.fields < 6 {
				s.fields++
				if s.reg != nil {
					s.registerFields()
				}
			}
			if s.fields > 0 && s.rng.IntN(3) == 0 {
				field = fmt.Sprintf(`,"f%d":"x"`, 1+s.rng.IntN(s.fields))
			}
			if s.cdc != "" {
				s.produceChange(p, gap, field)
				continue
			}
			s.broker.produce(p, gap, func(off int64) []byte { return s.message(off, field) })
		}
		s.logf("produce %d to partition %d", k, p)
	case r < 48:
		k := 1 + s.rng.IntN(25)
		s.logf("node %d: deliver %d", node, k)
		for range k {
			s.do(n, simCmd{deliver: true})
		}
	case r < 52:
		s.logf("node %d: idle", node)
		s.do(n, simCmd{})
	case r < 68:
		s.logf("node %d: flush", node)
		s.flush(n)
	case r < 76:
		p := int32(s.rng.IntN(simPartitions))
		if _, z := s.zombies[p]; z {
			s.logf("noop")
			return
		}
		from, to := s.owner[p], s.rng.IntN(len(s.nodes))
		s.logf("move partition %d: node %d → node %d", p, from, to)
		if from == to {
			return
		}
		if from >= 0 {
			s.revoke(p, from, false)
		}
		s.assign(p, to)
	case r < 80:
		p := int32(s.rng.IntN(simPartitions))
		from := s.owner[p]
		if _, z := s.zombies[p]; z || from < 0 {
			s.logf("noop")
			return
		}
		to := 1 - from
		s.logf("partition %d lost by node %d (not told yet), assigned to node %d", p, from, to)
		s.zombies[p] = from
		s.assign(p, to)
	case r < 84:
		for p, z := range s.zombies {
			s.logf("node %d learns it lost partition %d", z, p)
			s.revoke(p, z, true)
			delete(s.zombies, p)
			break
		}
	case r < 90 && s.reg != nil && s.rng.IntN(3) == 0:
		k := 1 + s.rng.IntN(15)
		s.reg.FailNext(k, 503)
		s.logf("schema registry: the next %d requests fail (503)", k)
	case r < 90:
		n.store.mu.Lock()
		if s.rng.IntN(2) == 0 {
			n.store.failPuts = 1 + s.rng.IntN(3)
			s.logf("node %d: next %d puts fail", node, n.store.failPuts)
		} else {
			n.store.losePuts = 1
			s.logf("node %d: next put's response is lost", node)
		}
		n.store.mu.Unlock()
	case r < 92:
		s.foreignSchemaChange()
	case r < 94:
		s.foreignDelete()
	case r < 95:
		s.foreignRewrite()
	case r < 96:
		s.foreignOptimize()
	case r < 98:
		s.logf("node %d: crash and restart", node)
		s.crash(node)
	default:
		s.logf("node %d: graceful restart", node)
		s.restart(node, false)
	}
}

func (s *sim) flush(n *simNode) {
	s.do(n, simCmd{}) // idle: the poller hands over what it batched
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	for _, t := range n.c.tables {
		if err := t.requestFlush(ctx); err != nil && !errors.Is(err, errBatchRefused) {
			s.logf("  flush: %v", err)
		}
	}
	s.quiesce(n)
}

// crash stops a node as kill -9 would (nothing reaches the store after the crash) and
// starts it again; the group gives its partitions back to it.
func (s *sim) crash(node int) { s.restart(node, true) }

func (s *sim) restart(node int, crash bool) {
	n := s.nodes[node]
	if crash {
		n.store.mu.Lock()
		n.store.dead = true
		n.store.mu.Unlock()
	}
	s.stop(n)
	if n.err != nil && !crash {
		panic(fmt.Sprintf("node %d: graceful stop: %v", node, n.err))
	}
	n.alive = false
	for p, z := range s.zombies {
		if z == node {
			delete(s.zombies, p)
		}
	}
	s.nodes[node] = s.startNode(node)
	for p := range int32(simPartitions) {
		if s.owner[p] == node {
			s.assign(p, node)
		}
	}
}

// foreignSchemaChange is another writer adding a nullable column (Spark's ALTER TABLE
// ADD COLUMNS, which gives it a physical name and id under column mapping).
func (s *sim) foreignSchemaChange() {
	tbl := table.New(s.mem)
	snap, err := tbl.Snapshot(s.ctx)
	if err != nil {
		panic(err)
	}
	s.foreign++
	meta := snap.Metadata()
	schema := snap.Schema()
	schema = &table.StructType{Fields: append(slices.Clone(schema.Fields), &table.StructField{Name: fmt.Sprintf("x%d", s.foreign), Type: table.String, Nullable: true})}
	if snap.ColumnMappingMode() != table.ColumnMappingNone {
		if err := meta.AssignColumnMapping(schema); err != nil {
			panic(err)
		}
	}
	meta.SchemaString = schema.SchemaString()
	_, err = tbl.Commit(s.ctx, &table.Transaction{Operation: "ADD COLUMNS", Metadata: &meta, BaseSchemaString: snap.Metadata().SchemaString})
	s.logf("foreign writer adds column x%d: %v", s.foreign, err)
}

// foreignRewrite is another writer rewriting one data file (OPTIMIZE-like: remove and
// add the same rows under a new name, dataChange false).
func (s *sim) foreignRewrite() {
	snap, err := table.Load(s.ctx, s.mem)
	if err != nil || snap.NumFiles() == 0 {
		s.logf("noop")
		return
	}
	files := snap.Files()
	f := files[s.rng.IntN(len(files))]
	key, _ := table.DecodePath(f.Path)
	data, err := s.mem.Get(s.ctx, key)
	if err != nil {
		panic(err)
	}
	newKey := "rewritten-" + newUUID() + ".parquet"
	if err := s.mem.Put(s.ctx, newKey, bytes.NewReader(data), int64(len(data))); err != nil {
		panic(err)
	}
	add := *f
	add.Path, add.DataChange = newKey, false
	now := time.Now().UnixMilli()
	rm := table.Remove{Path: f.Path, DeletionTimestamp: &now, DataChange: false, DeletionVector: f.DeletionVector}
	err = commitActions(s.ctx, s.mem, snap.Version(), []table.Action{{Remove: &rm}, {Add: &add}})
	s.logf("foreign writer rewrites %s: %v", key, err)
}

// foreignOptimize is `sluice table optimize` (or another instance's auto-optimize)
// compacting every file, deleted rows purged, while the nodes ingest.
func (s *sim) foreignOptimize() {
	res, err := optimize.Run(s.ctx, table.New(s.mem), optimize.Options{MinFileSize: 1 << 40, MinFiles: 2}, nil)
	if err != nil {
		s.logf("foreign optimize: %v", err)
		return
	}
	s.logf("foreign optimize: version %d, %d files into %d, %d rows, %d deleted rows purged, %d bins given up",
		res.Version, res.FilesRemoved, res.FilesAdded, res.Rows, res.RowsPurged, res.BinsDropped)
}

// foreignDelete is another writer deleting a few rows of one data file (Spark's DELETE
// with deletion vectors: the file is removed and added again with a vector).
func (s *sim) foreignDelete() {
	tbl := table.New(s.mem)
	snap, err := tbl.Snapshot(s.ctx)
	if err != nil || snap.NumFiles() == 0 {
		s.logf("noop")
		return
	}
	files := snap.Files()
	f := files[s.rng.IntN(len(files))]
	rows, err := s.fileRows(snap, f)
	if err != nil {
		panic(err)
	}
	if len(rows) == 0 {
		s.logf("noop (a file without rows)")
		return
	}
	var idx []uint64
	for range 1 + s.rng.IntN(3) {
		idx = append(idx, uint64(s.rng.IntN(len(rows))))
	}
	_, err = tbl.DeleteRows(s.ctx, f.Path, idx)
	if err == nil {
		for _, i := range idx {
			s.deleted[rows[i]] = true
		}
	}
	s.logf("foreign writer deletes rows %v of %s: %v", idx, f.Path, err)
}

// fileRows reads (partition, offset) of every row of a data file of snap.
func (s *sim) fileRows(snap *table.Snapshot, f *table.Add) ([][2]int64, error) {
	key, _ := table.DecodePath(f.Path)
	if rows, ok := s.rows[key]; ok {
		return rows, nil
	}
	data, err := s.mem.Get(s.ctx, key)
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", key, err)
	}
	schema := snap.Schema()
	rows, err := readSimRows(data, schema.Field(colKafkaPartition).PhysicalName(), schema.Field(colKafkaOffset).PhysicalName())
	if err != nil {
		return nil, fmt.Errorf("data file %s: %w", key, err)
	}
	s.rows[key] = rows
	return rows, nil
}

// check verifies the table: per partition, exactly the messages up to its txn, less
// the rows foreign DELETEs removed.
func (s *sim) check() error {
	snap, err := table.Load(s.ctx, s.mem)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	got := map[int32][]int64{}
	for _, f := range snap.Files() {
		rows, err := s.fileRows(snap, f)
		if err != nil {
			return err
		}
		deleted, err := table.DeletedRows(s.ctx, s.mem, f)
		if err != nil {
			return err
		}
		for i, r := range rows {
			if deleted == nil || !deleted.Contains(uint64(i)) {
				got[int32(r[0])] = append(got[int32(r[0])], r[1])
			}
		}
	}
	for p := range int32(simPartitions) {
		txn, ok := snap.Txn(fmt.Sprintf("sim:%s:%d", simTopic, p))
		if !ok {
			txn = -1
		}
		if prev, seen := s.txns[p]; seen && txn < prev {
			return fmt.Errorf("partition %d: txn went back from %d to %d", p, prev, txn)
		}
		s.txns[p] = txn
		have := slices.Sorted(slices.Values(got[p]))
		want := s.broker.offsets(p, txn)
		if s.cdc != "" {
			want = s.liveChanges(p, txn)
		}
		want = slices.DeleteFunc(want, func(off int64) bool { return s.deleted[[2]int64{int64(p), off}] })
		if !slices.Equal(have, want) {
			extra, missing := offsetDiff(have, want)
			return fmt.Errorf("partition %d at txn %d (table version %d): rows %s, want %s; extra (duplicated or deleted) %v, missing %v",
				p, txn, snap.Version(), diffOffsets(have), diffOffsets(want), extra, missing)
		}
	}
	return nil
}

// drain heals every fault, gives every partition to node 0 and ingests the rest; the
// table must then hold every message.
func (s *sim) drain() error {
	if s.reg != nil {
		s.reg.FailNext(0, 0)
	}
	for _, n := range s.nodes {
		n.store.mu.Lock()
		n.store.failPuts, n.store.losePuts = 0, 0
		n.store.mu.Unlock()
	}
	for p, z := range s.zombies {
		s.revoke(p, z, true)
		delete(s.zombies, p)
	}
	for p := range int32(simPartitions) {
		if o := s.owner[p]; o != 0 {
			if o > 0 {
				s.revoke(p, o, false)
			}
			s.assign(p, 0)
		}
	}
	n := s.nodes[0]
	for round := 0; round < 50; round++ {
		for range 200 {
			s.do(n, simCmd{deliver: true})
		}
		s.flush(n)
		if err := s.check(); err != nil {
			return err
		}
		complete := true
		for p := range int32(simPartitions) {
			_, high := s.broker.watermarks(p)
			offs := s.broker.offsets(p, high)
			if len(offs) > 0 && s.txns[p] != offs[len(offs)-1] {
				complete = false
			}
		}
		if complete {
			s.logf("drained in %d rounds", round+1)
			return s.checkMemoryCounts(n)
		}
	}
	return fmt.Errorf("not every message reached the table: txns %v, high watermarks %v", s.txns, s.broker.high)
}

// checkMemoryCounts: once everything is committed, no memory is counted as buffered
// (the counts followed every row in and out, through schema changes, revocations and
// failed writes), none below zero as being written (an optimize in the background may
// count its buffer), and what is kept for reuse is within its share.
func (s *sim) checkMemoryCounts(n *simNode) error {
	c := n.c
	if b, f := c.buffered.Load(), c.inflight.Load(); b != 0 || f < 0 {
		return fmt.Errorf("drained, yet %d bytes counted as buffered and %d as being written", b, f)
	}
	if r, most := c.reused.Load(), int64(c.cfg.MemoryBudget)/2; r < 0 || r > most {
		return fmt.Errorf("drained, %d bytes counted as kept for reuse, want 0 to %d", r, most)
	}
	return nil
}

// stop cancels a node's run from inside its Poll and answers its polls until it has
// stopped (the loop may poll again before it sees the cancellation).
func (s *sim) stop(n *simNode) {
	cmd := simCmd{stop: n.cancel}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case n.cons.cmds <- cmd:
			cmd = simCmd{}
		case <-n.cons.ready:
		case <-n.done:
			return
		case <-timeout:
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			panic(fmt.Sprintf("node %d does not stop; goroutines:\n%s", n.id, buf))
		}
	}
}

func (s *sim) shutdown() {
	for _, n := range s.nodes {
		if !n.alive {
			continue
		}
		s.stop(n)
		n.alive = false
	}
	if s.reg != nil {
		s.reg.Close()
	}
}

// readSimRows reads (partition, offset) of every row of a data file, from its columns
// partCol and offCol (the Kafka columns' names in the files: physical names under
// column mapping).
func readSimRows(data []byte, partCol, offCol string) ([][2]int64, error) {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	pc, ok := f.Schema().Lookup(partCol)
	oc, ok2 := f.Schema().Lookup(offCol)
	if !ok || !ok2 {
		return nil, fmt.Errorf("no column %s or %s", partCol, offCol)
	}
	var out [][2]int64
	buf := make([]parquet.Row, 128)
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				var r [2]int64
				for _, v := range row {
					switch v.Column() {
					case pc.ColumnIndex:
						r[0] = int64(v.Int32())
					case oc.ColumnIndex:
						r[1] = v.Int64()
					}
				}
				out = append(out, r)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rows.Close()
				return nil, err
			}
		}
		rows.Close()
	}
	return out, nil
}

// describeLog lists the commits still in the table's log: each one's txns, and the
// (partition, first–last offset) of the rows of each file it adds.
func (s *sim) describeLog() string {
	var b strings.Builder
	snap, err := table.Load(s.ctx, s.mem)
	if err != nil {
		return err.Error()
	}
	for v := int64(0); ; v++ {
		data, err := s.mem.Get(s.ctx, table.CommitKey(v))
		if errors.Is(err, storage.ErrNotFound) {
			if v > 1000 {
				break
			}
			continue
		}
		if err != nil {
			break
		}
		fmt.Fprintf(&b, "  version %d:", v)
		for line := range strings.Lines(string(data)) {
			var a table.Action
			if json.Unmarshal([]byte(line), &a) != nil {
				continue
			}
			switch {
			case a.Txn != nil:
				fmt.Fprintf(&b, " txn %s=%d", a.Txn.AppID, a.Txn.Version)
			case a.Add != nil:
				rows, _ := s.fileRows(snap, a.Add)
				spans := map[int64][2]int64{}
				for _, r := range rows {
					sp, ok := spans[r[0]]
					if !ok {
						sp = [2]int64{r[1], r[1]}
					}
					spans[r[0]] = [2]int64{min(sp[0], r[1]), max(sp[1], r[1])}
				}
				fmt.Fprintf(&b, " add(dv=%v %v)", a.Add.DeletionVector != nil, spans)
			case a.Remove != nil:
				fmt.Fprintf(&b, " remove")
			case a.MetaData != nil:
				fmt.Fprintf(&b, " metaData")
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// offsetDiff is what have holds beyond want (a duplicate counts once for each extra
// copy) and what want holds that have lacks; both sorted.
func offsetDiff(have, want []int64) (extra, missing []int64) {
	count := map[int64]int{}
	for _, o := range want {
		count[o]++
	}
	for _, o := range have {
		if count[o] > 0 {
			count[o]--
		} else {
			extra = append(extra, o)
		}
	}
	for _, o := range want {
		if count[o] > 0 {
			missing = append(missing, o)
			count[o]--
		}
	}
	return extra, missing
}

func diffOffsets(offs []int64) string {
	if len(offs) > 20 {
		return fmt.Sprintf("%d offsets %v … %v", len(offs), offs[:10], offs[len(offs)-10:])
	}
	return fmt.Sprint(offs)
}

// commitActions writes a foreign commit after version, as another writer would.
func commitActions(ctx context.Context, store storage.Storage, version int64, actions []table.Action) error {
	var buf bytes.Buffer
	now := time.Now().UnixMilli()
	ci := table.Action{CommitInfo: &table.CommitInfo{Timestamp: now, Operation: "OPTIMIZE"}}
	for _, a := range append([]table.Action{ci}, actions...) {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return store.PutIfAbsent(ctx, table.CommitKey(version+1), buf.Bytes())
}

// ringLog keeps the last lines the connectors logged, printed when a seed fails.
type ringLog struct {
	mu    sync.Mutex
	max   int
	lines []string
}

type prefixWriter struct {
	r      *ringLog
	prefix string
}

func (r *ringLog) prefixed(prefix string) io.Writer { return &prefixWriter{r, prefix} }

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.r.mu.Lock()
	defer w.r.mu.Unlock()
	w.r.lines = append(w.r.lines, w.prefix+strings.TrimRight(string(b), "\n"))
	if len(w.r.lines) > w.r.max {
		w.r.lines = w.r.lines[len(w.r.lines)-w.r.max:]
	}
	return len(b), nil
}

func (r *ringLog) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}
