package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// tableRT is the runtime of one table: its decoding workers and its committer, the one
// goroutine that writes data files and commits them.
type tableRT struct {
	c       *Connector
	cfg     *TableConfig
	log     *slog.Logger
	pattern *regexp.Regexp
	route   *router
	tbl     *table.Table
	dlq     dlqTarget
	workers []*worker
	m       *tableMetrics

	mu        sync.Mutex
	spec      *schemaSpec  // nil until the table exists
	committed map[tp]int64 // txn version in the table per partition, -1 for none

	rows     atomic.Int64
	bytes    atomic.Int64
	oldest   atomic.Int64 // unix nanos of the oldest buffered row, 0 when none
	kick     chan struct{}
	force    chan struct{}
	waiting  atomic.Int64 // workers holding messages for a schema change
	flushCh  chan flushReq
	evolveCh chan evolveReq

	rowsCommitted atomic.Int64
	commits       atomic.Int64
	files         atomic.Int64
	bytesOut      atomic.Int64
	version       atomic.Int64
}

type flushReq struct {
	ctx   context.Context
	reply chan error
}

type evolveReq struct {
	worker   *worker
	msg      *kafka.Message
	incoming *table.StructType // nil: derive it from the message's writer schema
}

// openTable opens (or, with a declared schema, creates) the table and starts nothing.
func (c *Connector) openTable(ctx context.Context, cfg *TableConfig) (*tableRT, error) {
	t := &tableRT{c: c, cfg: cfg, log: c.log.With("table", cfg.Name), route: newRouter(cfg), committed: map[tp]int64{},
		kick: make(chan struct{}, 1), force: make(chan struct{}, 1), flushCh: make(chan flushReq), evolveCh: make(chan evolveReq, 64), m: c.metrics.table(cfg.Name)}
	if cfg.TopicPattern != "" {
		t.pattern = regexp.MustCompile(cfg.TopicPattern)
	}
	store, err := storage.OpenWith(ctx, cfg.Location, c.storageOptions())
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
	}
	t.tbl = table.New(store, table.EngineInfo("sluice/"+Version))
	var snap *table.Snapshot
	err = c.retryStartup(ctx, "table "+cfg.Name+" ("+store.URI()+")", func(ctx context.Context) error {
		var err error
		snap, err = t.tbl.Snapshot(ctx)
		if errors.Is(err, table.ErrNotATable) {
			snap = nil
			return nil
		}
		return err
	}, isPermanentTableError)
	if err != nil {
		return nil, err
	}
	var declared *table.StructType
	if len(cfg.Schema) > 0 {
		if declared, err = cfg.TableSchema(); err != nil {
			return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
		}
	}
	switch {
	case snap == nil && declared != nil:
		snap, err = t.create(ctx, declared)
		if err != nil {
			return nil, err
		}
	case snap == nil:
		t.log.Info("the table will be created from the schema of its first message", "location", store.URI())
	case declared != nil:
		if err := checkDeclared(snap, declared, cfg.PartitionBy); err != nil {
			return nil, fmt.Errorf("table %s (%s): %w", cfg.Name, store.URI(), err)
		}
	default:
		if err := checkDeclared(snap, &table.StructType{}, cfg.PartitionBy); err != nil {
			return nil, fmt.Errorf("table %s (%s): %w", cfg.Name, store.URI(), err)
		}
	}
	if snap != nil {
		spec, err := newSchemaSpec(cfg, snap.Metadata())
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
		}
		t.spec = spec
		t.version.Store(snap.Version())
		t.m.version.Set(float64(snap.Version()))
	}
	for range c.cfg.Decoders {
		w := newWorker(t)
		if t.spec != nil {
			if err := w.setSpec(t.spec); err != nil {
				return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
			}
		}
		t.workers = append(t.workers, w)
	}
	if cfg.DLQ != nil {
		if t.dlq, err = c.openDLQ(ctx, cfg); err != nil {
			return nil, fmt.Errorf("table %s: dead-letter target: %w", cfg.Name, err)
		}
	}
	return t, nil
}

// isPermanentTableError says which table errors start-up retries would not fix.
func isPermanentTableError(err error) bool {
	var ue *table.UnsupportedFeatureError
	var ie *table.InvalidTableError
	return errors.As(err, &ue) || errors.As(err, &ie)
}

// create writes version 0 with the full schema (message columns plus derived and Kafka
// columns); another instance creating it first is fine.
func (t *tableRT) create(ctx context.Context, full *table.StructType) (*table.Snapshot, error) {
	snap, err := t.tbl.Create(ctx, table.CreateOptions{Name: t.cfg.Name, Schema: full, PartitionColumns: t.cfg.PartitionBy})
	if errors.Is(err, table.ErrTableExists) {
		snap, err = t.tbl.Snapshot(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: create: %w", t.cfg.Name, err)
	}
	t.log.Info("created table", "location", t.tbl.URI(), "columns", len(full.Fields), "partition_by", t.cfg.PartitionBy)
	return snap, nil
}

// start runs the workers (until their channels close) and the committer (until ctx
// ends); the two wait groups let the caller stop the committer before closing the
// channels it sends to.
func (t *tableRT) start(ctx context.Context, workers, committers *sync.WaitGroup) {
	for _, w := range t.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			w.run(ctx)
		}()
	}
	committers.Add(1)
	go func() {
		defer committers.Done()
		t.run(ctx)
	}()
}

// mine returns the partitions of parts whose topics the table reads.
func (t *tableRT) mine(parts []tp) []tp {
	var out []tp
	for _, p := range parts {
		if t.cfg.matches(p.topic, t.pattern) {
			out = append(out, p)
		}
	}
	return out
}

// workerFor returns the worker a partition's messages go to: by the FNV-1a hash of the
// topic plus the partition number. It runs per message, so it hashes in place.
func (t *tableRT) workerFor(p tp) *worker {
	if len(t.workers) == 1 {
		return t.workers[0]
	}
	h := uint32(2166136261)
	for i := 0; i < len(p.topic); i++ {
		h = (h ^ uint32(p.topic[i])) * 16777619
	}
	return t.workers[(h+uint32(p.partition))%uint32(len(t.workers))]
}

func (t *tableRT) appID(p tp) string {
	return fmt.Sprintf("%s:%s:%d", t.c.cfg.Name, p.topic, p.partition)
}

func (t *tableRT) noteOldest() { t.oldest.CompareAndSwap(0, time.Now().UnixNano()) }

func (t *tableRT) kickFlush() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// forceFlush asks for a flush whatever the limits say (memory budget).
func (t *tableRT) forceFlush() {
	select {
	case t.force <- struct{}{}:
	default:
	}
}

func (t *tableRT) fatal(err error) { t.c.fail(err) }

// run is the committer: it flushes when a limit is reached, when asked, and handles
// schema changes. It is the only goroutine that commits to the table.
func (t *tableRT) run(ctx context.Context) {
	latency := time.Duration(t.cfg.Flush.MaxLatency)
	tick := time.NewTicker(max(min(latency/4, time.Second), 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-t.flushCh:
			req.reply <- t.flush(req.ctx, nil)
		case <-t.kick:
			if t.rows.Load() >= int64(t.cfg.Flush.MaxRows) || t.bytes.Load() >= int64(t.cfg.Flush.MaxBytes) {
				t.flushOrFail(ctx)
			}
		case <-t.force:
			t.flushOrFail(ctx)
		case <-tick.C:
			if o := t.oldest.Load(); o != 0 && time.Since(time.Unix(0, o)) >= latency {
				t.flushOrFail(ctx)
			}
		case req := <-t.evolveCh:
			t.evolve(ctx, req)
		}
	}
}

func (t *tableRT) flushOrFail(ctx context.Context) {
	if err := t.flush(ctx, nil); err != nil && !errors.Is(err, context.Canceled) {
		t.fatal(err)
	}
}

// requestFlush asks the committer to flush now and waits for it.
func (t *tableRT) requestFlush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case t.flushCh <- flushReq{ctx: ctx, reply: reply}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// seal collects every worker's batch. Items are ordered, so each batch holds exactly
// the messages dispatched before the seal.
func (t *tableRT) seal() *batch {
	// Reset the age of the oldest row before the workers seal: a row a worker adds after
	// its seal then starts the clock again. (Reset after, and such a row would wait for
	// the next size limit: max_latency would not hold.)
	t.oldest.Store(0)
	replies := make(chan *batch, len(t.workers))
	for _, w := range t.workers {
		w.in <- workItem{kind: itemSeal, seal: replies}
	}
	out := &batch{ranges: map[tp][2]int64{}}
	for range t.workers {
		b := <-replies
		out.pending = append(out.pending, b.pending...)
		out.dlq = append(out.dlq, b.dlq...)
		out.rows += b.rows
		out.bytes += b.bytes
		for p, r := range b.ranges {
			out.ranges[p] = r
		}
	}
	return out
}

// flush writes everything buffered as one commit: dead letters first, then the data
// files, then the log entry with one txn per partition (and meta, for a schema
// change). Storage errors are retried until ctx ends; a partition another writer owns
// drops the batch and re-seeks; other commit errors are returned.
func (t *tableRT) flush(ctx context.Context, meta *table.Metadata) error {
	t.mu.Lock()
	spec := t.spec
	t.mu.Unlock()
	if spec == nil {
		return nil // nothing can be buffered before the table exists
	}
	start := time.Now()
	b := t.seal()
	if len(b.ranges) == 0 && meta == nil {
		return nil
	}
	t.c.inflight.Add(b.bytes)
	defer t.c.inflight.Add(-b.bytes)
	if len(b.dlq) > 0 {
		if err := t.retry(ctx, "write dead letters", func() error { return t.dlq.write(ctx, b.dlq) }); err != nil {
			return err
		}
		t.m.dlq.Add(float64(len(b.dlq)))
	}
	var adds []table.Add
	var bytesOut int64
	retryUpload := func(op func() error) error { return t.retry(ctx, "write data file", op) }
	for _, p := range b.pending {
		files, err := writeFiles(ctx, t.tbl.Store(), p, t.cfg.WriterConfig().Compression, retryUpload)
		if err != nil {
			return fmt.Errorf("table %s: %w", t.cfg.Name, err)
		}
		for _, a := range files {
			bytesOut += a.Size
		}
		adds = append(adds, files...)
		p.Release()
	}
	tx := &table.Transaction{Adds: adds, SchemaString: spec.meta.SchemaString, Metadata: meta, BaseSchemaString: spec.meta.SchemaString,
		Parameters: map[string]string{"outputMode": "Append", "connector": t.c.cfg.Name}}
	t.mu.Lock()
	for p, r := range b.ranges {
		prev, ok := t.committed[p]
		if !ok {
			prev = -1
		}
		tx.AppTxns = append(tx.AppTxns, table.AppTxn{AppID: t.appID(p), Prev: prev, Version: r[1]})
	}
	t.mu.Unlock()
	var res table.CommitResult
	commitStart := time.Now()
	err := t.retry(ctx, "commit", func() error {
		var err error
		res, err = t.tbl.Commit(ctx, tx)
		return err
	})
	var conflict *table.TxnConflictError
	switch {
	case errors.As(err, &conflict):
		t.m.conflicts.WithLabelValues("partition_owned").Inc()
		t.log.Warn("batch dropped: another writer committed one of its partitions; re-reading positions from the table", "error", err)
		t.c.requestReseek(t)
		return nil
	case err != nil:
		return fmt.Errorf("table %s: %w", t.cfg.Name, err)
	}
	t.m.commitDuration.Observe(time.Since(commitStart).Seconds())
	if res.Attempts > 1 {
		t.m.conflicts.WithLabelValues("lost_race").Add(float64(res.Attempts - 1))
	}
	if res.CheckpointErr != nil {
		t.log.Warn("checkpoint failed (ingestion goes on)", "version", res.Version, "error", res.CheckpointErr)
	}
	t.mu.Lock()
	for p, r := range b.ranges {
		t.committed[p] = r[1]
	}
	t.mu.Unlock()
	t.rowsCommitted.Add(int64(b.rows))
	t.commits.Add(1)
	t.files.Add(int64(len(adds)))
	t.bytesOut.Add(bytesOut)
	t.version.Store(res.Version)
	t.m.rows.Add(float64(b.rows))
	t.m.commits.Inc()
	t.m.version.Set(float64(res.Version))
	t.log.Info("committed", "version", res.Version, "rows", b.rows, "files", len(adds), "bytes", bytesOut,
		"partitions", len(tx.AppTxns), "dead_letters", len(b.dlq), "attempts", res.Attempts, "took", time.Since(start).Round(time.Millisecond))
	t.c.noteCommitted()
	return nil
}

// retry runs op until it succeeds, fails permanently, or ctx ends. Errors about the
// table itself (unsupported feature, changed metadata, owned partitions) are permanent;
// I/O errors are retried with backoff, since storage that goes away usually comes back.
func (t *tableRT) retry(ctx context.Context, what string, op func() error) error {
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || isPermanentCommitError(err) || ctx.Err() != nil {
			return err
		}
		t.m.retries.Inc()
		t.log.Warn(what+" failed; retrying", "attempt", attempt, "delay", delay, "error", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		}
		delay = min(delay*2, 30*time.Second)
	}
}

func isPermanentCommitError(err error) bool {
	var ue *table.UnsupportedFeatureError
	var me *table.MetadataChangedError
	var ie *table.InvalidTableError
	var ce *table.TxnConflictError
	var ev *schema.EvolutionError
	return errors.As(err, &ue) || errors.As(err, &me) || errors.As(err, &ie) || errors.As(err, &ce) || errors.As(err, &ev) ||
		errors.Is(err, errShutdown)
}

// evolve answers a worker's schema request: create the table from the first message's
// schema, or commit the merged schema, then switch every worker to it.
func (t *tableRT) evolve(ctx context.Context, req evolveReq) {
	incoming := req.incoming
	if incoming == nil {
		var err error
		if incoming, err = t.messageSchema(ctx, req.msg); err != nil {
			req.worker.in <- workItem{kind: itemReschema, err: err}
			return
		}
	}
	for attempt := 0; ; attempt++ {
		spec, err := t.applySchema(ctx, incoming)
		var mc *table.MetadataChangedError
		if errors.As(err, &mc) && attempt < 5 {
			// Another writer changed the schema: start from the table's schema.
			if err := t.reloadSpec(ctx); err != nil {
				t.fatal(err)
				return
			}
			continue
		}
		var ev *schema.EvolutionError
		switch {
		case errors.As(err, &ev):
			req.worker.in <- workItem{kind: itemReschema, err: err}
		case err != nil:
			t.fatal(err)
		default:
			for _, w := range t.workers {
				w.in <- workItem{kind: itemReschema, spec: spec}
			}
		}
		return
	}
}

// applySchema creates the table from incoming, or evolves it, and returns the spec to use.
func (t *tableRT) applySchema(ctx context.Context, incoming *table.StructType) (*schemaSpec, error) {
	t.mu.Lock()
	spec := t.spec
	t.mu.Unlock()
	if spec == nil {
		full, err := t.cfg.CompleteSchema(incoming)
		if err != nil {
			return nil, &schema.EvolutionError{Msg: err.Error()}
		}
		snap, err := t.create(ctx, full)
		if err != nil {
			return nil, err
		}
		return t.setSpec(snap.Metadata())
	}
	merged, changes, err := schema.Evolve(spec.msg, incoming)
	if err != nil {
		return nil, err
	}
	if !changes.Any() {
		return spec, nil
	}
	if t.cfg.Evolution != "add_columns" {
		return nil, &schema.EvolutionError{Msg: "the message schema adds columns or makes required ones optional, and evolution is none"}
	}
	full := spec.evolvedSchema(merged)
	meta := spec.meta
	meta.SchemaString = full.SchemaString()
	if err := t.flush(ctx, &meta); err != nil {
		return nil, err
	}
	t.log.Info("schema evolved", "version", t.version.Load(), "columns", len(full.Fields), "added", changes.Added, "now_nullable", changes.Nullable)
	return t.setSpec(meta)
}

func (t *tableRT) setSpec(meta table.Metadata) (*schemaSpec, error) {
	spec, err := newSchemaSpec(t.cfg, meta)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.spec = spec
	t.mu.Unlock()
	return spec, nil
}

func (t *tableRT) reloadSpec(ctx context.Context) error {
	snap, err := t.tbl.Snapshot(ctx)
	if err != nil {
		return err
	}
	_, err = t.setSpec(snap.Metadata())
	return err
}

// messageSchema maps the writer schema of a message (avro, json_schema) to columns.
func (t *tableRT) messageSchema(ctx context.Context, m *kafka.Message) (*table.StructType, error) {
	if t.cfg.Format == FormatJSON {
		return nil, &schema.EvolutionError{Msg: "format json needs a declared schema"}
	}
	id, _, err := schema.ParseWire(m.Value)
	if err != nil {
		return nil, err
	}
	s, err := t.c.schemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if t.cfg.Format == FormatJSONSchema {
		return schema.JSONSchemaTableSchema(s.Text)
	}
	as, err := schema.ParseAvro(s)
	if err != nil {
		return nil, err
	}
	return schema.AvroTableSchema(as)
}

// positions reads the table and returns, per partition, the first offset to ingest:
// txn+1, or the start policy (-1: the first message that comes; see startOffset).
func (t *tableRT) positions(ctx context.Context, parts []tp) (map[tp]int64, error) {
	snap, err := t.tbl.Snapshot(ctx)
	if err != nil && !errors.Is(err, table.ErrNotATable) {
		return nil, fmt.Errorf("table %s: %w", t.cfg.Name, err)
	}
	out := make(map[tp]int64, len(parts))
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range parts {
		if snap != nil {
			if v, ok := snap.Txn(t.appID(p)); ok {
				t.committed[p] = v
				out[p] = v + 1
				continue
			}
		}
		t.committed[p] = -1
		out[p] = -1
		if off, ok := t.cfg.Start.Offsets[p.topic][p.partition]; ok && t.cfg.Start.Policy == "offsets" {
			out[p] = off
		}
	}
	return out, nil
}

// forget drops partitions after a revocation.
func (t *tableRT) forget(parts []tp) {
	t.mu.Lock()
	for _, p := range parts {
		delete(t.committed, p)
	}
	t.mu.Unlock()
	byWorker := map[*worker][]tp{}
	for _, p := range parts {
		w := t.workerFor(p)
		byWorker[w] = append(byWorker[w], p)
	}
	for w, ps := range byWorker {
		w.in <- workItem{kind: itemForget, forget: ps}
	}
}

// fileKey names a new data file the way Spark does: part-00000-<uuid>-c000.<codec>.parquet.
func fileKey(dir, codec string) string {
	ext := "." + codec + ".parquet"
	if codec == "none" || codec == "uncompressed" || codec == "" {
		ext = ".parquet"
	}
	key := "part-00000-" + newUUID() + "-c000" + ext
	if dir != "" {
		key = dir + "/" + key
	}
	return key
}

// writeFiles uploads the rows of p as data files and returns their add actions. Each
// upload runs through retry, which calls it until it succeeds or gives up.
func writeFiles(ctx context.Context, store storage.Storage, p *writer.Pending, codec string, retry func(op func() error) error) ([]table.Add, error) {
	var adds []table.Add
	for !p.Done() {
		key := fileKey(p.Dir, codec)
		var info writer.FileInfo
		err := retry(func() error {
			var err error
			info, err = uploadFile(ctx, store, key, p)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("data file %s: %w", key, err)
		}
		adds = append(adds, table.Add{Path: table.EncodePath(key), PartitionValues: p.PartitionValues, Size: info.Size,
			ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: info.Stats})
	}
	return adds, nil
}

// uploadFile encodes the next file of p straight into the store through a pipe, so the
// encoded file is never held whole in memory and encoding overlaps the upload.
// When storing fails, p is rewound so that a retry encodes the same rows again.
func uploadFile(ctx context.Context, store storage.Storage, key string, p *writer.Pending) (info writer.FileInfo, err error) {
	mark := p.Mark()
	defer func() {
		if err != nil {
			p.Rewind(mark)
		}
	}()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		var err error
		info, err = p.Encode(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	putErr := store.Put(ctx, key, pr, -1)
	pr.CloseWithError(errors.Join(putErr, io.ErrClosedPipe))
	encErr := <-done
	if encErr != nil && !errors.Is(encErr, io.ErrClosedPipe) {
		return info, fmt.Errorf("encode: %w", encErr)
	}
	if putErr != nil {
		return info, fmt.Errorf("upload: %w", putErr)
	}
	return info, encErr
}

func newUUID() string { return uuid.NewString() }
