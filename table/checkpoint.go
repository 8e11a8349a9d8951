package table

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table/storage"
)

// The checkpoint row types mirror the schema Spark writes for classic checkpoints
// (column names, nesting, physical and logical types); checkpoint_test compares them
// with a Spark-written checkpoint. Every field is optional, as in Spark's files.

type cpTxn struct {
	AppID       *string `parquet:"appId,optional"`
	Version     *int64  `parquet:"version,optional,int(64)"`
	LastUpdated *int64  `parquet:"lastUpdated,optional,int(64)"`
}

type cpDV struct {
	StorageType    *string `parquet:"storageType,optional"`
	PathOrInlineDv *string `parquet:"pathOrInlineDv,optional"`
	Offset         *int32  `parquet:"offset,optional,int(32)"`
	SizeInBytes    *int32  `parquet:"sizeInBytes,optional,int(32)"`
	Cardinality    *int64  `parquet:"cardinality,optional,int(64)"`
	MaxRowIndex    *int64  `parquet:"maxRowIndex,optional,int(64)"`
}

type cpAdd struct {
	Path             *string            `parquet:"path,optional"`
	PartitionValues  map[string]*string `parquet:"partitionValues,optional"`
	Size             *int64             `parquet:"size,optional,int(64)"`
	ModificationTime *int64             `parquet:"modificationTime,optional,int(64)"`
	DataChange       *bool              `parquet:"dataChange,optional"`
	Tags             map[string]*string `parquet:"tags,optional"`
	DeletionVector   *cpDV              `parquet:"deletionVector,optional"`
	BaseRowID        *int64             `parquet:"baseRowId,optional,int(64)"`
	DefaultRowCommit *int64             `parquet:"defaultRowCommitVersion,optional,int(64)"`
	Stats            *string            `parquet:"stats,optional"`
}

type cpRemove struct {
	Path                 *string            `parquet:"path,optional"`
	DeletionTimestamp    *int64             `parquet:"deletionTimestamp,optional,int(64)"`
	DataChange           *bool              `parquet:"dataChange,optional"`
	ExtendedFileMetadata *bool              `parquet:"extendedFileMetadata,optional"`
	PartitionValues      map[string]*string `parquet:"partitionValues,optional"`
	Size                 *int64             `parquet:"size,optional,int(64)"`
	DeletionVector       *cpDV              `parquet:"deletionVector,optional"`
	BaseRowID            *int64             `parquet:"baseRowId,optional,int(64)"`
	DefaultRowCommit     *int64             `parquet:"defaultRowCommitVersion,optional,int(64)"`
}

type cpFormat struct {
	Provider *string            `parquet:"provider,optional"`
	Options  map[string]*string `parquet:"options,optional"`
}

type cpMetadata struct {
	ID               *string            `parquet:"id,optional"`
	Name             *string            `parquet:"name,optional"`
	Description      *string            `parquet:"description,optional"`
	Format           *cpFormat          `parquet:"format,optional"`
	SchemaString     *string            `parquet:"schemaString,optional"`
	PartitionColumns []*string          `parquet:"partitionColumns,optional,list"`
	Configuration    map[string]*string `parquet:"configuration,optional"`
	CreatedTime      *int64             `parquet:"createdTime,optional,int(64)"`
}

type cpProtocol struct {
	MinReaderVersion *int32    `parquet:"minReaderVersion,optional,int(32)"`
	MinWriterVersion *int32    `parquet:"minWriterVersion,optional,int(32)"`
	ReaderFeatures   []*string `parquet:"readerFeatures,optional,list"`
	WriterFeatures   []*string `parquet:"writerFeatures,optional,list"`
}

type cpDomainMetadata struct {
	Domain        *string `parquet:"domain,optional"`
	Configuration *string `parquet:"configuration,optional"`
	Removed       *bool   `parquet:"removed,optional"`
}

type cpRow struct {
	Txn            *cpTxn            `parquet:"txn,optional"`
	Add            *cpAdd            `parquet:"add,optional"`
	Remove         *cpRemove         `parquet:"remove,optional"`
	MetaData       *cpMetadata       `parquet:"metaData,optional"`
	Protocol       *cpProtocol       `parquet:"protocol,optional"`
	DomainMetadata *cpDomainMetadata `parquet:"domainMetadata,optional"`
}

// checkpointSchema names the root as Spark does.
var checkpointSchema = parquet.NewSchema("spark_schema", parquet.SchemaOf(new(cpRow)))

// lastCheckpoint is the content of _delta_log/_last_checkpoint.
type lastCheckpoint struct {
	Version       int64 `json:"version"`
	Size          int64 `json:"size"`
	Parts         *int  `json:"parts,omitempty"`
	SizeInBytes   int64 `json:"sizeInBytes,omitempty"`
	NumOfAddFiles int64 `json:"numOfAddFiles,omitempty"`
	// V2Checkpoint names the checkpoint when it is UUID-named (written by others; its
	// other fields, which embed the checkpoint's non-file actions, are not read).
	V2Checkpoint *lastCheckpointV2 `json:"v2Checkpoint,omitempty"`
}

// LastCheckpointKey is the key of the checkpoint hint file.
const LastCheckpointKey = LogDir + "_last_checkpoint"

// CheckpointKey is the key of a classic single-part checkpoint.
func CheckpointKey(version int64) string {
	return fmt.Sprintf("%s%020d.checkpoint.parquet", LogDir, version)
}

// readLastCheckpoint returns the hint, or ok=false when it is missing or unreadable
// (a reader then lists the log; a bad hint is never fatal).
func readLastCheckpoint(ctx context.Context, store storage.Storage) (lastCheckpoint, bool) {
	data, err := store.Get(ctx, LastCheckpointKey)
	if err != nil {
		return lastCheckpoint{}, false
	}
	var lc lastCheckpoint
	if err := json.Unmarshal(data, &lc); err != nil || lc.Version < 0 {
		return lastCheckpoint{}, false
	}
	return lc, true
}

// checkpointCandidates returns, for each version, its complete checkpoints in the order
// a reader tries them: classic, UUID-named (v2), then multi-part, each as its files in
// part order. A multi-part checkpoint is complete when parts 1..n all exist; several may
// exist at one version when writers raced.
func checkpointCandidates(files []logFile) map[int64][][]logFile {
	type key struct {
		version int64
		parts   int
	}
	groups := map[key][]logFile{}
	out := map[int64][][]logFile{}
	for _, f := range files {
		switch f.kind {
		case logCheckpoint:
			out[f.version] = slices.Insert(out[f.version], 0, []logFile{f})
		case logCheckpointV2:
			out[f.version] = append(out[f.version], []logFile{f})
		case logCheckpointMP:
			k := key{f.version, f.parts}
			groups[k] = append(groups[k], f)
		}
	}
	// Listed files come in key order, so UUID-named ones already are; sort the groups
	// by part count to try them in a stable order too.
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b key) int { return a.parts - b.parts })
	for _, k := range keys {
		fs := groups[k]
		slices.SortFunc(fs, func(a, b logFile) int { return a.part - b.part })
		complete := len(fs) == k.parts
		for i, f := range fs {
			complete = complete && f.part == i+1
		}
		if complete {
			out[k.version] = append(out[k.version], fs)
		}
	}
	return out
}

// checkpointParts returns, for each version with a complete checkpoint, the files of
// the first one a reader tries (checkpointCandidates).
func checkpointParts(files []logFile) map[int64][]logFile {
	out := map[int64][]logFile{}
	for v, cands := range checkpointCandidates(files) {
		out[v] = cands[0]
	}
	return out
}

// loadCheckpoint reads one checkpoint into an empty snapshot at its version: its files
// (the parts of a multi-part one, in order), then the sidecars a V2-spec checkpoint
// names (checkpoint_v2.go). Rows are applied as they are decoded rather than collected
// first.
func (s *Snapshot) loadCheckpoint(ctx context.Context, store storage.Storage, version int64, parts []logFile) error {
	var v2 v2Rows
	for _, f := range parts {
		data, err := store.Get(ctx, f.key)
		if err != nil {
			return fmt.Errorf("read checkpoint %s: %w", f.key, err)
		}
		if strings.HasSuffix(f.key, ".json") {
			err = s.applyJSONCheckpoint(version, data, &v2)
		} else {
			err = s.applyParquetCheckpoint(version, data, &v2)
		}
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", f.key, err)
		}
	}
	if err := s.loadSidecars(ctx, store, version, parts, v2); err != nil {
		return err
	}
	s.version = version // a checkpoint without rows still is one
	s.checkpointVersion = version
	return nil
}

// applyParquetCheckpoint applies the classic rows of a checkpoint (or sidecar) file in
// Parquet and collects its V2-spec rows into v2.
func (s *Snapshot) applyParquetCheckpoint(version int64, data []byte, v2 *v2Rows) error {
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	b := actionBatch{s: s, version: version}
	if err := eachRow(pf, func(row *cpRow) error {
		if s.noFiles && (row.Add != nil || row.Remove != nil) {
			return nil
		}
		if a, ok := row.action(); ok {
			return b.add(a)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := b.flush(); err != nil {
		return err
	}
	return v2.readParquet(pf)
}

// eachRow calls f with every row of pf read as T, reading a batch at a time so that the
// rows are never all held at once, until f returns an error.
func eachRow[T any](pf *parquet.File, f func(*T) error) error {
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	rows := make([]T, 256)
	var zero T
	for {
		n, err := r.Read(rows)
		for i := range rows[:n] {
			if ferr := f(&rows[i]); ferr != nil {
				return ferr
			}
			rows[i] = zero
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// actionBatch applies the actions of a checkpoint to a snapshot in batches, so that its
// rows are never all held at once.
type actionBatch struct {
	s       *Snapshot
	version int64
	actions []Action
}

func (b *actionBatch) add(a Action) error {
	if b.actions == nil {
		b.actions = make([]Action, 0, 256)
	}
	b.actions = append(b.actions, a)
	if len(b.actions) < cap(b.actions) {
		return nil
	}
	return b.flush()
}

func (b *actionBatch) flush() error {
	err := b.s.apply(b.version, b.actions)
	clear(b.actions)
	b.actions = b.actions[:0]
	return err
}

// action converts one checkpoint row.
func (r *cpRow) action() (Action, bool) {
	switch {
	case r.Add != nil && r.Add.Path != nil:
		a := r.Add
		return Action{Add: &Add{
			Path: *a.Path, PartitionValues: nonNilMap(a.PartitionValues), Size: deref(a.Size),
			ModificationTime: deref(a.ModificationTime), DataChange: deref(a.DataChange),
			Stats: deref(a.Stats), Tags: flattenMap(a.Tags), DeletionVector: a.DeletionVector.toAction(),
			BaseRowID: a.BaseRowID, DefaultRowCommit: a.DefaultRowCommit,
		}}, true
	case r.Remove != nil && r.Remove.Path != nil:
		m := r.Remove
		return Action{Remove: &Remove{
			Path: *m.Path, DeletionTimestamp: m.DeletionTimestamp, DataChange: deref(m.DataChange),
			ExtendedFileMetadata: m.ExtendedFileMetadata, PartitionValues: m.PartitionValues, Size: m.Size,
			DeletionVector: m.DeletionVector.toAction(), BaseRowID: m.BaseRowID, DefaultRowCommit: m.DefaultRowCommit,
		}}, true
	case r.Txn != nil && r.Txn.AppID != nil:
		return Action{Txn: &Txn{AppID: *r.Txn.AppID, Version: deref(r.Txn.Version), LastUpdated: r.Txn.LastUpdated}}, true
	case r.MetaData != nil && r.MetaData.ID != nil:
		m := r.MetaData
		md := &Metadata{ID: *m.ID, Name: m.Name, Description: m.Description, SchemaString: deref(m.SchemaString),
			PartitionColumns: []string{}, Configuration: flattenMap(m.Configuration), CreatedTime: m.CreatedTime,
			Format: Format{Provider: "parquet", Options: map[string]string{}}}
		if m.Format != nil {
			md.Format = Format{Provider: deref(m.Format.Provider), Options: flattenMap(m.Format.Options)}
		}
		for _, c := range m.PartitionColumns {
			md.PartitionColumns = append(md.PartitionColumns, deref(c))
		}
		if md.Configuration == nil {
			md.Configuration = map[string]string{}
		}
		return Action{MetaData: md}, true
	case r.Protocol != nil && r.Protocol.MinReaderVersion != nil:
		p := r.Protocol
		pr := &Protocol{MinReaderVersion: int(*p.MinReaderVersion), MinWriterVersion: int(deref(p.MinWriterVersion))}
		for _, f := range p.ReaderFeatures {
			pr.ReaderFeatures = append(pr.ReaderFeatures, deref(f))
		}
		for _, f := range p.WriterFeatures {
			pr.WriterFeatures = append(pr.WriterFeatures, deref(f))
		}
		return Action{Protocol: pr}, true
	case r.DomainMetadata != nil && r.DomainMetadata.Domain != nil:
		d := r.DomainMetadata
		return Action{DomainMetadata: &DomainMetadata{Domain: *d.Domain, Configuration: deref(d.Configuration), Removed: deref(d.Removed)}}, true
	}
	return Action{}, false
}

func (dv *cpDV) toAction() *DeletionVector {
	if dv == nil || dv.StorageType == nil {
		return nil
	}
	return &DeletionVector{StorageType: *dv.StorageType, PathOrInlineDv: deref(dv.PathOrInlineDv), Offset: dv.Offset,
		SizeInBytes: deref(dv.SizeInBytes), Cardinality: deref(dv.Cardinality)}
}

func fromDV(dv *DeletionVector) *cpDV {
	if dv == nil {
		return nil
	}
	return &cpDV{StorageType: &dv.StorageType, PathOrInlineDv: &dv.PathOrInlineDv, Offset: dv.Offset,
		SizeInBytes: &dv.SizeInBytes, Cardinality: &dv.Cardinality}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func nonNilMap(m map[string]*string) map[string]*string {
	if m == nil {
		return map[string]*string{}
	}
	return m
}

func flattenMap(m map[string]*string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = deref(v)
	}
	return out
}

func pointerMap(m map[string]string) map[string]*string {
	if m == nil {
		return nil
	}
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = ptr(v)
	}
	return out
}

func stringPtrs(ss []string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

// checkpointRows yields the snapshot as checkpoint rows, one at a time so that they are
// never all held at once: protocol, metaData, txns, domain metadata, live files and the
// tombstones still within retention.
func (s *Snapshot) checkpointRows(now time.Time) iter.Seq[cpRow] {
	return func(yield func(cpRow) bool) {
		for _, row := range s.nonFileRows() {
			if !yield(row) {
				return
			}
		}
		for _, a := range s.Files() {
			if !yield(cpRow{Add: checkpointAdd(a)}) {
				return
			}
		}
		cutoff := s.tombstoneCutoff(now)
		for _, k := range sortedFileKeys(s.tombstones) {
			r := s.tombstones[k]
			if expired(r, cutoff) {
				continue
			}
			if !yield(cpRow{Remove: &cpRemove{
				Path: ptr(r.Path), DeletionTimestamp: r.DeletionTimestamp, DataChange: ptr(false),
				ExtendedFileMetadata: r.ExtendedFileMetadata, PartitionValues: r.PartitionValues, Size: r.Size,
				DeletionVector: fromDV(r.DeletionVector), BaseRowID: r.BaseRowID, DefaultRowCommit: r.DefaultRowCommit,
			}}) {
				return
			}
		}
	}
}

// nonFileRows returns the checkpoint rows of the snapshot's non-file actions: protocol,
// metaData, txns and domain metadata.
func (s *Snapshot) nonFileRows() []cpRow {
	p := s.protocol
	cp := &cpProtocol{MinReaderVersion: ptr(int32(p.MinReaderVersion)), MinWriterVersion: ptr(int32(p.MinWriterVersion))}
	if p.MinReaderVersion >= 3 {
		cp.ReaderFeatures = stringPtrs(p.ReaderFeatures)
	}
	if p.MinWriterVersion >= 7 {
		cp.WriterFeatures = stringPtrs(p.WriterFeatures)
	}
	m := s.metadata
	rows := []cpRow{{Protocol: cp}, {MetaData: &cpMetadata{
		ID: &m.ID, Name: m.Name, Description: m.Description,
		Format:       &cpFormat{Provider: &m.Format.Provider, Options: pointerMap(nonNilStrMap(m.Format.Options))},
		SchemaString: &m.SchemaString, PartitionColumns: stringPtrs(m.PartitionColumns),
		Configuration: pointerMap(nonNilStrMap(m.Configuration)), CreatedTime: m.CreatedTime,
	}}}
	for _, id := range slices.Sorted(maps.Keys(s.txns)) {
		t := s.txns[id]
		rows = append(rows, cpRow{Txn: &cpTxn{AppID: ptr(t.AppID), Version: ptr(t.Version), LastUpdated: t.LastUpdated}})
	}
	for _, d := range slices.Sorted(maps.Keys(s.domains)) {
		dm := s.domains[d]
		rows = append(rows, cpRow{DomainMetadata: &cpDomainMetadata{Domain: ptr(dm.Domain), Configuration: ptr(dm.Configuration), Removed: ptr(false)}})
	}
	return rows
}

// checkpointAdd is the checkpoint row of a live file: dataChange is false in checkpoints.
func checkpointAdd(a *Add) *cpAdd {
	return &cpAdd{
		Path: ptr(a.Path), PartitionValues: nonNilMap(a.PartitionValues), Size: ptr(a.Size),
		ModificationTime: ptr(a.ModificationTime), DataChange: ptr(false), Tags: pointerMap(a.Tags),
		DeletionVector: fromDV(a.DeletionVector), BaseRowID: a.BaseRowID, DefaultRowCommit: a.DefaultRowCommit,
		Stats: optString(a.Stats),
	}
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNilStrMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// checkpointRowGroupRows bounds a checkpoint's row groups: the Parquet writer holds a
// row group's pages in memory until the group is complete.
const checkpointRowGroupRows = 10_000

// writeCheckpoint writes a checkpoint of the snapshot in the form its table takes (V2
// spec with sidecars when it has the v2Checkpoint feature, checkpoint_v2.go; else
// classic), then _last_checkpoint. Its files are encoded straight into the store
// (parquetObject), so that neither their rows nor their bytes are ever held whole.
func (s *Snapshot) writeCheckpoint(ctx context.Context, store storage.Storage, now time.Time) error {
	if s.v2Checkpoints() {
		return s.writeCheckpointV2(ctx, store, now, sidecarActions)
	}
	cp := newParquetObject[cpRow](ctx, store, CheckpointKey(s.version), checkpointSchema)
	var adds int64
	var err error
	for row := range s.checkpointRows(now) {
		if row.Add != nil {
			adds++
		}
		if err = cp.write(row); err != nil {
			break
		}
	}
	if err := cp.finish(err); err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.version, err)
	}
	return putLastCheckpoint(ctx, store, lastCheckpoint{Version: s.version, Size: cp.rows, SizeInBytes: cp.out.n, NumOfAddFiles: adds})
}

// putLastCheckpoint replaces _last_checkpoint with lc.
func putLastCheckpoint(ctx context.Context, store storage.Storage, lc lastCheckpoint) error {
	hint, err := encodeJSON(lc)
	if err == nil {
		err = store.Put(ctx, LastCheckpointKey, bytes.NewReader(hint), int64(len(hint)))
	}
	if err != nil {
		return fmt.Errorf("checkpoint %d: _last_checkpoint: %w", lc.Version, err)
	}
	return nil
}

// parquetObject encodes rows of type T as one Parquet object of the store, streamed into
// it as they are written: the store's Put reads the other end of a pipe (as data files
// are written), and row groups are bounded by checkpointRowGroupRows. Every object
// started must be ended by finish.
type parquetObject[T any] struct {
	key   string
	pipe  *io.PipeWriter
	out   *countingWriter // out.n is the size of the object written so far
	w     *parquet.GenericWriter[T]
	batch []T
	rows  int64
	put   chan error
}

func newParquetObject[T any](ctx context.Context, store storage.Storage, key string, schema *parquet.Schema) *parquetObject[T] {
	pr, pw := io.Pipe()
	o := &parquetObject[T]{key: key, pipe: pw, out: &countingWriter{w: pw}, batch: make([]T, 0, 1024), put: make(chan error, 1)}
	o.w = parquet.NewGenericWriter[T](o.out, schema, parquet.Compression(&parquet.Snappy),
		parquet.CreatedBy("sluice", "", ""), parquet.MaxRowsPerRowGroup(checkpointRowGroupRows))
	go func() {
		err := store.Put(ctx, key, pr, -1)
		pr.CloseWithError(errors.Join(err, io.ErrClosedPipe)) // stops an encoder the put left behind
		o.put <- err
	}()
	return o
}

func (o *parquetObject[T]) write(row T) error {
	o.batch = append(o.batch, row)
	o.rows++
	if len(o.batch) < cap(o.batch) {
		return nil
	}
	return o.flush()
}

func (o *parquetObject[T]) flush() error {
	_, err := o.w.Write(o.batch)
	clear(o.batch)
	o.batch = o.batch[:0]
	return err
}

// finish completes the object and waits for the put to end. A non-nil encErr (the
// caller failed to produce the rows) aborts the put instead, leaving no object.
func (o *parquetObject[T]) finish(encErr error) error {
	if encErr == nil {
		encErr = o.flush()
	}
	if encErr == nil {
		encErr = o.w.Close()
	}
	o.pipe.CloseWithError(encErr)
	putErr := <-o.put
	switch {
	case encErr != nil && !errors.Is(encErr, io.ErrClosedPipe):
		return fmt.Errorf("encode: %w", encErr)
	case putErr != nil:
		return putErr
	case encErr != nil:
		return fmt.Errorf("the store stopped reading it: %w", encErr)
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func sortedFileKeys[V any](m map[fileKey]V) []fileKey {
	keys := make([]fileKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b fileKey) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return strings.Compare(a.dv, b.dv)
	})
	return keys
}
