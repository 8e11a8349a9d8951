package table

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table/storage"
)

// Under column mapping, files written with a schema fit a table whose column was
// renamed since (the files still hold it by its physical name), but not one whose
// column was dropped and added again under the same name (a new physical name: the
// files' values would be lost).
func TestCommitMatchesColumnsByPhysicalName(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	tbl := New(store)
	schema := &StructType{Fields: []*StructField{{Name: "id", Type: Long}, {Name: "v", Type: String, Nullable: true}}}
	snap, err := tbl.Create(ctx, CreateOptions{Schema: schema, Configuration: map[string]string{"delta.columnMapping.mode": "name"}})
	if err != nil {
		t.Fatal(err)
	}
	add := func(written string) error {
		_, err := tbl.Commit(ctx, &Transaction{SchemaString: written,
			Adds: []Add{{Path: fmt.Sprintf("f%d.parquet", len(written)), PartitionValues: map[string]*string{}, Size: 1, DataChange: true}}})
		return err
	}
	change := func(snap *Snapshot, edit func(s *StructType)) *Snapshot {
		t.Helper()
		meta := snap.Metadata()
		s := snap.Schema()
		edit(s)
		if err := meta.AssignColumnMapping(s); err != nil {
			t.Fatal(err)
		}
		meta.SchemaString = s.SchemaString()
		if _, err := tbl.Commit(ctx, &Transaction{Metadata: &meta, BaseSchemaString: snap.Metadata().SchemaString}); err != nil {
			t.Fatal(err)
		}
		after, err := tbl.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return after
	}

	written := snap.Metadata().SchemaString
	renamed := change(snap, func(s *StructType) { s.Fields[1].Name = "w" })
	if err := add(written); err != nil {
		t.Fatalf("files written before a rename: %v", err)
	}
	written = renamed.Metadata().SchemaString
	readded := change(renamed, func(s *StructType) { s.Fields[1] = &StructField{Name: "w", Type: String, Nullable: true} })
	if readded.Metadata().MaxColumnID() != 3 {
		t.Fatalf("maxColumnId %d after adding a third column", readded.Metadata().MaxColumnID())
	}
	var mc *MetadataChangedError
	if err := add(written); !errors.As(err, &mc) || !strings.Contains(err.Error(), "column w was dropped") {
		t.Fatalf("files written before a drop and re-add: %v, want MetadataChangedError naming w", err)
	}
}

// A clustered table with column mapping names its clustering columns by physical
// names; appends to it are accepted when Sluice writes statistics for them.
func TestClusteringColumnsByPhysicalName(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	schema := &StructType{Fields: []*StructField{{Name: "id", Type: Long, Nullable: true}, {Name: "v", Type: String, Nullable: true}}}
	maxID, err := AssignColumnMapping(schema, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := Protocol{2, 7, nil, []string{"columnMapping", "domainMetadata", "clustering"}}
	meta := &Metadata{ID: "id", Format: Format{Provider: "parquet"}, SchemaString: schema.SchemaString(),
		Configuration: map[string]string{"delta.columnMapping.mode": "name", maxColumnIDKey: fmt.Sprint(maxID)}}
	conf := fmt.Sprintf(`{"clusteringColumns":[[%q]]}`, schema.Fields[1].PhysicalName())
	data, _ := encodeActions([]Action{{Protocol: &p}, {MetaData: meta}, {DomainMetadata: &DomainMetadata{Domain: "delta.clustering", Configuration: conf}}})
	if err := store.PutIfAbsent(ctx, CommitKey(0), data); err != nil {
		t.Fatal(err)
	}
	_, err = New(store).Commit(ctx, &Transaction{Adds: []Add{{Path: "a.parquet", PartitionValues: map[string]*string{}, Size: 1, DataChange: true, Stats: `{"numRecords":1}`}}})
	if err != nil {
		t.Fatal(err)
	}
}
