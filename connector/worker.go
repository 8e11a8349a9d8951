package connector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/hamba/avro/v2"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

type itemKind uint8

const (
	itemMsgs     itemKind = iota + 1 // a batch of messages: msgs, routes
	itemSeal                         // hand the batch over: seal
	itemAssign                       // start tracking partitions: parts (positions)
	itemForget                       // stop tracking partitions: forget
	itemDiscard                      // drop the batch; restart partitions at parts
	itemReschema                     // switch to spec (or refuse the held message: err)
	itemSync                         // close done: everything sent before is handled
)

// workItem is what the poller and the committer send a worker. Items are handled in
// the order sent, which is what keeps seeks, assignments and seals consistent with the
// messages around them.
type workItem struct {
	kind   itemKind
	msgs   []*kafka.Message
	routes []routeDecision
	seal   chan<- *batch
	done   chan struct{}
	parts  map[tp]position
	forget []tp
	spec   *schemaSpec
	err    error
	// gen is, on a reschema reply, the worker's discard generation when it asked: an
	// error for a message dropped since (a discard) must not land on another one.
	gen uint64
}

// batch is what a worker hands the committer: data files to write, the span of every
// partition it covers, and dead letters.
type batch struct {
	pending []*writer.Pending
	spans   map[tp]span
	dlq     []dlqEntry
	rows    int
	bytes   int64 // the memory its rows hold (Buffer.Memory), counted against the budget while it is written
	newest  int64 // the newest Kafka timestamp of its rows, unix micros; 0 for none
	// keys are the keys an upsert batch changes, each with its last change; dead are
	// rows of the batch's files that are not live (a later change replaced them, or
	// their message failed after they were appended): the commit deletes them with
	// deletion vectors on the new files.
	keys         map[string]keySlot
	dead         []writer.RowRef
	keyConflicts int
}

// span is the part of one partition a batch covers: every offset after prev up to
// last was examined (ingested, routed elsewhere or dead-lettered), in order.
type span struct {
	// prev is the txn version the batch continues from, bound when the batch was
	// sealed; the commit is refused unless the table still holds exactly it.
	prev  int64
	first int64 // first offset examined
	last  int64 // last offset examined: the new txn version
}

// add merges a worker's batch into b.
func (b *batch) add(o *batch) {
	b.pending = append(b.pending, o.pending...)
	b.dlq = append(b.dlq, o.dlq...)
	b.rows += o.rows
	b.bytes += o.bytes
	b.newest = max(b.newest, o.newest)
	for p, s := range o.spans {
		b.spans[p] = s
	}
	b.dead = append(b.dead, o.dead...)
	for k, slot := range o.keys {
		if b.keys == nil {
			b.keys = map[string]keySlot{}
		}
		if old, ok := b.keys[k]; ok && old.live {
			b.dead = append(b.dead, old.ref) // two partitions, one key: see keyConflict
			b.keyConflicts++
		}
		b.keys[k] = slot
	}
}

// release returns the buffers of a batch that will not be written.
func (b *batch) release() {
	for _, p := range b.pending {
		p.Release()
	}
	b.pending = nil
}

// heldMsg is a message parked while the table's schema changes.
type heldMsg struct {
	msg   *kafka.Message
	route routeDecision
}

// partState is a worker's view of one partition.
type partState struct {
	next  int64 // first offset still to ingest, or fromStart
	prev  int64 // txn version the open batch continues from (noTxn: none)
	first int64 // first offset in the open batch, -1 when none
	last  int64
}

// worker decodes the messages of some partitions of one table into its own buffer.
// Partitions are spread over workers by hash, so a partition's rows stay in order in
// one buffer.
type worker struct {
	dest      *ingestTable
	in        chan workItem
	spec      *schemaSpec
	buf       *writer.Buffer
	dec       *msgDecoder
	carry     []*writer.Pending // rows buffered under the previous schema
	parts     map[tp]*partState
	dlq       []dlqEntry
	newest    int64     // the newest event time (Kafka timestamp or event_time) of the rows since the last seal, unix micros
	held      []heldMsg // messages waiting for a schema change, in order
	heldBytes int64
	waiting   bool
	gen       uint64 // discards so far: replies to older schema requests carry no error
	failed    bool   // on_error: fail was hit; the rest is left for the next run
	// kafkaCols are the buffer indexes of the Kafka metadata columns, -1 for those the
	// table does not have.
	kafkaCols struct{ topic, partition, offset, timestamp, key, headers int }
	topicName string
	topicBuf  []byte
	// The buffer's rows, bytes (Buffer.Bytes: the flush limits) and memory
	// (Buffer.Memory: the memory budget) as last published to the table and connector.
	rows  int
	bytes int64
	mem   int64
	// The same for the rows in carry (moved out of a buffer whose schema changed),
	// counted until they are sealed or dropped.
	carryRows  int
	carryBytes int64
	carryMem   int64
	// Modes changelog and upsert (changes.go): the buffer indexes of the change
	// columns (-1 for none), each key's last change and the dead rows since the last
	// seal, and scratch.
	changeCols struct{ typ, ts, pos int }
	// eventCol is the buffer index of the event_time column, -1 for none (then the
	// Kafka timestamps are the event times).
	eventCol   int
	keys       map[string]keySlot
	dead       []writer.RowRef
	keyBuf     []byte
	keySchemas map[int32]avro.Schema // key_format avro: key writer schemas by id
	// keySchemaIDs are key_format json_schema ids the registry has.
	keySchemaIDs map[int32]bool
}

// workerQueue is how many items (batches of up to batchSize messages, or control
// items) wait for a worker: small enough that a seal is not stuck behind many messages
// (which would make commits overshoot max_rows), large enough to keep the worker busy
// while the poller fetches.
const workerQueue = 16

func newWorker(t *ingestTable) *worker {
	return &worker{dest: t, in: make(chan workItem, workerQueue), parts: map[tp]*partState{}}
}

// setSpec builds the buffer and decoder for a schema version.
func (w *worker) setSpec(spec *schemaSpec) error {
	buf, err := spec.newBuffer(w.dest.cfg, w.dest.conn.reuseLimits(), w.dest.conn.encoders(), w.dest.keyNames())
	if err != nil {
		return err
	}
	dec, err := newMsgDecoder(w.dest, spec, buf)
	if err != nil {
		return err
	}
	if w.buf != nil {
		if w.buf.Rows() > 0 {
			w.account()
			w.carry = append(w.carry, w.buf.Take()...)
			w.carryRows, w.carryBytes, w.carryMem = w.carryRows+w.rows, w.carryBytes+w.bytes, w.carryMem+w.mem
			w.rows, w.bytes, w.mem = 0, 0, 0
		}
		w.buf.DropReuse() // its rows' shape is not the new schema's
	}
	w.spec, w.buf, w.dec = spec, buf, dec
	w.kafkaCols.topic, w.kafkaCols.partition, w.kafkaCols.offset, w.kafkaCols.timestamp, w.kafkaCols.key, w.kafkaCols.headers = -1, -1, -1, -1, -1, -1
	w.changeCols.typ, w.changeCols.ts, w.changeCols.pos = -1, -1, -1
	w.eventCol = -1
	for _, c := range buf.Columns() {
		if c.Name == w.dest.cfg.EventTime && (c.Type == table.Timestamp || c.Type == table.TimestampNTZ) {
			w.eventCol = c.Index
		}
	}
	for _, c := range buf.Columns() {
		switch {
		case w.dest.cfg.Mode != ModeChangelog:
		case c.Name == colChangeType:
			w.changeCols.typ = c.Index
		case c.Name == colChangeTS:
			w.changeCols.ts = c.Index
		case c.Name == colChangePosition:
			w.changeCols.pos = c.Index
		}
	}
	if w.dest.cfg.KafkaColumns.Enabled() {
		for _, c := range buf.Columns() {
			switch c.Name {
			case colKafkaTopic:
				w.kafkaCols.topic = c.Index
			case colKafkaPartition:
				w.kafkaCols.partition = c.Index
			case colKafkaOffset:
				w.kafkaCols.offset = c.Index
			case colKafkaTimestamp:
				w.kafkaCols.timestamp = c.Index
			case colKafkaKey:
				w.kafkaCols.key = c.Index
			case colKafkaHeaders:
				w.kafkaCols.headers = c.Index
			}
		}
	}
	return nil
}

// topicBytes returns the topic name as bytes without allocating per message.
func (w *worker) topicBytes(topic string) []byte {
	if w.topicName != topic {
		w.topicName, w.topicBuf = topic, []byte(topic)
	}
	return w.topicBuf
}

func (w *worker) run(ctx context.Context) {
	for item := range w.in {
		switch item.kind {
		case itemMsgs:
			for i, m := range item.msgs {
				w.handle(ctx, m, item.routes[i])
			}
		case itemSeal:
			item.seal <- w.sealBatch()
		case itemAssign:
			for p, pos := range item.parts {
				w.parts[p] = &partState{next: pos.next, prev: pos.prev, first: -1}
			}
		case itemForget:
			w.forget(item.forget)
		case itemDiscard:
			w.discard(item.parts)
		case itemReschema:
			w.reschema(ctx, item)
		case itemSync:
			close(item.done)
		}
	}
}

// handle ingests one message: decoded into the buffer, skipped, or a dead letter.
func (w *worker) handle(ctx context.Context, m *kafka.Message, route routeDecision) {
	p := tp{*m.TopicPartition.Topic, m.TopicPartition.Partition}
	st := w.parts[p]
	off := int64(m.TopicPartition.Offset)
	if st == nil || (st.next >= 0 && off < st.next) || w.failed {
		return // not ours (any more), already in the table, or stopped at a bad message
	}
	if w.waiting { // everything waits behind a held message, to keep offsets in order
		w.hold(heldMsg{m, route})
		return
	}
	if m.Value == nil && route != routeElsewhere { // a tombstone: nothing to route or decode
		w.tombstone(ctx, m, st, p, off)
		return
	}
	switch route {
	case routeElsewhere: // another table's message: only the offset moves
		w.advance(st, off)
		return
	case routeNowhere:
		w.onError(m, st, p, off, "route", errUnrouted)
		return
	}
	w.dest.metrics.messages.Inc()
	w.dest.metrics.messageBytes.Add(float64(len(m.Value)))
	if w.spec == nil { // the table does not exist yet: its first message creates it
		w.holdForSchema(ctx, m, nil)
		return
	}
	stage, err := w.decodeRow(ctx, m, p, off)
	var ne *needEvolution
	switch {
	case err == nil:
		w.advance(st, off)
		if w.eventCol < 0 && m.TimestampType != kafka.TimestampNotAvailable {
			w.newest = max(w.newest, m.Timestamp.UnixMicro())
		}
	case errors.As(err, &ne):
		w.buf.AbortRow()
		w.holdForSchema(ctx, m, ne)
	case errors.Is(err, errShutdown):
		w.buf.AbortRow()
		w.failed = true // stopping: leave the rest to the next run
	default:
		w.buf.AbortRow()
		w.onError(m, st, p, off, stage, err)
	}
	w.account()
}

func (w *worker) decodeRow(ctx context.Context, m *kafka.Message, p tp, off int64) (string, error) {
	if w.dest.cfg.Mode != ModeAppend {
		return w.decodeChange(ctx, m, p, off)
	}
	stage, err := w.dec.decode(ctx, m.Value)
	if err != nil {
		return stage, err
	}
	return w.endRow(ctx, m, p, off)
}

// endRow sets the Kafka columns of the decoded row and appends it.
func (w *worker) endRow(ctx context.Context, m *kafka.Message, p tp, off int64) (string, error) {
	b := w.buf
	k := &w.kafkaCols
	if k.topic >= 0 {
		b.SetBytes(k.topic, w.topicBytes(p.topic))
	}
	if k.partition >= 0 {
		b.SetInt(k.partition, int64(p.partition))
	}
	if k.offset >= 0 {
		b.SetInt(k.offset, off)
	}
	if k.timestamp >= 0 {
		if m.TimestampType != kafka.TimestampNotAvailable {
			b.SetInt(k.timestamp, m.Timestamp.UnixMicro())
		} else {
			b.SetNull(k.timestamp)
		}
	}
	if k.key >= 0 {
		switch {
		case m.Key == nil:
			b.SetNull(k.key)
		case w.dest.cfg.KeyFormat == "avro" || w.dest.cfg.KeyFormat == "protobuf" || w.dest.cfg.KeyFormat == "json_schema":
			text, err := w.keyJSON(ctx, m.Key)
			if err != nil {
				return "key", fmt.Errorf("message key (key_format %s): %w", w.dest.cfg.KeyFormat, err)
			}
			b.SetBytes(k.key, text)
		default:
			b.SetBytes(k.key, m.Key)
		}
	}
	if k.headers >= 0 {
		setHeaders(b.Nested(k.headers), m.Headers)
	}
	event, hasEvent := int64(0), false
	if w.eventCol >= 0 {
		event, hasEvent = b.StagedInt(w.eventCol)
	}
	err := b.EndRow()
	if err == nil && hasEvent {
		w.newest = max(w.newest, event)
	}
	var re *writer.RuleError
	if errors.As(err, &re) {
		return "constraint", err
	}
	return "decode", err
}

// setHeaders writes a message's headers as a map, the last value of a repeated key
// winning (an empty map for none).
func setHeaders(n *writer.Nest, headers []kafka.Header) {
	n.BeginMap()
	for i, h := range headers {
		if slices.ContainsFunc(headers[i+1:], func(later kafka.Header) bool { return later.Key == h.Key }) {
			continue
		}
		n.Bytes([]byte(h.Key))
		if h.Value == nil {
			n.Null()
		} else {
			n.Bytes(h.Value)
		}
	}
	n.EndMap()
}

// holdForSchema parks the message and asks the committer for a schema change (or for
// the table to be created from the message's schema).
func (w *worker) holdForSchema(ctx context.Context, m *kafka.Message, ne *needEvolution) {
	w.waiting = true
	w.dest.waiting.Add(1)
	w.hold(heldMsg{m, routeHere})
	req := evolveReq{worker: w, msg: m, gen: w.gen}
	if ne != nil {
		req.incoming = ne.incoming
	}
	select {
	case w.dest.evolveCh <- req:
	case <-ctx.Done():
	}
}

// hold parks a message; its bytes count against the memory budget, so that a long
// wait (a registry outage during a schema change) pauses fetching instead of growing.
func (w *worker) hold(h heldMsg) {
	w.held = append(w.held, h)
	n := int64(len(h.msg.Value) + len(h.msg.Key) + 64)
	w.heldBytes += n
	w.dest.conn.buffered.Add(n)
}

func (w *worker) releaseHeld() {
	w.dest.conn.buffered.Add(-w.heldBytes)
	w.held, w.heldBytes = nil, 0
}

// reschema applies the committer's answer to a schema request and replays the held
// messages in order.
func (w *worker) reschema(ctx context.Context, item workItem) {
	held := w.held
	if w.waiting {
		w.dest.waiting.Add(-1)
	}
	w.releaseHeld()
	w.waiting = false
	if item.spec != nil && item.spec != w.spec {
		if err := w.setSpec(item.spec); err != nil {
			w.dest.fatal(err)
			w.failed = true
			return
		}
	}
	if item.err != nil && len(held) > 0 && item.gen == w.gen {
		m := held[0].msg
		held = held[1:]
		p := tp{*m.TopicPartition.Topic, m.TopicPartition.Partition}
		if st := w.parts[p]; st != nil && !w.failed {
			w.onError(m, st, p, int64(m.TopicPartition.Offset), "schema", item.err)
		}
	}
	for i, h := range held {
		w.handle(ctx, h.msg, h.route)
		if w.waiting { // a held message asked for another change: keep the rest held
			for _, h := range held[i+1:] {
				w.hold(h)
			}
			return
		}
	}
}

// onError applies the table's on_error policy to a message that cannot be ingested.
func (w *worker) onError(m *kafka.Message, st *partState, p tp, off int64, stage string, err error) {
	me := &MessageError{Table: w.dest.cfg.Name, Topic: p.topic, Partition: p.partition, Offset: off, Stage: stage, Err: err}
	w.dest.metrics.errors.WithLabelValues(string(w.dest.cfg.OnError)).Inc()
	switch w.dest.cfg.OnError {
	case OnErrorSkip:
		w.dest.log.Warn("skipped a message (on_error: skip)", "topic", p.topic, "partition", p.partition, "offset", off, "stage", stage, "error", err)
		w.advance(st, off)
	case OnErrorDLQ:
		w.dlq = append(w.dlq, newDLQEntry(m, w.dest.cfg.Name, stage, err))
		w.advance(st, off)
	default:
		w.failed = true
		w.dest.fatal(me)
	}
}

// tombstone handles a message with a key and no value (a compacted topic's delete) as
// on_tombstone says: delete its key's row, skip it, stop, or write it to the
// dead-letter target.
func (w *worker) tombstone(ctx context.Context, m *kafka.Message, st *partState, p tp, off int64) {
	w.dest.metrics.tombstones.Inc()
	switch w.dest.cfg.OnTombstone {
	case OnTombstoneDelete:
		if stage, err := w.tombstoneDelete(ctx, m); err != nil {
			if errors.Is(err, errShutdown) {
				w.failed = true
				return
			}
			w.onError(m, st, p, off, stage, err)
			return
		}
		w.advance(st, off)
	case OnTombstoneSkip:
		w.advance(st, off)
	case OnTombstoneDLQ:
		w.dlq = append(w.dlq, newDLQEntry(m, w.dest.cfg.Name, "tombstone", errTombstone))
		w.advance(st, off)
	default:
		w.failed = true
		w.dest.fatal(&MessageError{Table: w.dest.cfg.Name, Topic: p.topic, Partition: p.partition, Offset: off, Stage: "tombstone", Err: errTombstone})
	}
}

// errTombstone is the error of a tombstone on_tombstone does not skip.
var errTombstone = errors.New("the message has no value (a tombstone, on_tombstone: fail)")

func (w *worker) advance(st *partState, off int64) {
	if st.first < 0 {
		st.first = off
		w.dest.noteOldest()
	}
	st.last, st.next = off, off+1
}

// account publishes the buffer's size to the table's counters and asks for a flush
// when a limit is reached.
func (w *worker) account() {
	if w.buf == nil {
		return
	}
	rows, bytes, mem := w.buf.Rows(), w.buf.Bytes(), w.buf.Memory()
	dr, db, dm := rows-w.rows, bytes-w.bytes, mem-w.mem
	w.rows, w.bytes, w.mem = rows, bytes, mem
	if dr == 0 && db == 0 && dm == 0 {
		return
	}
	w.dest.conn.buffered.Add(dm)
	r := w.dest.rows.Add(int64(dr))
	b := w.dest.bytes.Add(db)
	if r >= int64(w.dest.cfg.Flush.MaxRows) || b >= int64(w.dest.cfg.Flush.MaxBytes) {
		w.dest.kickFlush()
	}
}

// uncount takes the buffer's and the carry's rows, bytes and memory off the table's
// and the connector's counts: they were sealed or dropped.
func (w *worker) uncount() {
	w.dest.rows.Add(-int64(w.rows + w.carryRows))
	w.dest.bytes.Add(-(w.bytes + w.carryBytes))
	w.dest.conn.buffered.Add(-(w.mem + w.carryMem))
	w.rows, w.bytes, w.mem = 0, 0, 0
	w.carryRows, w.carryBytes, w.carryMem = 0, 0, 0
}

// sealBatch hands over everything buffered and every partition's span; the next batch
// of each partition continues from this one's last offset.
func (w *worker) sealBatch() *batch {
	b := &batch{spans: map[tp]span{}, dlq: w.dlq, newest: w.newest, keys: w.keys, dead: w.dead}
	w.newest, w.keys, w.dead = 0, nil, nil
	if w.buf != nil {
		b.rows, b.bytes = w.buf.Rows()+w.carryRows, w.buf.Memory()+w.carryMem
		b.pending = append(w.carry, w.buf.Take()...)
		w.carry = nil
		w.uncount()
	}
	for p, st := range w.parts {
		if st.first >= 0 {
			b.spans[p] = span{prev: st.prev, first: st.first, last: st.last}
			st.prev, st.first = st.last, -1
		}
	}
	w.dlq = nil
	return b
}

// forget drops partitions that are no longer this worker's. Their rows since the last
// seal, if any, share the buffer with other partitions' rows and would reach the next
// commit without their txn (a schema reply can replay held messages of a partition
// after its revocation's flush and before this): then the whole buffer goes, and the
// partitions left are marked so that their next batch is refused and rewinds them to
// the table's positions.
func (w *worker) forget(parts []tp) {
	dirty := false
	for _, p := range parts {
		if st := w.parts[p]; st != nil && st.first >= 0 {
			dirty = true
		}
		delete(w.parts, p)
	}
	if !dirty {
		return
	}
	w.dropBuffered()
	for _, st := range w.parts {
		st.prev, st.first = staleTxn, -1
	}
	w.dest.conn.requestReseek(w.dest)
}

// discard drops the batch and the held messages, and restarts partitions from the
// given positions (the table's); partitions not in next keep theirs.
func (w *worker) discard(next map[tp]position) {
	w.dropBuffered()
	for p, st := range w.parts {
		pos, ok := next[p]
		if !ok { // not the table's to seek any more: wait for an assignment
			delete(w.parts, p)
			continue
		}
		st.next, st.prev, st.first = pos.next, pos.prev, -1
	}
	w.failed = false
}

// dropBuffered releases the rows, held messages and dead letters not yet sealed.
func (w *worker) dropBuffered() {
	if w.buf != nil {
		for _, p := range w.buf.Take() {
			p.Release()
		}
		w.uncount()
	}
	w.releaseHeld()
	if w.waiting {
		w.waiting = false
		w.dest.waiting.Add(-1)
	}
	w.gen++
	for _, p := range w.carry {
		p.Release()
	}
	w.carry, w.dlq = nil, nil
	w.keys, w.dead = nil, nil
}

// dlqEntry is a message that went to the dead-letter target, with why.
type dlqEntry struct {
	table     string
	topic     string
	partition int32
	offset    int64
	key       []byte
	value     []byte
	headers   []kafka.Header
	timestamp time.Time
	hasTS     bool
	stage     string
	err       string
	errClass  string // the error's Go type, for Kafka Connect's exception.class.name
	failedAt  time.Time
}

// errorClass names the type of the innermost error that says what went wrong (a
// *schema.FieldError, say), for readers that expect a Java exception class name.
func errorClass(err error) string {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return strings.TrimPrefix(fmt.Sprintf("%T", err), "*")
		}
		err = inner
	}
}

func newDLQEntry(m *kafka.Message, tableName, stage string, err error) dlqEntry {
	return dlqEntry{
		table: tableName, topic: *m.TopicPartition.Topic, partition: m.TopicPartition.Partition,
		offset: int64(m.TopicPartition.Offset), key: m.Key, value: m.Value, headers: m.Headers,
		timestamp: m.Timestamp, hasTS: m.TimestampType != kafka.TimestampNotAvailable,
		stage: stage, err: err.Error(), errClass: errorClass(err), failedAt: time.Now(),
	}
}
