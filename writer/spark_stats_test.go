package writer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/writer"
)

// TestLikeSpark writes the rows of Spark-written tables, file by file, and compares
// each of our files with Spark's: the same add.stats keys and values (numbers
// numerically, timestamps as instants), and the same Parquet column names and field
// ids. The tables cover every primitive type, nested types, and column mapping in
// name and id modes, where the names are the physical names, nested fields' too, and
// the field ids the column ids.
func TestLikeSpark(t *testing.T) {
	for _, name := range []string{
		"data-skipping-basic-stats-all-types",
		"data-skipping-basic-stats-all-types-columnmapping-name",
		"data-skipping-basic-stats-all-types-columnmapping-id",
		"table-with-columnmapping-mode-name",
		"table-with-columnmapping-mode-id",
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.FromSlash("../table/testdata/conformance/kernel-rs-golden/" + name + "/delta")
			store, err := storage.NewLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := table.Load(context.Background(), store)
			if err != nil {
				t.Fatal(err)
			}
			spec := writer.Spec{Schema: snap.Schema(), ColumnMapping: snap.ColumnMappingMode() != table.ColumnMappingNone}
			if strings.Contains(name, "columnmapping") != spec.ColumnMapping {
				t.Fatalf("column mapping mode %s", snap.ColumnMappingMode())
			}
			db := openDuck(t)
			compared := 0
			for _, f := range snap.Files() {
				// Read Spark's rows back with DuckDB, in the test value model (positional:
				// read by the names in the file, written by the table's).
				sparkFile := filepath.Join(dir, f.Path)
				rows := readBack(t, db, []string{sparkFile}, table.PhysicalSchema(spec.Schema))
				if len(rows) == 0 {
					continue
				}
				paths, infos := writeSpecFiles(t, t.TempDir(), spec, writer.DefaultConfig(), rows)
				ours := decodeStats(t, infos[0].Stats)
				spark := decodeStats(t, f.Stats)
				for _, section := range []string{"numRecords", "minValues", "maxValues", "nullCount"} {
					compareStat(t, section, ours[section], spark[section])
				}
				compareColumns(t, "", parquetRoot(t, paths[0]), parquetRoot(t, sparkFile))
				compared++
			}
			if compared == 0 {
				t.Fatal("no file with rows")
			}
		})
	}
}

func parquetRoot(t *testing.T, path string) *parquet.Column {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f.Root()
}

// compareColumns compares the names and field ids of two Parquet column trees.
func compareColumns(t *testing.T, path string, ours, spark *parquet.Column) {
	t.Helper()
	oc, sc := ours.Columns(), spark.Columns()
	if len(oc) != len(sc) {
		t.Errorf("%s: %d columns, Spark's file has %d", path, len(oc), len(sc))
		return
	}
	for i := range oc {
		p := path + "/" + sc[i].Name()
		if oc[i].Name() != sc[i].Name() || oc[i].ID() != sc[i].ID() {
			t.Errorf("%s: ours is %s with field id %d, Spark's has field id %d", p, oc[i].Name(), oc[i].ID(), sc[i].ID())
			continue
		}
		compareColumns(t, p, oc[i], sc[i])
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
