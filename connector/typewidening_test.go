package connector

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table"
)

// A JSON message whose value needs long in an integer column: on a table with
// delta.enableTypeWidening the column widens to long in a metaData commit that records
// the change and adds the typeWidening feature, the message lands, and a restart with
// the configuration's integer column goes on; without the property the message goes
// to on_error (skip here) and the column stays integer.
func TestEvolutionWidensIntegerColumn(t *testing.T) {
	yaml := strings.NewReplacer("schema: [{name: id, type: long}]", "schema: [{name: id, type: integer}]",
		"evolution: add_columns\n", "evolution: add_columns\n    on_error: skip\n").Replace(simYAML)
	const big = int64(3_000_000_000)
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprintf("enabled=%v", enabled), func(t *testing.T) {
			s := startSim(t, 0, yaml, false)
			if enabled {
				s.tableConf = map[string]string{table.EnableTypeWideningKey: "true"}
			}
			s.createTable()
			s.nodes = append(s.nodes, s.startNode(0))
			s.assign(0, 0)
			for _, id := range []int64{1, 2, big, 3} {
				s.broker.produce(0, 0, func(int64) []byte { return fmt.Appendf(nil, `{"id":%d}`, id) })
			}
			s.deliverAll(0)
			s.flush(s.nodes[0])
			if !enabled {
				s.deleted[[2]int64{0, 2}] = true // skipped: not in the table
			}
			s.mustCheck(t)
			if txn := s.txnOf(0); txn != 3 {
				t.Fatalf("txn %d, want 3", txn)
			}
			snap := s.load(t)
			id := snap.Schema().Field("id")
			p := snap.Protocol()
			if !enabled {
				if id.Type != table.Integer || slices.Contains(p.WriterFeatures, "typeWidening") {
					t.Fatalf("without the property: id is %s, protocol %+v", id.Type, p)
				}
				if !strings.Contains(s.logs.String(), "out of range for integer") {
					t.Fatalf("no skipped message logged:\n%s", s.logs.String())
				}
				return
			}
			if id.Type != table.Long || !slices.Contains(p.ReaderFeatures, "typeWidening") || !slices.Contains(p.WriterFeatures, "typeWidening") {
				t.Fatalf("id is %s, protocol %+v: want long and typeWidening", id.Type, p)
			}
			if changes, err := id.TypeChanges(); err != nil || len(changes) != 1 || changes[0] != (table.TypeChange{FromType: "integer", ToType: "long"}) {
				t.Fatalf("id's type changes %v, %v", changes, err)
			}
			if got := s.idValues(t, snap); !slices.Equal(got, []int64{1, 2, big, 3}) {
				t.Fatalf("ids %v", got)
			}

			// The configuration still says integer; the widened table is accepted.
			s.restart(0, false)
			s.broker.produce(0, 0, func(int64) []byte { return fmt.Appendf(nil, `{"id":%d}`, 2*big) })
			s.deliverAll(0)
			s.flush(s.nodes[0])
			s.mustCheck(t)
			if got := s.idValues(t, s.load(t)); !slices.Equal(got, []int64{1, 2, big, 3, 2 * big}) {
				t.Fatalf("ids after the restart %v", got)
			}
		})
	}
}

// idValues reads the id column of every data file, in offset order; files written before
// the column widened hold it as INT32.
func (s *sim) idValues(t *testing.T, snap *table.Snapshot) []int64 {
	t.Helper()
	type row struct{ off, id int64 }
	var rows []row
	for _, f := range snap.Files() {
		pf := s.parquetFile(t, f)
		idc, _ := pf.Schema().Lookup("id")
		offc, _ := pf.Schema().Lookup(colKafkaOffset)
		for _, rg := range pf.RowGroups() {
			rr := rg.Rows()
			buf := make([]parquet.Row, rg.NumRows())
			n, _ := rr.ReadRows(buf)
			rr.Close()
			for _, r := range buf[:n] {
				var x row
				for _, v := range r {
					switch v.Column() {
					case idc.ColumnIndex:
						x.id = v.Int64() // widens an INT32 value
					case offc.ColumnIndex:
						x.off = v.Int64()
					}
				}
				rows = append(rows, x)
			}
		}
	}
	slices.SortFunc(rows, func(a, b row) int { return int(a.off - b.off) })
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.id
	}
	return out
}

// A registry schema (json_schema) whose "integer" maps to long widens the table's
// integer column on a table with delta.enableTypeWidening, before any value needs it.
func TestEvolutionWidensFromRegistrySchema(t *testing.T) {
	s := startSim(t, 0, simYAML, false)
	narrow, err := simConfig(t, strings.Replace(simYAML, "type: long", "type: integer", 1)).Tables[0].tableSchema()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.New(s.mem).Create(s.ctx, table.CreateOptions{Name: "events", Schema: narrow,
		Configuration: map[string]string{table.EnableTypeWideningKey: "true"}}); err != nil {
		t.Fatal(err)
	}
	s.withRegistry()
	s.nodes = append(s.nodes, s.startNode(0))
	s.assign(0, 0)
	for range 3 {
		s.broker.produce(0, 0, func(off int64) []byte { return s.message(off, "") })
	}
	s.deliverAll(0)
	s.flush(s.nodes[0])
	s.mustCheck(t)
	snap := s.load(t)
	if id := snap.Schema().Field("id"); id.Type != table.Long || !slices.Contains(snap.Protocol().WriterFeatures, "typeWidening") {
		t.Fatalf("id is %s, protocol %+v: want long and typeWidening", id.Type, snap.Protocol())
	}
	if got := s.idValues(t, snap); !slices.Equal(got, []int64{0, 1, 2}) {
		t.Fatalf("ids %v", got)
	}
}
