package writer_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// TestStatsLikeSpark writes the row of a Spark-written table (every primitive type) and
// compares our add.stats with the stats Spark wrote for it: the same keys, and the same
// values (numbers numerically, timestamps as instants).
func TestStatsLikeSpark(t *testing.T) {
	dir := "../table/testdata/conformance/kernel-rs-golden/data-skipping-basic-stats-all-types/delta"
	log, err := os.ReadFile(filepath.Join(dir, "_delta_log", "00000000000000000000.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema *table.StructType
	var sparkStats, dataFile string
	for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		var a table.Action
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatal(err)
		}
		if a.MetaData != nil {
			if schema, err = a.MetaData.Schema(); err != nil {
				t.Fatal(err)
			}
		}
		if a.Add != nil {
			sparkStats, dataFile = a.Add.Stats, a.Add.Path
		}
	}
	// Read Spark's row back with DuckDB, in the test value model.
	rows := readBack(t, openDuck(t), []string{filepath.Join(dir, dataFile)}, schema)
	if len(rows) != 1 {
		t.Fatalf("want the table's single row, got %d", len(rows))
	}
	_, infos := writeFiles(t, t.TempDir(), schema, writer.DefaultConfig(), rows)
	ours := decodeStats(t, infos[0].Stats)
	spark := decodeStats(t, sparkStats)
	for _, section := range []string{"numRecords", "minValues", "maxValues", "nullCount"} {
		compareStat(t, section, ours[section], spark[section])
	}
}

func decodeStats(t *testing.T, s string) map[string]any {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

func compareStat(t *testing.T, path string, ours, spark any) {
	t.Helper()
	switch sv := spark.(type) {
	case map[string]any:
		om, ok := ours.(map[string]any)
		if !ok {
			t.Errorf("%s: ours %v, Spark %v", path, ours, spark)
			return
		}
		for k := range sv {
			if _, ok := om[k]; !ok {
				t.Errorf("%s.%s: missing in ours (Spark: %v)", path, k, sv[k])
			}
		}
		for k := range om {
			if _, ok := sv[k]; !ok {
				t.Errorf("%s.%s: ours has %v, Spark has none", path, k, om[k])
			}
			compareStat(t, path+"."+k, om[k], sv[k])
		}
	case string:
		os, _ := ours.(string)
		st, err1 := time.Parse("2006-01-02T15:04:05.000Z07:00", sv)
		ot, err2 := time.Parse("2006-01-02T15:04:05.000Z07:00", os)
		if err1 == nil && err2 == nil {
			if !st.Equal(ot) {
				t.Errorf("%s: ours %s, Spark %s", path, os, sv)
			}
			return
		}
		if os != sv {
			t.Errorf("%s: ours %q, Spark %q", path, os, sv)
		}
	default:
		if ours != spark {
			t.Errorf("%s: ours %v, Spark %v", path, ours, spark)
		}
	}
}
