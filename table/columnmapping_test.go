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

// A schema change to a column-mapped table that leaves a column without its physical
// name or id, reuses an id, or moves maxColumnId back is refused before anything is
// written.
func TestCommitRefusesBrokenColumnMapping(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		change func(m *Metadata, s *StructType)
		want   string
	}{
		{"no id", func(m *Metadata, s *StructType) {
			s.Fields = append(s.Fields, &StructField{Name: "new", Type: String, Nullable: true})
		}, "column new has no physical name or id"},
		{"shared id", func(m *Metadata, s *StructType) {
			f := &StructField{Name: "new", Type: String, Nullable: true, Metadata: s.Fields[0].Metadata}
			s.Fields = append(s.Fields, f)
		}, "share id"},
		{"max id back", func(m *Metadata, s *StructType) {
			m.Configuration = map[string]string{"delta.columnMapping.mode": "name", "delta.columnMapping.maxColumnId": "1"}
		}, "maxColumnId goes back"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := storage.NewMemory(t.Name())
			tbl := New(store)
			schema := &StructType{Fields: []*StructField{{Name: "a", Type: Long, Nullable: true}, {Name: "b", Type: String, Nullable: true}}}
			snap, err := tbl.Create(ctx, CreateOptions{Schema: schema, Configuration: map[string]string{"delta.columnMapping.mode": "name"}})
			if err != nil {
				t.Fatal(err)
			}
			meta := snap.Metadata()
			s := snap.Schema().Clone()
			c.change(&meta, s)
			meta.SchemaString = s.SchemaString()
			_, err = tbl.Commit(ctx, &Transaction{Metadata: &meta, BaseSchemaString: snap.Metadata().SchemaString})
			var ue *UnsupportedFeatureError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a refusal saying %q", err, c.want)
			}
			if _, err := store.Get(ctx, CommitKey(1)); !errors.Is(err, storage.ErrNotFound) {
				t.Fatal("a refused commit was written")
			}
		})
	}
}
