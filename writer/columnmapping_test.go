package writer_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// Under column mapping the data file names its columns, nested fields included, by
// their physical names with the column ids as Parquet field ids, and statistics and
// partition values are keyed by physical names; values still come by display name and
// the partition directory keeps the display name.
func TestColumnMappingNames(t *testing.T) {
	schema := &table.StructType{Fields: []*table.StructField{
		field("id", table.Long, false),
		field("s", &table.StructType{Fields: []*table.StructField{field("a", table.String, true)}}, true),
		field("day", table.Date, true),
	}}
	if _, err := table.AssignColumnMapping(schema, 0); err != nil {
		t.Fatal(err)
	}
	id, s, day := schema.Fields[0], schema.Fields[1], schema.Fields[2]
	a := s.Type.(*table.StructType).Fields[0]
	buf, err := writer.NewBuffer(writer.Spec{Schema: schema, PartitionColumns: []string{"day"}, ColumnMapping: true}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	fill(t, buf, schema, []any{int64(7), structV{"x"}, int64(19000)})
	if err := buf.EndRow(); err != nil {
		t.Fatal(err)
	}
	pending := buf.Take()
	if len(pending) != 1 {
		t.Fatalf("%d partitions", len(pending))
	}
	p := pending[0]
	if v := p.PartitionValues[day.PhysicalName()]; v == nil || *v != "2022-01-08" || len(p.PartitionValues) != 1 {
		t.Fatalf("partition values %v, want 2022-01-08 under %s", p.PartitionValues, day.PhysicalName())
	}
	if p.Dir != "day=2022-01-08" {
		t.Fatalf("partition directory %q", p.Dir)
	}
	path := filepath.Join(t.TempDir(), "f.parquet")
	info := encodeFile(t, p, path)

	stats := decodeStats(t, info.Stats)
	for _, section := range []string{"minValues", "maxValues", "nullCount"} {
		m, _ := stats[section].(map[string]any)
		nested, _ := m[s.PhysicalName()].(map[string]any)
		if _, ok := m[id.PhysicalName()]; !ok || nested == nil || nested[a.PhysicalName()] == nil || len(m) != 2 || len(nested) != 1 {
			t.Errorf("%s: %v, want keys %s and %s.%s", section, m, id.PhysicalName(), s.PhysicalName(), a.PhysicalName())
		}
	}

	cols := parquetRoot(t, path).Columns()
	if len(cols) != 2 {
		t.Fatalf("%d columns in the file, want 2 (the partition column is not in it)", len(cols))
	}
	inner := cols[1].Columns()
	for _, c := range []struct {
		name string
		id   int
		want *table.StructField
	}{{cols[0].Name(), cols[0].ID(), id}, {cols[1].Name(), cols[1].ID(), s}, {inner[0].Name(), inner[0].ID(), a}} {
		wantID, _ := c.want.ColumnID()
		if c.name != c.want.PhysicalName() || c.id != wantID || !strings.HasPrefix(c.name, "col-") {
			t.Errorf("column %s: in the file as %s with field id %d, want %s with id %d", c.want.Name, c.name, c.id, c.want.PhysicalName(), wantID)
		}
	}
}

// A column of a mapped table without an id is refused when the buffer is built: it
// would be unreadable in id mode.
func TestColumnMappingNeedsIDs(t *testing.T) {
	schema := &table.StructType{Fields: []*table.StructField{field("id", table.Long, false)}}
	_, err := writer.NewBuffer(writer.Spec{Schema: schema, ColumnMapping: true}, writer.DefaultConfig())
	if err == nil || !strings.Contains(err.Error(), "delta.columnMapping.id") {
		t.Fatalf("got %v, want the missing id refused", err)
	}
}
