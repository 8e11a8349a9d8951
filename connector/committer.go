package connector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table"
)

// errBatchRefused says a flush's batch was not committed because the table no longer
// continues from where one of its partitions started (another writer committed it, or
// an earlier batch of this one failed). The rows are read again after a reseek; it is
// not a failure of the connector.
var errBatchRefused = errors.New("batch refused: the table no longer continues from its partitions' positions")

// posReq asks the committer for the table's positions of parts. The committer answers
// between two flushes and then waits for release, so that no batch sealed before the
// positions were read commits after them: the poller hands the workers their new
// positions (and seeks the consumer) while the committer waits.
type posReq struct {
	ctx     context.Context // bounds the read: the poller's, so a stop ends it
	parts   []tp
	reply   chan posReply
	release chan struct{}
}

type posReply struct {
	pos map[tp]position
	err error
}

func (t *ingestTable) fatal(err error) { t.conn.fail(err) }

// run is the committer: it flushes when a limit is reached, when asked, and handles
// schema changes and position reads. It is the only goroutine that commits to the table.
func (t *ingestTable) run(ctx context.Context) {
	latency := time.Duration(t.cfg.Flush.MaxLatency)
	tick := time.NewTicker(max(min(latency/4, time.Second), 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-t.flushCh:
			req.reply <- t.flush(req.ctx, nil)
		case req := <-t.posCh:
			pos, err := t.readPositions(req.ctx, req.parts)
			req.reply <- posReply{pos, err}
			if err == nil {
				select {
				case <-req.release:
				case <-ctx.Done():
					return
				}
			}
		case <-t.kick:
			if t.rows.Load() >= int64(t.cfg.Flush.MaxRows) || t.bytes.Load() >= int64(t.cfg.Flush.MaxBytes) {
				t.flushOrFail(ctx)
			}
		case <-t.force:
			t.flushOrFail(ctx)
		case <-tick.C:
			if o := t.oldest.Load(); o != 0 && time.Since(time.Unix(0, o)) >= t.pacer.Interval(latency) {
				t.flushOrFail(ctx)
			}
		case req := <-t.evolveCh:
			t.evolve(ctx, req)
		}
	}
}

// pace feeds a commit's puts to the flush pacer, logging when pacing starts and stops.
func (t *ingestTable) pace(attempts int) {
	was := t.pacer.Stretch()
	t.pacer.Observe(attempts)
	now := t.pacer.Stretch()
	t.metrics.flushStretch.Set(now)
	switch {
	case was == 1 && now > 1:
		t.log.Info("commits lose races to other instances: flushing less often", "max_latency_factor", fmt.Sprintf("%.2f", now), "lost_races", attempts-1)
	case was > 1 && now == 1:
		t.log.Info("commits win again: flushing at max_latency")
	}
}

func (t *ingestTable) flushOrFail(ctx context.Context) {
	if err := t.flush(ctx, nil); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errBatchRefused) {
		t.fatal(err)
	}
}

// requestFlush asks the committer to flush now and waits for it.
func (t *ingestTable) requestFlush(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case t.flushCh <- flushReq{ctx: ctx, reply: reply}:
	case <-t.done:
		return errShutdown
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

// positions returns where each of parts continues from in the table, with the
// committer held between flushes until release is called (see posReq).
func (t *ingestTable) positions(ctx context.Context, parts []tp) (map[tp]position, func(), error) {
	req := posReq{ctx: ctx, parts: parts, reply: make(chan posReply, 1), release: make(chan struct{})}
	select {
	case t.posCh <- req:
	case <-t.done:
		return nil, nil, errShutdown
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	select {
	case r := <-req.reply:
		if r.err != nil {
			return nil, nil, r.err
		}
		return r.pos, func() { close(req.release) }, nil
	case <-t.done:
		return nil, nil, errShutdown
	}
}

// readPositions reads the table and returns, per partition, its position: after its
// txn, or the start policy's offset (fromStart: the first message that comes) with
// noTxn. Storage errors are retried until ctx ends.
func (t *ingestTable) readPositions(ctx context.Context, parts []tp) (map[tp]position, error) {
	var snap *table.Snapshot
	err := t.retry(ctx, "read positions", func() error {
		var err error
		snap, err = t.tbl.Snapshot(ctx)
		if errors.Is(err, table.ErrNotATable) {
			snap, err = nil, nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", t.cfg.Name, err)
	}
	txns := t.book.observe(snap, parts)
	out := make(map[tp]position, len(parts))
	for _, p := range parts {
		v := txns[p]
		switch off, explicit := t.cfg.Start.Offsets[p.topic][p.partition]; {
		case v != noTxn:
			out[p] = position{next: v + 1, prev: v}
		case explicit && t.cfg.Start.Policy == StartOffsets:
			out[p] = position{next: off, prev: noTxn}
		default:
			out[p] = position{next: fromStart, prev: noTxn}
		}
	}
	return out, nil
}

// seal collects every worker's batch, in worker order. Items are ordered, so each batch
// holds exactly the messages dispatched before the seal. When ctx ends first (a
// worker stuck on an unreachable registry at shutdown), the partial batch is dropped
// and the late replies released as they come.
func (t *ingestTable) seal(ctx context.Context) (*batch, error) {
	// Reset the age of the oldest row before the workers seal: a row a worker adds after
	// its seal then starts the clock again. (Reset after, and such a row would wait for
	// the next size limit: max_latency would not hold.)
	t.oldest.Store(0)
	replies := make([]chan *batch, 0, len(t.workers))
	abandon := func(err error) (*batch, error) {
		go func() {
			for _, r := range replies {
				(<-r).release()
			}
		}()
		return nil, fmt.Errorf("table %s: seal: %w", t.cfg.Name, err)
	}
	for _, w := range t.workers {
		r := make(chan *batch, 1)
		select {
		case w.in <- workItem{kind: itemSeal, seal: r}:
			replies = append(replies, r)
		case <-ctx.Done():
			return abandon(ctx.Err())
		}
	}
	out := &batch{spans: map[tp]span{}}
	for len(replies) > 0 {
		select {
		case b := <-replies[0]:
			out.add(b)
			replies = replies[1:]
		case <-ctx.Done():
			out.release()
			return abandon(ctx.Err())
		}
	}
	return out, nil
}

// flush seals what is buffered and commits it (with meta, for a schema change). A
// flush that does not commit its batch, refused or failed, asks the poller to rewind
// the table's partitions to the table's positions; until then every later batch
// continues from the lost one and is refused too, so nothing after a gap commits.
func (t *ingestTable) flush(ctx context.Context, meta *table.Metadata) error {
	spec := t.currentSpec()
	if spec == nil {
		return nil // nothing can be buffered before the table exists
	}
	b, err := t.seal(ctx)
	if err != nil {
		t.conn.requestReseek(t)
		return err
	}
	if len(b.spans) == 0 && meta == nil {
		return nil
	}
	if err := t.commitBatch(ctx, b, spec, meta); err != nil {
		t.conn.requestReseek(t)
		return err
	}
	return nil
}

// commitBatch writes dead letters first, then the data files, then the log entry with
// one txn per partition. Storage errors are retried until ctx ends.
func (t *ingestTable) commitBatch(ctx context.Context, b *batch, spec *schemaSpec, meta *table.Metadata) error {
	start := time.Now()
	// The batch's memory counts as being written until each file's rows are released
	// (to the reuse pool, which counts them from then on) or the commit ends.
	counted := b.bytes
	t.conn.inflight.Add(counted)
	defer func() { t.conn.inflight.Add(-counted) }()
	defer b.release() // what is left when a write fails
	if len(b.dlq) > 0 {
		if err := t.retry(ctx, "write dead letters", func() error { return t.dlq.write(ctx, b.dlq) }); err != nil {
			return fmt.Errorf("table %s: dead letters: %w", t.cfg.Name, err)
		}
		t.metrics.dlq.Add(float64(len(b.dlq)))
	}
	var adds []table.Add
	var bytesOut int64
	retryUpload := func(op func() error) error { return t.retry(ctx, "write data file", op) }
	for len(b.pending) > 0 {
		p := b.pending[0]
		files, err := writeFiles(ctx, t.tbl.Store(), p, t.cfg.WriterConfig().Compression, b.dead, retryUpload)
		if err != nil {
			return fmt.Errorf("table %s: %w", t.cfg.Name, err)
		}
		for _, a := range files {
			bytesOut += a.Size
		}
		adds = append(adds, files...)
		m := min(p.Memory(), counted)
		p.Release()
		t.conn.inflight.Add(-m)
		counted -= m
		b.pending = b.pending[1:]
	}
	tx := &table.Transaction{Adds: adds, SchemaString: spec.meta.SchemaString, Metadata: meta, BaseSchemaString: spec.meta.SchemaString,
		Parameters: map[string]string{"outputMode": "Append", "connector": t.conn.cfg.Name}}
	txns := make(map[tp]int64, len(b.spans))
	for p, s := range b.spans {
		tx.AppTxns = append(tx.AppTxns, table.AppTxn{AppID: t.appID(p), Prev: s.prev, Version: s.last})
		txns[p] = s.last
	}
	if b.keyConflicts > 0 {
		t.log.Warn("keys changed in two partitions in one batch; the later partition's change won", "keys", b.keyConflicts, "error", keyConflict(t.cfg.Name))
	}
	var res table.CommitResult
	var replaced replacement
	commitStart := time.Now()
	var err error
	if len(b.keys) > 0 { // an upsert batch: its keys' rows in the table go
		res, replaced, err = t.commitUpsert(ctx, tx, b)
	} else {
		err = t.retry(ctx, "commit", func() error {
			var err error
			res, err = t.tbl.Commit(ctx, tx)
			return err
		})
	}
	var conflict *table.TxnConflictError
	switch {
	case errors.As(err, &conflict):
		t.metrics.conflicts.WithLabelValues("partition_owned").Inc()
		t.log.Warn("batch dropped: the table does not continue from it (another writer committed one of its partitions, or an earlier batch failed); re-reading positions from the table", "error", err)
		return fmt.Errorf("table %s: %w: %w", t.cfg.Name, errBatchRefused, err)
	case err != nil:
		return fmt.Errorf("table %s: %w", t.cfg.Name, err)
	}
	t.book.committed(res.Version, txns)
	t.metrics.commitDuration.Observe(time.Since(commitStart).Seconds())
	if res.Attempts > 1 {
		t.metrics.conflicts.WithLabelValues("lost_race").Add(float64(res.Attempts - 1))
	}
	t.pace(res.Attempts)
	if res.CheckpointDue {
		t.maint.checkpointDue(res.Version) // written in the background, off the commit path
	}
	t.rowsCommitted.Add(int64(b.rows))
	t.commits.Add(1)
	t.files.Add(int64(len(adds)))
	t.bytesOut.Add(bytesOut)
	t.version.Store(res.Version)
	t.metrics.rows.Add(float64(b.rows))
	t.metrics.commits.Inc()
	t.metrics.version.Set(float64(res.Version))
	t.metrics.lastCommit.SetToCurrentTime()
	if b.newest > t.metrics.newestEvent.Load() {
		t.metrics.newestEvent.Store(b.newest)
		t.metrics.newestEventTime.Set(float64(b.newest) / 1e6)
	}
	if t.cfg.Mode == ModeUpsert {
		t.metrics.upsertRowsDeleted.Add(float64(replaced.rows))
		t.metrics.upsertFilesTouched.Observe(float64(replaced.files))
		t.log.Info("committed", "version", res.Version, "rows", b.rows, "files", len(adds), "bytes", bytesOut,
			"partitions", len(tx.AppTxns), "dead_letters", len(b.dlq), "attempts", res.Attempts, "keys", len(b.keys),
			"rows_replaced", replaced.rows, "files_touched", replaced.files, "key_lookup", replaced.lookup.Round(time.Millisecond),
			"took", time.Since(start).Round(time.Millisecond))
	} else {
		t.log.Info("committed", "version", res.Version, "rows", b.rows, "files", len(adds), "bytes", bytesOut,
			"partitions", len(tx.AppTxns), "dead_letters", len(b.dlq), "attempts", res.Attempts, "took", time.Since(start).Round(time.Millisecond))
	}
	t.conn.noteCommitted()
	return nil
}

// retry runs op until it succeeds, fails permanently, or ctx ends. Errors about the
// table itself (unsupported feature, changed metadata, owned partitions) are permanent;
// I/O errors are retried with backoff, since storage that goes away usually comes back.
func (t *ingestTable) retry(ctx context.Context, what string, op func() error) error {
	delay := t.conn.retryBase
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || isPermanentCommitError(err) || ctx.Err() != nil {
			return err
		}
		t.metrics.retries.Inc()
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
	var cd *table.ConcurrentDeleteError
	var sm *table.SchemaMismatchError
	return errors.As(err, &ue) || errors.As(err, &me) || errors.As(err, &ie) || errors.As(err, &ce) || errors.As(err, &ev) || errors.As(err, &cd) || errors.As(err, &sm) ||
		errors.Is(err, errShutdown) || errors.Is(err, table.ErrTableExists)
}

func (t *ingestTable) currentSpec() *schemaSpec {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.spec
}

// evolve answers a worker's schema request: create the table from the first message's
// schema, or commit the merged schema, then switch every worker to it.
func (t *ingestTable) evolve(ctx context.Context, req evolveReq) {
	refuse := func(err error) {
		select {
		case req.worker.in <- workItem{kind: itemReschema, err: err, gen: req.gen}:
		case <-ctx.Done():
		}
	}
	incoming := req.incoming
	if incoming == nil {
		var err error
		if incoming, err = t.messageSchema(ctx, req.msg); err != nil {
			refuse(err)
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
			refuse(err)
		case err != nil:
			if ctx.Err() == nil {
				t.fatal(err)
			}
		default:
			for _, w := range t.workers {
				select {
				case w.in <- workItem{kind: itemReschema, spec: spec}:
				case <-ctx.Done():
					return
				}
			}
		}
		return
	}
}

// applySchema creates the table from incoming, or evolves it, and returns the spec to
// use. The spec changes only once its schema is in the table.
func (t *ingestTable) applySchema(ctx context.Context, incoming *table.StructType) (*schemaSpec, error) {
	spec := t.currentSpec()
	if spec == nil {
		full, err := t.cfg.completeSchema(incoming)
		if err != nil {
			return nil, &schema.EvolutionError{Msg: err.Error()}
		}
		var snap *table.Snapshot
		err = t.retry(ctx, "create table", func() error {
			var err error
			snap, err = t.create(ctx, full)
			return err
		})
		if err != nil {
			return nil, err
		}
		return t.setSpec(snap.Metadata(), columnMapped(snap))
	}
	merged, changes, err := schema.Evolve(spec.msg, incoming, spec.evolveOptions())
	if err != nil {
		return nil, err
	}
	if !changes.Any() {
		return spec, nil
	}
	if t.cfg.Evolution != EvolutionAddColumns {
		return nil, &schema.EvolutionError{Msg: "the message schema adds columns, makes required ones optional or widens types, and evolution is none"}
	}
	meta, err := spec.evolvedMetadata(merged)
	if err != nil {
		return nil, fmt.Errorf("table %s: schema change: %w", t.cfg.Name, err)
	}
	err = t.flush(ctx, &meta)
	if errors.Is(err, errBatchRefused) {
		// The batch goes (the poller rewinds its partitions); the schema change does not
		// depend on it, so it is committed alone.
		err = t.retry(ctx, "commit schema change", func() error {
			res, err := t.tbl.Commit(ctx, &table.Transaction{Metadata: &meta, BaseSchemaString: spec.meta.SchemaString,
				Parameters: map[string]string{"outputMode": "Append", "connector": t.conn.cfg.Name}})
			if err == nil {
				t.version.Store(res.Version)
			}
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	spec, err = t.setSpec(meta, spec.mapped)
	if err != nil {
		return nil, err
	}
	t.log.Info("schema evolved", "version", t.version.Load(), "columns", len(spec.full.Fields), "added", changes.Added, "now_nullable", changes.Nullable, "widened", changes.Widened)
	return spec, nil
}

func (t *ingestTable) setSpec(meta table.Metadata, mapped bool) (*schemaSpec, error) {
	spec, err := newSchemaSpec(t.cfg, meta, mapped)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.spec = spec
	t.mu.Unlock()
	return spec, nil
}

func (t *ingestTable) reloadSpec(ctx context.Context) error {
	var snap *table.Snapshot
	err := t.retry(ctx, "read table", func() error {
		var err error
		snap, err = t.tbl.Snapshot(ctx)
		return err
	})
	if err != nil {
		return err
	}
	_, err = t.setSpec(snap.Metadata(), columnMapped(snap))
	return err
}

// messageSchema maps the writer schema of a message (avro, protobuf, json_schema) to
// columns.
func (t *ingestTable) messageSchema(ctx context.Context, m *kafka.Message) (*table.StructType, error) {
	if t.cfg.Format == FormatJSON {
		if t.cfg.Envelope == EnvelopeDebezium {
			if block := schema.ConnectSchemaBlock(m.Value); block != nil {
				return schema.ConnectRowSchema(block)
			}
			return nil, &schema.EvolutionError{Msg: "the table has no declared schema and the message carries no Connect schema (the JsonConverter's schemas.enable=true): declare the columns"}
		}
		return nil, &schema.EvolutionError{Msg: "format json needs a declared schema"}
	}
	if t.cfg.Format == FormatProtobuf {
		return t.protoTableSchema(ctx, m.Value)
	}
	id, _, err := schema.ParseWire(m.Value)
	if err != nil {
		return nil, err
	}
	s, err := t.conn.schemaByID(ctx, id)
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
	if t.cfg.Envelope == EnvelopeDebezium {
		env, err := schema.NewAvroEnvelope(as, id)
		if err != nil {
			return nil, err
		}
		return schema.AvroTableSchema(env.RowSchema())
	}
	return schema.AvroTableSchema(as)
}
