package table

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table/storage"
)

// voidSchemaString is what Spark 4 writes for CREATE TABLE t AS SELECT 1L AS id,
// NULL AS x, named_struct('a', 1, 'n', NULL) AS s.
const voidSchemaString = `{"type":"struct","fields":[` +
	`{"name":"id","type":"long","nullable":false,"metadata":{}},` +
	`{"name":"x","type":"void","nullable":true,"metadata":{}},` +
	`{"name":"s","type":{"type":"struct","fields":[{"name":"a","type":"integer","nullable":false,"metadata":{}},{"name":"n","type":"void","nullable":true,"metadata":{}}]},"nullable":false,"metadata":{}}]}`

func TestVoidSchemaRoundTrip(t *testing.T) {
	s, err := ParseSchema(voidSchemaString)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Field("x").Type; got != Void {
		t.Errorf("x: got %v, want void", got)
	}
	if got := s.Field("s").Type.(*StructType).Field("n").Type; got != Void {
		t.Errorf("s.n: got %v, want void", got)
	}
	if got := s.SchemaString(); got != voidSchemaString {
		t.Errorf("round trip differs\n got %s\nwant %s", got, voidSchemaString)
	}
	if p, err := ParsePrimitive("void"); err != nil || p != Void {
		t.Errorf("ParsePrimitive(void) = %v, %v", p, err)
	}
}

// TestVoidTableLoads: a log whose schema has void columns loads, and takes appends.
func TestVoidTableLoads(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	v0 := `{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}
{"metaData":{"id":"6b1c3a4e-2f3d-4c7e-9a61-0c2b8f1d5e77","format":{"provider":"parquet","options":{}},"schemaString":` + strconv.Quote(voidSchemaString) + `,"partitionColumns":[],"configuration":{},"createdTime":1700000000000}}
{"add":{"path":"part-00000.parquet","partitionValues":{},"size":500,"modificationTime":1700000000000,"dataChange":true,"stats":"{\"numRecords\":1,\"minValues\":{\"id\":1,\"s\":{\"a\":1}},\"maxValues\":{\"id\":1,\"s\":{\"a\":1}},\"nullCount\":{\"id\":0,\"x\":1,\"s\":{\"a\":0,\"n\":1}}}"}}
`
	if err := store.PutIfAbsent(ctx, CommitKey(0), []byte(v0)); err != nil {
		t.Fatal(err)
	}
	tbl := New(store)
	snap, err := tbl.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Schema().SchemaString(); got != voidSchemaString {
		t.Errorf("schema\n got %s\nwant %s", got, voidSchemaString)
	}
	res, err := tbl.Commit(ctx, &Transaction{Adds: []Add{{Path: "part-00001.parquet", PartitionValues: map[string]*string{}, Size: 10, DataChange: true, Stats: `{"numRecords":1}`}}})
	if err != nil {
		t.Fatal(err)
	}
	if snap, err = tbl.Snapshot(ctx); err != nil || len(snap.Files()) != 2 || res.Version != 1 {
		t.Fatalf("after append: version %d, %v", res.Version, err)
	}
}

func TestVoidPartitionColumnRefused(t *testing.T) {
	s, err := ParseSchema(voidSchemaString)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(storage.NewMemory(t.Name())).Create(context.Background(), CreateOptions{Name: "t", Schema: s, PartitionColumns: []string{"x"}})
	if err == nil || !strings.Contains(err.Error(), "void") {
		t.Fatalf("got %v, want a void partition column refused", err)
	}
}

// A type this package does not know (Databricks' geometry, say) is an unsupported
// feature naming the type, not a corrupt log.
func TestUnknownTypeIsUnsupportedFeature(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	schema := `{"type":"struct","fields":[{"name":"id","type":"long","nullable":true,"metadata":{}},{"name":"shape","type":"geometry(OGC:CRS84)","nullable":true,"metadata":{}}]}`
	v0 := `{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}
{"metaData":{"id":"6b1c3a4e-2f3d-4c7e-9a61-0c2b8f1d5e78","format":{"provider":"parquet","options":{}},"schemaString":` + strconv.Quote(schema) + `,"partitionColumns":[],"configuration":{},"createdTime":1700000000000}}
`
	if err := store.PutIfAbsent(ctx, CommitKey(0), []byte(v0)); err != nil {
		t.Fatal(err)
	}
	_, err := Load(ctx, store)
	var ue *UnsupportedFeatureError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "geometry(OGC:CRS84)") {
		t.Fatalf("got %v, want an UnsupportedFeatureError naming the type", err)
	}
}
