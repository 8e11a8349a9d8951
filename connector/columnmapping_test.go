package connector

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table"
)

// Schema evolution on a column-mapped table: every column and nested field that
// messages add gets a fresh physical name and id, maxColumnId moves in the commit that
// adds them, the columns already there keep their metadata, and the files name the
// columns by physical names.
func TestEvolveColumnMappedTable(t *testing.T) {
	for _, mode := range []string{table.ColumnMappingName, table.ColumnMappingID} {
		t.Run(mode, func(t *testing.T) {
			s := startSim(t, 0, simYAML, false)
			// No checkpoints, so that every version stays loadable.
			s.tableConf = map[string]string{"delta.columnMapping.mode": mode, "delta.checkpointInterval": "1000"}
			s.createTable()
			s.nodes = append(s.nodes, s.startNode(0))
			before := s.load(t)
			s.assign(0, 0)
			for _, extra := range []string{"", `,"f1":"x","f2":{"g":"y"}`, `,"f2":{"g":"y","h":1}`} {
				s.produceN(0, 3, extra)
				s.deliverAll(0)
				s.flush(s.nodes[0])
			}
			s.mustCheck(t) // reads the Kafka columns by their physical names
			if txn := s.txnOf(0); txn != 8 {
				t.Fatalf("txn %d, want 8: not every message is in the table", txn)
			}
			after := s.load(t)

			for _, f := range before.Schema().Fields {
				if g := after.Schema().Field(f.Name); g == nil || string(g.Metadata) != string(f.Metadata) {
					t.Errorf("column %s: metadata %s, was %s", f.Name, g.Metadata, f.Metadata)
				}
			}
			f1, f2 := after.Schema().Field("f1"), after.Schema().Field("f2")
			if f1 == nil || f2 == nil {
				t.Fatalf("schema %s: want f1 and f2 added", after.Metadata().SchemaString)
			}
			st := f2.Type.(*table.StructType)
			maxBefore := before.Metadata().MaxColumnID()
			ids, names := map[int]bool{}, map[string]bool{}
			for _, f := range []*table.StructField{f1, f2, st.Field("g"), st.Field("h")} {
				if f == nil {
					t.Fatalf("schema %s: want f2.g and f2.h", after.Metadata().SchemaString)
				}
				id, ok := f.ColumnID()
				if !ok || int64(id) <= maxBefore || ids[id] || !strings.HasPrefix(f.PhysicalName(), "col-") || names[f.PhysicalName()] {
					t.Errorf("new field %s: id %d (%v), physical name %q; ids before went up to %d", f.Name, id, ok, f.PhysicalName(), maxBefore)
				}
				ids[id], names[f.PhysicalName()] = true, true
			}
			if got := after.Metadata().MaxColumnID(); got != maxBefore+4 {
				t.Errorf("maxColumnId %d, want %d", got, maxBefore+4)
			}
			// Each version's maxColumnId covers the ids of its schema: they came together.
			for v := before.Version(); v <= after.Version(); v++ {
				snap, err := table.LoadVersion(s.ctx, s.mem, v)
				if err != nil {
					t.Fatal(err)
				}
				if m := maxID(snap.Schema()); int64(m) > snap.Metadata().MaxColumnID() {
					t.Errorf("version %d: a column has id %d, maxColumnId is %d", v, m, snap.Metadata().MaxColumnID())
				}
			}
			// The files written since f1 came hold it under its physical name.
			withF1 := 0
			for _, f := range after.Files() {
				pf := s.parquetFile(t, f)
				if _, ok := pf.Schema().Lookup("f1"); ok {
					t.Errorf("file %s names f1 by its display name", f.Path)
				}
				if _, ok := pf.Schema().Lookup(f1.PhysicalName()); ok {
					withF1++
				}
			}
			if withF1 == 0 {
				t.Errorf("no file has f1's column %s", f1.PhysicalName())
			}
		})
	}
}

func (s *sim) load(t *testing.T) *table.Snapshot {
	t.Helper()
	snap, err := table.Load(s.ctx, s.mem)
	if err != nil {
		t.Fatal(fmt.Errorf("load: %w", err))
	}
	return snap
}

// parquetFile opens a data file of the table.
func (s *sim) parquetFile(t *testing.T, f *table.Add) *parquet.File {
	t.Helper()
	key, _ := table.DecodePath(f.Path)
	data, err := s.mem.Get(s.ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// maxID is the largest column id in the fields of st, nested ones included.
func maxID(st *table.StructType) int {
	m := 0
	for _, f := range st.Fields {
		if id, ok := f.ColumnID(); ok {
			m = max(m, id)
		}
		if inner, ok := f.Type.(*table.StructType); ok {
			m = max(m, maxID(inner))
		}
	}
	return m
}
