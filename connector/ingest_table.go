package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/upsert"
	"github.com/sluicelake/sluice/writer"
)

// ingestTable is the runtime of one table: its decoding workers and its committer, the one
// goroutine that writes data files and commits them.
type ingestTable struct {
	conn    *Connector
	cfg     *TableConfig
	log     *slog.Logger
	pattern *regexp.Regexp // topic_pattern, anchored (compileTopicPattern)
	route   *router
	tbl     *table.Table
	dlq     dlqTarget
	workers []*worker
	metrics *tableMetrics
	maint   *maintainer
	// pacer stretches max_latency while commits lose races (the committer's only).
	pacer FlushPacer
	// keys caches the keys of the table's data files between upsert flushes (the
	// committer's goroutine only; nil in other modes).
	keys *upsert.Cache
	// key are the key columns of an upsert table: configured, or learnt from the first
	// message key (keyDecoder.ensure); nil until known.
	key atomic.Pointer[[]string]
	// patternTopics are the topics matching topic_pattern that this instance has been
	// assigned partitions of (the poller's goroutine only).
	patternTopics []string

	mu   sync.Mutex
	spec *schemaSpec // nil until the table exists
	book *txnBook    // txn versions per partition, as last committed or read

	posCh chan posReq   // the poller's requests for positions, served between flushes
	done  chan struct{} // closed when the committer stops
	// reseekQueued is set while a rewind of this table waits in the connector's reseekCh,
	// so that a burst of failed flushes queues one rewind, not one each.
	reseekQueued atomic.Bool

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
	gen      uint64            // the worker's discard generation when it asked
}

// openTable opens (or, with a declared schema, creates) the table and starts nothing.
func (c *Connector) openTable(ctx context.Context, cfg *TableConfig) (*ingestTable, error) {
	t := &ingestTable{conn: c, cfg: cfg, log: c.log.With("table", cfg.Name), route: newRouter(cfg), pacer: FlushPacer{Max: cfg.Flush.MaxStretch},
		kick: make(chan struct{}, 1), force: make(chan struct{}, 1), flushCh: make(chan flushReq), evolveCh: make(chan evolveReq, 64),
		posCh: make(chan posReq), done: make(chan struct{}), metrics: c.metrics.table(cfg.Name)}
	t.book = newTxnBook(t.appID)
	if cfg.TopicPattern != "" {
		var err error
		if t.pattern, err = compileTopicPattern(cfg.TopicPattern); err != nil {
			return nil, fmt.Errorf("table %s: topic_pattern: %w", cfg.Name, err)
		}
	}
	store, err := c.openStore(ctx, cfg.Location)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
	}
	opts := []table.Option{table.EngineInfo("sluice/" + Version), table.DeferCheckpoints()}
	if cfg.Mode != ModeUpsert {
		opts = append(opts, table.ForAppending()) // an upsert reads the files it marks deleted
	} else {
		t.keys = upsert.NewCache(int64(cfg.KeyCache))
		if len(cfg.Key) > 0 {
			t.key.Store(&cfg.Key)
		}
	}
	t.tbl = table.New(store, opts...)
	t.maint = newMaintainer(t)
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
		if declared, err = cfg.tableSchema(); err != nil {
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
	if snap != nil && cfg.Mode == ModeUpsert {
		if err := checkUpsertTable(snap, cfg, cfg.Key); err != nil {
			return nil, fmt.Errorf("table %s (%s): %w", cfg.Name, store.URI(), err)
		}
	}
	if snap != nil {
		t.checkProperties(snap)
		spec, err := newSchemaSpec(cfg, snap.Metadata(), columnMapped(snap))
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
		}
		t.spec = spec
		t.version.Store(snap.Version())
		t.metrics.version.Set(float64(snap.Version()))
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

// checkProperties logs the configured table properties an existing table does not
// have: they apply when Sluice creates a table, and Sluice does not change another
// writer's table properties.
func (t *ingestTable) checkProperties(snap *table.Snapshot) {
	for _, k := range slices.Sorted(maps.Keys(t.cfg.TableProperties)) {
		if have := snap.Property(k, ""); have != t.cfg.TableProperties[k] {
			t.log.Warn("table property differs from the configuration (table_properties apply when Sluice creates the table)",
				"property", k, "table", have, "configured", t.cfg.TableProperties[k])
		}
	}
}

// isPermanentTableError says which table errors start-up retries would not fix.
func isPermanentTableError(err error) bool {
	var ue *table.UnsupportedFeatureError
	var ie *table.InvalidTableError
	return errors.As(err, &ue) || errors.As(err, &ie)
}

// create writes version 0 with the full schema (message columns plus derived and Kafka
// columns); another instance creating it first is fine.
func (t *ingestTable) create(ctx context.Context, full *table.StructType) (*table.Snapshot, error) {
	conf := maps.Clone(t.cfg.TableProperties)
	if t.cfg.Mode == ModeUpsert && t.cfg.UpsertStrategy == MergeOnRead {
		if conf == nil {
			conf = map[string]string{}
		}
		if _, set := conf["delta.enableDeletionVectors"]; !set {
			conf["delta.enableDeletionVectors"] = "true" // upserts mark replaced rows deleted
		}
	}
	snap, err := t.tbl.Create(ctx, table.CreateOptions{Name: t.cfg.Name, Schema: full, PartitionColumns: t.cfg.PartitionBy,
		Configuration: conf})
	if errors.Is(err, table.ErrTableExists) {
		snap, err = t.tbl.Snapshot(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: create: %w", t.cfg.Name, err)
	}
	t.log.Info("created table", "location", t.tbl.URI(), "columns", len(full.Fields), "partition_by", t.cfg.PartitionBy)
	return snap, nil
}

// start runs the workers (until their channels close), and the committer and the
// maintainer (until ctx ends); the two wait groups let the caller stop the committer before closing the
// channels it sends to.
func (t *ingestTable) start(ctx context.Context, workers, committers *sync.WaitGroup) {
	for _, w := range t.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			w.run(ctx)
		}()
	}
	committers.Add(2)
	go func() {
		defer committers.Done()
		defer close(t.done)
		t.run(ctx)
	}()
	go func() {
		defer committers.Done()
		t.maint.run(ctx)
	}()
}

// mine returns the partitions of parts whose topics the table reads.
func (t *ingestTable) mine(parts []tp) []tp {
	var out []tp
	for _, p := range parts {
		if t.reads(p.topic) {
			out = append(out, p)
		}
	}
	return out
}

// workerFor returns the worker a partition's messages go to: by the FNV-1a hash of the
// topic plus the partition number. It runs per message, so it hashes in place.
func (t *ingestTable) workerFor(p tp) *worker {
	if len(t.workers) == 1 {
		return t.workers[0]
	}
	h := uint32(2166136261)
	for i := 0; i < len(p.topic); i++ {
		h = (h ^ uint32(p.topic[i])) * 16777619
	}
	return t.workers[(h+uint32(p.partition))%uint32(len(t.workers))]
}

// keyNames returns the key columns of an upsert table, nil while not known.
func (t *ingestTable) keyNames() []string {
	if k := t.key.Load(); k != nil {
		return *k
	}
	return nil
}

// setKeyNames sets the key columns learnt from a message key, unless another worker
// set them first; it returns the table's.
func (t *ingestTable) setKeyNames(names []string) []string {
	if t.key.CompareAndSwap(nil, &names) {
		t.log.Info("key columns taken from the message key", "key", names)
	}
	return t.keyNames()
}

func (t *ingestTable) appID(p tp) string {
	return fmt.Sprintf("%s:%s:%d", t.conn.cfg.Name, p.topic, p.partition)
}

func (t *ingestTable) noteOldest() { t.oldest.CompareAndSwap(0, time.Now().UnixNano()) }

func (t *ingestTable) kickFlush() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// forceFlush asks for a flush whatever the limits say (memory budget).
func (t *ingestTable) forceFlush() {
	select {
	case t.force <- struct{}{}:
	default:
	}
}

// forget drops partitions after a revocation.
func (t *ingestTable) forget(ctx context.Context, parts []tp) {
	t.book.forget(parts)
	byWorker := map[*worker][]tp{}
	for _, p := range parts {
		w := t.workerFor(p)
		byWorker[w] = append(byWorker[w], p)
	}
	for w, ps := range byWorker {
		select {
		case w.in <- workItem{kind: itemForget, forget: ps}:
		case <-ctx.Done():
			return
		}
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
// upload runs through retry, which calls it until it succeeds or gives up. Rows of p
// among dead are marked deleted by a deletion vector on their file's add; a file
// whose rows are all dead is not added.
func writeFiles(ctx context.Context, store storage.Storage, p *writer.Pending, codec string, dead []writer.RowRef, retry func(op func() error) error) ([]table.Add, error) {
	var adds []table.Add
	var mine []int // the dead rows of p
	for _, r := range dead {
		if p.Holds(r) {
			mine = append(mine, r.Index())
		}
	}
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
		add := table.Add{Path: table.EncodePath(key), PartitionValues: p.PartitionValues, Size: info.Size,
			ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: info.Stats}
		var rows []uint64
		for _, i := range mine {
			if i >= info.FirstRow && i < info.FirstRow+info.Rows {
				rows = append(rows, uint64(i-info.FirstRow))
			}
		}
		if len(rows) > 0 {
			var changed bool
			fresh := add
			err := retry(func() error {
				var err error
				_, add, changed, err = table.MarkDeleted(ctx, store, &fresh, rows)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("data file %s: deletion vector: %w", key, err)
			}
			if changed && add.DeletionVector.Cardinality == int64(info.Rows) {
				_ = store.Delete(ctx, key) // every row is dead: the file is not added
				continue
			}
		}
		adds = append(adds, add)
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
