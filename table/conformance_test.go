package table

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicelake/sluice/table/storage"
)

// conformanceRefused lists the conformance tables a correct reader refuses, and why:
// "invalid" (*InvalidTableError), "unsupported" (*UnsupportedFeatureError naming the
// feature in the value after the colon) or "not a table" (ErrNotATable).
var conformanceRefused = map[string]string{
	// Negative tests of the kernel ("must FAIL" in the INDEX).
	"kernel-rs-golden/deltalog-invalid-protocol-version":                              "unsupported:reader version 99",
	"kernel-rs-golden/deltalog-state-reconstruction-from-checkpoint-missing-metadata": "invalid",
	"kernel-rs-golden/deltalog-state-reconstruction-from-checkpoint-missing-protocol": "invalid",
	"kernel-rs-golden/deltalog-state-reconstruction-without-metadata":                 "invalid",
	"kernel-rs-golden/deltalog-state-reconstruction-without-protocol":                 "invalid",
	"kernel-rs-golden/versions-not-contiguous":                                        "invalid",
	"kernel-rs-golden/no-delta-log-folder":                                            "not a table",
	"kernel-rs-golden/hive":                                                           "not a table",
	// metaData without the required schemaString, or no metaData at all.
	"kernel-rs-golden/deltalog-commit-info":                     "invalid",
	"kernel-rs-golden/update-deleted-directory":                 "invalid",
	"kernel-rs-golden/data-reader-absolute-paths-escaped-chars": "invalid",
	// Features the reader does not implement: refused by name.
	"delta-rs-data/simple_table_features": "unsupported:reader version 5",
}

type goldenTable struct {
	Version          int64            `json:"version"`
	Replayed         bool             `json:"replayed"`
	Files            []string         `json:"files"`
	Txns             map[string]int64 `json:"txns"`
	SchemaString     *string          `json:"schemaString"`
	PartitionColumns []string         `json:"partitionColumns"`
	Protocol         *Protocol        `json:"protocol"`
}

func TestConformance(t *testing.T) {
	data, err := os.ReadFile("testdata/conformance/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]goldenTable
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob("testdata/conformance/*/*")
	for _, dir := range dirs {
		info, err := os.Stat(dir)
		if err != nil || !info.IsDir() {
			continue
		}
		name := strings.TrimPrefix(dir, "testdata/conformance/")
		t.Run(name, func(t *testing.T) {
			root := dir
			if _, err := os.Stat(filepath.Join(dir, "delta")); err == nil {
				root = filepath.Join(dir, "delta")
			}
			store, err := storage.NewLocal(root)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := Load(context.Background(), store)
			if want, refused := conformanceRefused[name]; refused {
				checkRefused(t, err, want)
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			g, ok := golden[strings.TrimPrefix(root, "testdata/conformance/")]
			if !ok {
				t.Fatalf("no golden entry")
			}
			checkGolden(t, snap, g)
			if _, err := os.Stat(filepath.Join(dir, "expected")); err == nil {
				checkExpectedRows(t, root, filepath.Join(dir, "expected"), snap)
			}
		})
	}
}

func checkRefused(t *testing.T, err error, want string) {
	t.Helper()
	kind, detail, _ := strings.Cut(want, ":")
	var ue *UnsupportedFeatureError
	var ie *InvalidTableError
	switch {
	case err == nil:
		t.Fatalf("loaded, want it refused (%s)", want)
	case kind == "unsupported" && errors.As(err, &ue):
		if !strings.Contains(ue.Feature, detail) {
			t.Fatalf("refused for %q, want %q: %v", ue.Feature, detail, err)
		}
	case kind == "invalid" && errors.As(err, &ie):
	case kind == "not a table" && errors.Is(err, ErrNotATable):
	default:
		t.Fatalf("got %v (%T), want %s", err, err, want)
	}
	if !strings.Contains(err.Error(), "testdata/conformance") {
		t.Fatalf("error does not name the table: %v", err)
	}
	t.Logf("refused: %v", err)
}

func checkGolden(t *testing.T, snap *Snapshot, g goldenTable) {
	t.Helper()
	if snap.Version() != g.Version {
		t.Errorf("version = %d, want %d", snap.Version(), g.Version)
	}
	if !g.Replayed {
		return
	}
	var files []string
	for _, f := range snap.Files() {
		p, _ := DecodePath(f.Path)
		files = append(files, p)
	}
	slices.Sort(files)
	if !slices.Equal(files, g.Files) && !(len(files) == 0 && len(g.Files) == 0) {
		t.Errorf("live files = %v\nwant %v", files, g.Files)
	}
	if g.SchemaString != nil && snap.Metadata().SchemaString != *g.SchemaString {
		t.Errorf("schemaString = %s\nwant %s", snap.Metadata().SchemaString, *g.SchemaString)
	}
	if g.PartitionColumns != nil && !slices.Equal(snap.PartitionColumns(), g.PartitionColumns) {
		t.Errorf("partition columns = %v, want %v", snap.PartitionColumns(), g.PartitionColumns)
	}
	if got := snap.AppTransactions(); !maps.Equal(got, g.Txns) && len(got)+len(g.Txns) > 0 {
		t.Errorf("txns = %v, want %v", got, g.Txns)
	}
	if g.Protocol != nil && (snap.Protocol().MinReaderVersion != g.Protocol.MinReaderVersion || snap.Protocol().MinWriterVersion != g.Protocol.MinWriterVersion) {
		t.Errorf("protocol = %+v, want %+v", snap.Protocol(), *g.Protocol)
	}
}

// checkExpectedRows compares the rows in the live files with Spark's scan result.
// checkExpectedRows compares the rows of the live files, less those their deletion
// vectors delete, with the number of rows Spark's scan returned.
func checkExpectedRows(t *testing.T, root, expected string, snap *Snapshot) {
	t.Helper()
	store, err := storage.NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	var live int64
	for _, f := range snap.Files() {
		deleted, err := DeletedRows(context.Background(), store, f)
		if err != nil {
			t.Fatalf("deletion vector: %v", err)
		}
		if deleted != nil {
			live -= int64(deleted.GetCardinality())
		}
		key, _ := DecodePath(f.Path)
		if strings.Contains(key, "://") {
			t.Logf("file outside the table (%s): row count not checked", key)
			return
		}
		n, err := parquetRows(filepath.Join(root, filepath.FromSlash(key)))
		if err != nil {
			t.Logf("data file unreadable (%v): row count not checked", err)
			return
		}
		live += n
	}
	var want int64
	exp, _ := filepath.Glob(filepath.Join(expected, "**", "*.parquet"))
	top, _ := filepath.Glob(filepath.Join(expected, "*.parquet"))
	for _, p := range append(exp, top...) {
		n, err := parquetRows(p)
		if err != nil {
			t.Fatal(err)
		}
		want += n
	}
	if live != want {
		t.Errorf("live files hold %d rows, Spark's expected result has %d", live, want)
	}
}

func parquetRows(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return 0, err
	}
	return pf.NumRows(), nil
}

// TestWriteGating appends to copies of real tables, through normal and ForAppending
// handles: tables whose writer features an appending writer honours accept the commit;
// the others are refused by feature name, before anything is written.
func TestWriteGating(t *testing.T) {
	cases := []struct {
		table string
		want  string // "" = commit accepted; else a substring of the refused feature
	}{
		{"kernel-rs-golden/basic-with-vacuum-protocol-check-feature/delta", ""},
		{"kernel-rs-golden/log-replay-latest-metadata-protocol/delta", ""},
		{"delta-rs-data/table-with-domain-metadata", ""},
		{"delta-rs-data/table_with_liquid_clustering", ""},
		{"delta-rs-data/simple_table_features", "reader version 5"},
		{"kernel-rs-golden/table-with-columnmapping-mode-name/delta", ""},
		{"kernel-rs-golden/table-with-columnmapping-mode-id/delta", ""},
		{"delta-rs-data/simple_table", ""},
		{"kernel-rs-golden/v2-checkpoint-json/delta", ""},
		{"kernel-rs-golden/v2-checkpoint-parquet/delta", ""},
		{"delta-rs-data/checkpoint-v2-table", "identityColumns (an identity column"},
	}
	for _, c := range cases {
		for _, appending := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/appending=%v", c.table, appending), func(t *testing.T) {
				testWriteGating(t, c.table, c.want, appending)
			})
		}
	}
}

func testWriteGating(t *testing.T, table, want string, appending bool) {
	store := copyConformanceTable(t, table)
	tbl := New(store)
	if appending {
		tbl = New(store, ForAppending())
	}
	before, _ := listLog(context.Background(), store, "")
	_, err := tbl.Commit(context.Background(), &Transaction{AppTxns: []AppTxn{{AppID: "sluice:t:0", Prev: -1, Version: 1}}})
	var ue *UnsupportedFeatureError
	switch {
	case want == "" && err != nil:
		t.Fatalf("commit refused: %v", err)
	case want != "" && (!errors.As(err, &ue) || !strings.Contains(err.Error(), want)):
		t.Fatalf("got %v, want refusal naming %q", err, want)
	case want != "":
		after, _ := listLog(context.Background(), store, "")
		if len(after) != len(before) {
			t.Fatal("a refused commit wrote to the log")
		}
		t.Logf("refused: %v", err)
	}
}

// TestPartitionValues parses every partition value of every readable conformance table
// with its column's type, and checks the table that covers every primitive type.
func TestPartitionValues(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/conformance/*/*")
	parsed := 0
	for _, dir := range dirs {
		name := strings.TrimPrefix(dir, "testdata/conformance/")
		if _, refused := conformanceRefused[name]; refused {
			continue
		}
		root := dir
		if _, err := os.Stat(filepath.Join(dir, "delta")); err == nil {
			root = filepath.Join(dir, "delta")
		}
		store, err := storage.NewLocal(root)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := Load(context.Background(), store)
		if err != nil {
			continue
		}
		for _, f := range snap.Files() {
			for _, col := range snap.PartitionColumns() {
				fld := snap.Schema().Field(col)
				if _, err := ParsePartitionValue(fld.Type, f.PartitionValues[col]); err != nil {
					t.Errorf("%s: %s: %v", name, f.Path, err)
				}
				parsed++
			}
		}
	}
	if parsed < 100 {
		t.Fatalf("only %d partition values parsed", parsed)
	}
	s := func(v string) *string { return &v }
	for _, c := range []struct {
		typ  DataType
		in   *string
		want string
	}{
		{String, s("null"), "null"}, {String, s(""), "<nil>"}, {String, nil, "<nil>"}, {Long, s("-9223372036854775808"), "-9223372036854775808"},
		{Byte, s("127"), "127"}, {Double, s("0.0"), "0"}, {Float, s("1.5"), "1.5"}, {Boolean, s("true"), "true"},
		{Date, s("2021-09-08"), "2021-09-08 00:00:00 +0000 UTC"}, {Timestamp, s("2021-09-08 11:11:11"), "2021-09-08 11:11:11 +0000 UTC"},
		{TimestampNTZ, s("2013-07-05 17:01:00.123456"), "2013-07-05 17:01:00.123456 +0000 UTC"},
		{Timestamp, s("1970-01-01T00:00:00.123456Z"), "1970-01-01 00:00:00.123456 +0000 UTC"},
		{&DecimalType{Precision: 5, Scale: 2}, s("-1.25"), "-5/4"}, {Integer, s(""), "<nil>"},
	} {
		got, err := ParsePartitionValue(c.typ, c.in)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("ParsePartitionValue(%s, %v) = %v, %v; want %s", c.typ, c.in, got, err, c.want)
		}
	}
	for _, c := range []struct {
		typ DataType
		in  string
	}{{Byte, "300"}, {Integer, "x"}, {Boolean, "maybe"}, {Date, "2021-13-01"}, {Timestamp, "yesterday"}} {
		if _, err := ParsePartitionValue(c.typ, &c.in); err == nil {
			t.Errorf("ParsePartitionValue(%s, %q): want error", c.typ, c.in)
		}
	}
}
