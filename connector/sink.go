package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// tp names a Kafka partition.
type tp struct {
	topic     string
	partition int32
}

func (p tp) String() string { return fmt.Sprintf("%s[%d]", p.topic, p.partition) }

// partState is what a sink knows about one assigned partition.
type partState struct {
	appID string
	// prev is the txn version the table holds for appID (the last offset committed), or
	// -1 when it holds none. The next commit must continue from it.
	prev int64
	// next is the first offset this sink still has to ingest; messages below it are
	// already in the table or in the buffer.
	next int64
	// first and last bound the offsets in the current batch; first is -1 when the batch
	// holds nothing from this partition.
	first, last int64
}

// sink is the runtime of one table: its buffer, decoder and the Kafka partitions it
// has rows from.
type sink struct {
	cfg       *TableConfig
	name      string // connector name, the appId prefix
	tbl       *table.Table
	buf       *writer.Buffer
	dec       *schema.JSONDecoder
	schema    string // schemaString the data files are written with
	log       *slog.Logger
	parts     map[tp]*partState
	kafkaCols struct{ topic, partition, offset, timestamp int }

	// Totals for the summary.
	rowsCommitted int64
	commits       int64
	filesWritten  int64
	bytesWritten  int64
}

// openSink opens (or creates) the table and builds its buffer and decoder.
func openSink(ctx context.Context, connectorName string, cfg *TableConfig, log *slog.Logger) (*sink, error) {
	store, err := storage.Open(ctx, cfg.Location)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
	}
	tbl := table.New(store, table.EngineInfo("sluice/"+Version))
	declared, err := cfg.TableSchema()
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
	}
	snap, err := tbl.Snapshot(ctx)
	switch {
	case errors.Is(err, table.ErrNotATable):
		snap, err = tbl.Create(ctx, table.CreateOptions{Name: cfg.Name, Schema: declared, PartitionColumns: cfg.PartitionBy})
		if errors.Is(err, table.ErrTableExists) { // another instance created it first
			snap, err = tbl.Snapshot(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
		}
		log.Info("created table", "table", cfg.Name, "location", tbl.URI(), "columns", len(declared.Fields), "partition_by", cfg.PartitionBy)
	case err != nil:
		return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
	}
	if err := checkExistingTable(snap, declared, cfg.PartitionBy); err != nil {
		return nil, fmt.Errorf("table %s (%s): %w", cfg.Name, tbl.URI(), err)
	}
	derived, err := cfg.Derivations()
	if err != nil {
		return nil, err
	}
	spec := writer.Spec{Schema: snap.Schema(), PartitionColumns: snap.PartitionColumns(), Derived: derived}
	buf, err := writer.NewBuffer(spec, writer.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
	}
	s := &sink{cfg: cfg, name: connectorName, tbl: tbl, buf: buf, schema: snap.Metadata().SchemaString,
		log: log.With("table", cfg.Name), parts: map[tp]*partState{}}
	s.kafkaCols.topic, s.kafkaCols.partition, s.kafkaCols.offset, s.kafkaCols.timestamp = -1, -1, -1, -1
	var decoded []*writer.Column
	for _, c := range buf.Columns() {
		switch {
		case cfg.KafkaColumns && c.Name == ColKafkaTopic:
			s.kafkaCols.topic = c.Index
		case cfg.KafkaColumns && c.Name == ColKafkaPartition:
			s.kafkaCols.partition = c.Index
		case cfg.KafkaColumns && c.Name == ColKafkaOffset:
			s.kafkaCols.offset = c.Index
		case cfg.KafkaColumns && c.Name == ColKafkaTimestamp:
			s.kafkaCols.timestamp = c.Index
		case c.Derived != nil:
		default:
			decoded = append(decoded, c)
		}
	}
	s.dec, err = schema.NewJSONDecoder(buf, decoded, schema.JSONOptions{
		UnknownFields: schema.UnknownFields(cfg.JSON.UnknownFields),
		EpochUnit:     schema.EpochUnit(cfg.JSON.EpochUnit),
	})
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", cfg.Name, err)
	}
	return s, nil
}

// checkExistingTable refuses a table the configuration does not fit: every declared
// column must exist with the same type, and the partitioning must match.
func checkExistingTable(snap *table.Snapshot, declared *table.StructType, partitionBy []string) error {
	have := snap.Schema()
	for _, f := range declared.Fields {
		hf := have.Field(f.Name)
		if hf == nil {
			return fmt.Errorf("column %q is configured but not in the table (schema evolution is not enabled)", f.Name)
		}
		if hf.Type.String() != f.Type.String() {
			return fmt.Errorf("column %q is %s in the table but configured as %s", f.Name, hf.Type, f.Type)
		}
	}
	got := snap.PartitionColumns()
	if fmt.Sprint(got) != fmt.Sprint(append([]string{}, partitionBy...)) {
		return fmt.Errorf("the table is partitioned by %v but the configuration says partition_by %v", got, partitionBy)
	}
	return nil
}

func (s *sink) appID(p tp) string { return fmt.Sprintf("%s:%s:%d", s.name, p.topic, p.partition) }

// assign reads the table's txn for the partition and returns the first offset to ingest
// (-1 for "the start policy decides").
func (s *sink) assign(snap *table.Snapshot, p tp) *partState {
	st := &partState{appID: s.appID(p), prev: -1, next: -1, first: -1}
	if v, ok := snap.Txn(st.appID); ok {
		st.prev, st.next = v, v+1
	}
	s.parts[p] = st
	return st
}

// add decodes one message into the buffer. It returns false when the sink already has
// the offset (it is in the table or in the buffer).
func (s *sink) add(p tp, offset int64, value []byte, ts time.Time, hasTS bool) (bool, error) {
	st := s.parts[p]
	if st == nil || offset < st.next {
		return false, nil
	}
	if err := s.dec.Decode(value); err != nil {
		s.buf.AbortRow()
		return false, err
	}
	if s.kafkaCols.topic >= 0 {
		s.buf.SetBytes(s.kafkaCols.topic, []byte(p.topic))
	}
	if s.kafkaCols.partition >= 0 {
		s.buf.SetInt(s.kafkaCols.partition, int64(p.partition))
	}
	if s.kafkaCols.offset >= 0 {
		s.buf.SetInt(s.kafkaCols.offset, offset)
	}
	if s.kafkaCols.timestamp >= 0 {
		if hasTS {
			s.buf.SetInt(s.kafkaCols.timestamp, ts.UnixMicro())
		} else {
			s.buf.SetNull(s.kafkaCols.timestamp)
		}
	}
	if err := s.buf.EndRow(); err != nil {
		return false, err
	}
	if st.first < 0 {
		st.first = offset
	}
	st.last = offset
	st.next = offset + 1
	return true, nil
}

// dueForFlush reports whether a flush limit is reached.
func (s *sink) dueForFlush(now time.Time) bool {
	if s.buf.Rows() == 0 {
		return false
	}
	return s.buf.Rows() >= s.cfg.Flush.MaxRows ||
		s.buf.Bytes() >= int64(s.cfg.Flush.MaxBytes) ||
		now.Sub(s.buf.Oldest()) >= time.Duration(s.cfg.Flush.MaxLatency)
}

// pendingOffsets reports whether any partition has a batch to commit.
func (s *sink) pendingOffsets() bool {
	for _, st := range s.parts {
		if st.first >= 0 {
			return true
		}
	}
	return false
}

// flush writes the buffered rows as data files and commits them with one txn per
// partition. A *table.TxnConflictError means another writer owns a partition now: the
// batch is dropped (its files are left for vacuum) and the caller must re-seek.
func (s *sink) flush(ctx context.Context) error {
	if s.buf.Rows() == 0 && !s.pendingOffsets() {
		return nil
	}
	start := time.Now()
	rows := s.buf.Rows()
	pending := s.buf.Take()
	adds := make([]table.Add, 0, len(pending))
	var bytesOut int64
	for _, p := range pending {
		for !p.Done() {
			key := s.fileKey(p.Dir)
			info, err := uploadFile(ctx, s.tbl.Store(), key, p)
			if err != nil {
				return fmt.Errorf("table %s: write data file %s: %w", s.cfg.Name, key, err)
			}
			adds = append(adds, table.Add{
				Path: table.EncodePath(key), PartitionValues: p.PartitionValues, Size: info.Size,
				ModificationTime: time.Now().UnixMilli(), DataChange: true, Stats: info.Stats,
			})
			bytesOut += info.Size
		}
		p.Release()
	}
	tx := &table.Transaction{Adds: adds, SchemaString: s.schema,
		Parameters: map[string]string{"outputMode": "Append", "connector": s.name}}
	for _, st := range s.parts {
		if st.first >= 0 {
			tx.AppTxns = append(tx.AppTxns, table.AppTxn{AppID: st.appID, Prev: st.prev, Version: st.last})
		}
	}
	res, err := s.tbl.Commit(ctx, tx)
	if err != nil {
		for _, st := range s.parts {
			st.first = -1
		}
		return err
	}
	for _, st := range s.parts {
		if st.first >= 0 {
			st.prev, st.first = st.last, -1
		}
	}
	s.rowsCommitted += int64(rows)
	s.commits++
	s.filesWritten += int64(len(adds))
	s.bytesWritten += bytesOut
	s.log.Info("committed", "version", res.Version, "rows", rows, "files", len(adds), "bytes", bytesOut,
		"partitions", len(tx.AppTxns), "attempts", res.Attempts, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// fileKey names a new data file the way Spark does: part-00000-<uuid>-c000.<codec>.parquet.
func (s *sink) fileKey(dir string) string {
	codec := s.buf.Config().Compression
	ext := "." + codec + ".parquet"
	if codec == "none" || codec == "uncompressed" {
		ext = ".parquet"
	}
	key := "part-00000-" + uuid.NewString() + "-c000" + ext
	if dir != "" {
		key = dir + "/" + key
	}
	return key
}

// uploadFile encodes the next file of p straight into the store through a pipe, so the
// encoded file is never held whole in memory and encoding overlaps the upload.
func uploadFile(ctx context.Context, store storage.Storage, key string, p *writer.Pending) (writer.FileInfo, error) {
	pr, pw := io.Pipe()
	var info writer.FileInfo
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

// discard drops the buffered rows and forgets the batch; partitions restart from the
// table's txn (the caller re-seeks).
func (s *sink) discard() {
	s.buf.Take()
	for _, st := range s.parts {
		st.first = -1
	}
}
