package table

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table/storage"
)

// A table created with deletion vectors, row tracking and in-commit timestamps turned on
// lists them in its protocol; appends from two racing handles get disjoint Row IDs and
// rising in-commit timestamps (even when the clock goes back), and both survive a
// checkpoint and a reload from it.
func TestCreatedFeaturesRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	clock := time.Now()
	now := func() time.Time { return clock }
	tbl := New(store, Clock(now))
	_, err := tbl.Create(ctx, CreateOptions{Name: "t", Schema: testSchema(), PartitionColumns: []string{"day"}, Configuration: map[string]string{
		"delta.enableDeletionVectors": "true", "delta.enableRowTracking": "true", "delta.enableInCommitTimestamps": "true",
		"delta.checkpointInterval": "4",
	}})
	if err != nil {
		t.Fatal(err)
	}
	snap, _ := New(store).Snapshot(ctx)
	p := snap.Protocol()
	if p.MinReaderVersion != 3 || !slices.Equal(p.ReaderFeatures, []string{"deletionVectors"}) ||
		!slices.Equal(p.WriterFeatures, []string{"appendOnly", "invariants", "deletionVectors", "domainMetadata", "rowTracking", "inCommitTimestamp"}) {
		t.Fatalf("protocol %+v", p)
	}
	if snap.Property("delta.rowTracking.materializedRowIdColumnName", "") == "" {
		t.Fatal("row tracking enabled without a materialized Row ID column name")
	}

	other := New(store, Clock(now))
	if _, err := other.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	three := add("day=2024-01-01/a.parquet")
	three.Stats = `{"numRecords":3}`
	commit := func(tb *Table, a Add) CommitResult {
		t.Helper()
		res, err := tb.Commit(ctx, &Transaction{Adds: []Add{a}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	commit(tbl, three)
	clock = clock.Add(-time.Hour) // the clock goes back: timestamps still rise
	res := commit(other, add("day=2024-01-01/b.parquet"))
	if res.Attempts != 2 {
		t.Fatalf("the second handle won at once (%d attempts): no race was exercised", res.Attempts)
	}
	five := add("day=2024-01-01/c.parquet")
	five.Stats = `{"numRecords":5}`
	commit(tbl, five) // version 3
	commit(tbl, add("day=2024-01-01/d.parquet"))
	if res := commit(tbl, add("day=2024-01-01/e.parquet")); res.Version != 5 {
		t.Fatalf("version %d", res.Version)
	}

	checkRowsAndTimes := func(what string, snap *Snapshot) {
		t.Helper()
		want := map[string][2]int64{ // path → baseRowId, defaultRowCommitVersion
			"day=2024-01-01/a.parquet": {0, 1}, "day=2024-01-01/b.parquet": {3, 2}, "day=2024-01-01/c.parquet": {4, 3},
			"day=2024-01-01/d.parquet": {9, 4}, "day=2024-01-01/e.parquet": {10, 5},
		}
		for _, f := range snap.Files() {
			w := want[f.Path]
			if f.BaseRowID == nil || f.DefaultRowCommit == nil || *f.BaseRowID != w[0] || *f.DefaultRowCommit != w[1] {
				t.Errorf("%s: %s: baseRowId %v, defaultRowCommitVersion %v; want %v", what, f.Path, deref(f.BaseRowID), deref(f.DefaultRowCommit), w)
			}
		}
		if hwm, err := snap.rowIDHighWaterMark(); err != nil || hwm != 10 {
			t.Errorf("%s: high-water mark %d, %v; want 10", what, hwm, err)
		}
	}
	checkRowsAndTimes("replayed", mustLoad(t, store))
	var last int64
	for v := range int64(6) {
		data, err := store.Get(ctx, CommitKey(v))
		if err != nil {
			t.Fatal(err)
		}
		actions, _ := decodeCommit(data)
		ci := actions[0].CommitInfo
		if ci == nil || ci.InCommitTimestamp == nil || *ci.InCommitTimestamp <= last || ci.Timestamp != *ci.InCommitTimestamp {
			t.Fatalf("version %d: first action %+v: want a commitInfo with an inCommitTimestamp above %d", v, actions[0], last)
		}
		last = *ci.InCommitTimestamp
	}
	// From the checkpoint at version 4: the next commit reads version 5's timestamp.
	fresh := New(store, Clock(now))
	if res := commit(fresh, add("day=2024-01-01/f.parquet")); res.Version != 6 {
		t.Fatalf("version %d", res.Version)
	}
	data, _ := store.Get(ctx, CommitKey(6))
	actions, _ := decodeCommit(data)
	if ict := actions[0].CommitInfo.InCommitTimestamp; ict == nil || *ict != last+1 {
		t.Fatalf("after a reload: inCommitTimestamp %v, want %d", ict, last+1)
	}
	cp := newSnapshot(store.URI(), loadConfig{})
	if err := cp.loadCheckpoint(ctx, store, 4, []logFile{{key: CheckpointKey(4), kind: logCheckpoint, version: 4}}); err != nil {
		t.Fatal(err)
	}
	if hwm, _ := cp.rowIDHighWaterMark(); hwm != 9 || len(cp.Files()) != 4 || cp.Files()[0].BaseRowID == nil {
		t.Fatalf("checkpoint 4: high-water mark %d, files %d", hwm, len(cp.Files()))
	}
	// Deleting rows re-adds the file with its Row IDs as they were.
	if _, err := fresh.DeleteRows(ctx, "day=2024-01-01/c.parquet", []uint64{1}); err != nil {
		t.Fatal(err)
	}
	final := mustLoad(t, store)
	for _, f := range final.Files() {
		if f.Path == "day=2024-01-01/c.parquet" && (f.DeletionVector == nil || *f.BaseRowID != 4 || *f.DefaultRowCommit != 3) {
			t.Fatalf("after delete: %+v", f)
		}
	}
	if hwm, _ := final.rowIDHighWaterMark(); hwm != 11 {
		t.Fatalf("high-water mark %d after a delete, want 11 (unchanged)", hwm)
	}
}

// Appending to the tables Databricks wrote with row tracking and liquid clustering:
// Row IDs continue above the table's high-water mark.
func TestAppendToRowTrackingTables(t *testing.T) {
	for _, name := range []string{"delta-rs-data/table_with_liquid_clustering", "delta-rs-data/table-with-domain-metadata"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store := copyConformanceTable(t, name)
			before := mustLoad(t, store)
			hwm, err := before.rowIDHighWaterMark()
			if err != nil {
				t.Fatal(err)
			}
			a := Add{Path: "sluice-0.parquet", PartitionValues: map[string]*string{}, Size: 1, DataChange: true, Stats: `{"numRecords":7,"minValues":{"id":1},"maxValues":{"id":7},"nullCount":{"id":0}}`}
			res, err := New(store).Commit(ctx, &Transaction{Adds: []Add{a}})
			if err != nil {
				t.Fatal(err)
			}
			after := mustLoad(t, store)
			for _, f := range after.Files() {
				if f.Path == a.Path && (f.BaseRowID == nil || *f.BaseRowID != hwm+1 || *f.DefaultRowCommit != res.Version) {
					t.Fatalf("baseRowId %v, defaultRowCommitVersion %v; want %d and %d", deref(f.BaseRowID), deref(f.DefaultRowCommit), hwm+1, res.Version)
				}
			}
			if got, _ := after.rowIDHighWaterMark(); got != hwm+7 {
				t.Fatalf("high-water mark %d, want %d", got, hwm+7)
			}
		})
	}
}

// A clustered table whose clustering column Sluice would write no statistics for is
// refused, naming the column.
func TestClusteringColumnsNeedStats(t *testing.T) {
	ctx := context.Background()
	fields := []*StructField{}
	for i := range 40 {
		fields = append(fields, &StructField{Name: fmt.Sprintf("c%d", i), Type: Long, Nullable: true})
	}
	for _, c := range []struct {
		conf string
		ok   bool
	}{
		{`{"clusteringColumns":[["c3"]]}`, true},
		{`{"clusteringColumns":["c31"]}`, true},
		{`{"clusteringColumns":[["c35"]]}`, false},
	} {
		store := storage.NewMemory(t.Name())
		p := Protocol{1, 7, nil, []string{"domainMetadata", "clustering"}}
		data, _ := encodeActions([]Action{{Protocol: &p}, {MetaData: &Metadata{ID: "id", Format: Format{Provider: "parquet"},
			SchemaString: (&StructType{Fields: fields}).SchemaString(), Configuration: map[string]string{}}},
			{DomainMetadata: &DomainMetadata{Domain: "delta.clustering", Configuration: c.conf}}})
		if err := store.PutIfAbsent(ctx, CommitKey(0), data); err != nil {
			t.Fatal(err)
		}
		_, err := New(store).Commit(ctx, &Transaction{Adds: []Add{{Path: "a.parquet", PartitionValues: map[string]*string{}, Size: 1, DataChange: true, Stats: `{"numRecords":1}`}}})
		var ue *UnsupportedFeatureError
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: %v", c.conf, err)
		case !c.ok && !errors.As(err, &ue):
			t.Errorf("%s: %v, want the clustering column refused", c.conf, err)
		}
	}
}

func mustLoad(t *testing.T, store storage.Storage) *Snapshot {
	t.Helper()
	s, err := Load(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A table created with column mapping gives every column, nested ones too, a physical
// name and an id, records the largest id, and lists the feature for readers and writers.
func TestCreateWithColumnMapping(t *testing.T) {
	ctx := context.Background()
	store := storage.NewMemory(t.Name())
	schema := &StructType{Fields: []*StructField{
		{Name: "id", Type: Long},
		{Name: "s", Type: &StructType{Fields: []*StructField{{Name: "a", Type: String, Nullable: true}}}, Nullable: true},
		{Name: "l", Type: &ArrayType{ElementType: &StructType{Fields: []*StructField{{Name: "b", Type: Integer, Nullable: true}}}, ContainsNull: true}, Nullable: true},
	}}
	if _, err := New(store).Create(ctx, CreateOptions{Name: "t", Schema: schema, Configuration: map[string]string{"delta.columnMapping.mode": "name"}}); err != nil {
		t.Fatal(err)
	}
	snap := mustLoad(t, store)
	if snap.ColumnMappingMode() != ColumnMappingName || snap.Metadata().MaxColumnID() != 5 {
		t.Fatalf("mode %s, max id %d", snap.ColumnMappingMode(), snap.Metadata().MaxColumnID())
	}
	if p := snap.Protocol(); !slices.Contains(p.ReaderFeatures, "columnMapping") || !slices.Contains(p.WriterFeatures, "columnMapping") {
		t.Fatalf("protocol %+v", p)
	}
	seen := map[int]bool{}
	var walk func(st *StructType)
	walk = func(st *StructType) {
		for _, f := range st.Fields {
			id, ok := f.ColumnID()
			if !ok || seen[id] || !strings.HasPrefix(f.PhysicalName(), "col-") {
				t.Errorf("%s: id %d (%v), physical name %q", f.Name, id, ok, f.PhysicalName())
			}
			seen[id] = true
			switch ft := f.Type.(type) {
			case *StructType:
				walk(ft)
			case *ArrayType:
				walk(ft.ElementType.(*StructType))
			}
		}
	}
	walk(snap.Schema())
	if phys := PhysicalSchema(snap.Schema()); phys.Fields[1].Type.(*StructType).Fields[0].Name != snap.Schema().Fields[1].Type.(*StructType).Fields[0].PhysicalName() {
		t.Fatalf("physical schema %s", phys.SchemaString())
	}
	if _, err := New(store).Create(ctx, CreateOptions{Schema: schema, Configuration: map[string]string{"delta.columnMapping.mode": "names"}}); err == nil {
		t.Fatal("an unknown mode was accepted")
	}
}
