package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
)

// TestDemo runs `sluice demo` in a temporary directory and reads its table back: the
// first command of the README must leave a table DuckDB reads.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	stdout := captureStdout(t, func() {
		if err := runDemo(context.Background(), dir, 3000, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(stdout, "committed 3600 rows") || !strings.Contains(stdout, "(3 rows)") || !strings.Contains(stdout, "(1 row)") {
		t.Fatalf("demo output:\n%s", stdout)
	}
	var orders bytes.Buffer
	if err := runQuery(context.Background(), &orders, filepath.Join(dir, "orders"), "orders",
		`SELECT count(*), count(coupon) > 0, count(DISTINCT (_kafka_partition, _kafka_offset)) FROM orders`); err != nil {
		t.Fatal(err)
	}
	if fields := strings.Fields(strings.Split(orders.String(), "\n")[1]); len(fields) != 3 || fields[0] != "600" || fields[1] != "true" || fields[2] != "600" {
		t.Fatalf("orders query output:\n%s", orders.String())
	}
	var out bytes.Buffer
	if err := runQuery(context.Background(), &out, filepath.Join(dir, "events"), "events",
		`SELECT count(*), count(DISTINCT (_kafka_partition, _kafka_offset)) FROM events`); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "3000  ") || strings.Count(out.String(), "3000") != 2 {
		t.Fatalf("query output:\n%s", out.String())
	}
	// A second demo replaces its own earlier table; a foreign directory is refused.
	captureStdout(t, func() {
		if err := runDemo(context.Background(), dir, 100, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
	})
	foreign := t.TempDir()
	if err := runDemo(context.Background(), foreign, 10, slog.Default()); err == nil || !strings.Contains(err.Error(), "not made by sluice demo") {
		t.Fatalf("demo in a foreign directory: %v", err)
	}
}

func TestInspectJSONKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	captureStdout(t, func() {
		if err := runDemo(context.Background(), dir, 500, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
	})
	store, err := storage.Open(context.Background(), filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := table.Load(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(inspect(store.URI(), snap))
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "protocol", "partitionColumns", "schema", "numFiles", "sizeBytes", "numRecords", "appTransactions", "checkpointVersion"} {
		if _, ok := m[k]; !ok {
			t.Errorf("inspect JSON lacks %q: %s", k, b)
		}
	}
	if m["numRecords"].(float64) != 500 {
		t.Errorf("numRecords = %v", m["numRecords"])
	}
	p := m["protocol"].(map[string]any)
	for _, k := range []string{"minReaderVersion", "minWriterVersion", "readerFeatures", "writerFeatures"} {
		if _, ok := p[k]; !ok {
			t.Errorf("protocol lacks %q", k)
		}
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	defer func() { os.Stdout = old }()
	f()
	w.Close()
	os.Stdout = old
	return <-done
}

// TestInspectErrors: a missing or unsupported table is a clear error (main exits 1).
func TestInspectErrors(t *testing.T) {
	for _, c := range []struct{ location, want string }{
		{t.TempDir(), "not a Delta table"},
		{"../../table/testdata/conformance/kernel-rs-golden/deltalog-invalid-protocol-version/delta", "reader version 99"},
		{"s3x://bucket/t", "unsupported scheme"},
	} {
		cmd := inspectCmd()
		cmd.SetArgs([]string{c.location})
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("inspect %s: %v, want %q", c.location, err, c.want)
		}
	}
}

// TestInspectS3: inspect reads a table on an S3-compatible server given --s3-endpoint
// and --s3-path-style, with credentials from the environment.
func TestInspectS3(t *testing.T) {
	srv := s3test.Start(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretAccessKey)
	ctx := context.Background()
	store, err := storage.OpenWith(ctx, "s3://"+srv.Bucket+"/t", storage.Options{S3: storage.S3Options{Endpoint: srv.Endpoint, Region: srv.Region, PathStyle: true}})
	if err != nil {
		t.Fatal(err)
	}
	schema := &table.StructType{Fields: []*table.StructField{{Name: "id", Type: table.Long}}}
	if _, err := table.New(store).Create(ctx, table.CreateOptions{Name: "t", Schema: schema}); err != nil {
		t.Fatal(err)
	}
	cmd := inspectCmd()
	cmd.SetArgs([]string{"s3://" + srv.Bucket + "/t", "--json", "--s3-endpoint", srv.Endpoint, "--s3-region", srv.Region, "--s3-path-style"})
	out := captureStdout(t, func() {
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(out, `"location": "s3://sluice-test/t"`) || !strings.Contains(out, `"version": 0`) {
		t.Fatalf("inspect output:\n%s", out)
	}
}

// sluice table history, table checkpoint and query --version / --timestamp on the demo's
// table, through the command line as a user types it.
func TestHistoryAndTimeTravel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	captureStdout(t, func() {
		if err := runDemo(context.Background(), dir, 500, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
	})
	events := filepath.Join(dir, "events")
	run := func(args ...string) string { return sluice(t, args...) }
	var history []HistoryEntry
	if err := json.Unmarshal([]byte(run("table", "history", events, "--json")), &history); err != nil {
		t.Fatal(err)
	}
	latest := history[0]
	if latest.Operation != "STREAMING UPDATE" || history[len(history)-1].Version != 0 || history[len(history)-1].Operation != "CREATE TABLE" {
		t.Fatalf("history %+v", history)
	}
	if out := run("table", "history", events, "--limit", "1"); !strings.Contains(out, "STREAMING UPDATE") || strings.Contains(out, "CREATE TABLE") {
		t.Fatalf("history --limit 1:\n%s", out)
	}
	count := func(args ...string) string {
		out := run(append([]string{"query", events}, append(args, "SELECT count(*) AS n FROM events")...)...)
		return strings.Fields(strings.Split(out, "\n")[1])[0]
	}
	if n := count("--version", "0"); n != "0" {
		t.Fatalf("version 0 holds %s rows, want 0", n)
	}
	if n := count("--version", fmt.Sprint(latest.Version)); n != "500" {
		t.Fatalf("version %d holds %s rows, want 500", latest.Version, n)
	}
	if n := count("--timestamp", latest.Timestamp.Add(time.Second).Format(time.RFC3339Nano)); n != "500" {
		t.Fatalf("at the latest commit's time: %s rows, want 500", n)
	}
	if out := run("table", "checkpoint", events); !strings.Contains(out, fmt.Sprintf("checkpoint written at version %d", latest.Version)) {
		t.Fatalf("checkpoint: %s", out)
	}
	var cp CheckpointReport
	if err := json.Unmarshal([]byte(run("table", "checkpoint", events, "--json")), &cp); err != nil || cp.Version != latest.Version {
		t.Fatalf("checkpoint --json: %+v, %v", cp, err)
	}
	root := rootCmd()
	root.SetArgs([]string{"query", events, "--version", "99", "SELECT 1"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "version 99 does not exist") {
		t.Fatalf("query --version 99: %v", err)
	}
}

// TestVacuum: `table vacuum` only lists what it would delete unless --yes, keeps live
// and hidden files, and refuses a short retention without --force.
func TestVacuum(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	tbl := table.New(store)
	schema := &table.StructType{Fields: []*table.StructField{{Name: "id", Type: table.Long, Nullable: true}}}
	if _, err := tbl.Create(ctx, table.CreateOptions{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-30 * 24 * time.Hour)
	for _, name := range []string{"live.parquet", "orphan.parquet", "_SUCCESS"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tbl.Commit(ctx, &table.Transaction{Adds: []table.Add{{Path: "live.parquet", Size: 4, DataChange: true}}}); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var err error
		out := captureStdout(t, func() {
			root := rootCmd()
			root.SetArgs(append([]string{"table", "vacuum", dir}, args...))
			err = root.Execute()
		})
		return out, err
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	out, err := run()
	if err != nil || !strings.Contains(out, "would delete orphan.parquet\n") || strings.Contains(out, "live.parquet") ||
		!strings.Contains(out, "1 files (4 B) would be deleted") || !exists("orphan.parquet") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = run("--json")
	var report VacuumReport
	if err != nil || json.Unmarshal([]byte(out), &report) != nil || !report.DryRun || report.NumFiles != 1 || report.Bytes != 4 ||
		report.Files[0].Path != "orphan.parquet" || report.Retention != "168h0m0s" {
		t.Fatalf("dry run --json: %v\n%s", err, out)
	}
	if out, err := run("--retention", "1h"); err == nil || !strings.Contains(err.Error(), "shorter than delta.deletedFileRetentionDuration") {
		t.Fatalf("--retention 1h without --force: %v\n%s", err, out)
	}
	out, err = run("--yes")
	if err != nil || !strings.Contains(out, "deleted orphan.parquet\n") || !strings.Contains(out, "1 files (4 B) deleted") {
		t.Fatalf("--yes: %v\n%s", err, out)
	}
	if exists("orphan.parquet") || !exists("live.parquet") || !exists("_SUCCESS") {
		t.Fatalf("after --yes: orphan %v, live %v, _SUCCESS %v", exists("orphan.parquet"), exists("live.parquet"), exists("_SUCCESS"))
	}
	if out, err := run("--yes", "--retention", "0s", "--force"); err != nil || !strings.Contains(out, "0 files (0 B) deleted") {
		t.Fatalf("second vacuum: %v\n%s", err, out)
	}
}

// sluice table optimize on the demo's table, as a user types it: --dry-run changes
// nothing, the run compacts every partition's files into one, the rows stay, and
// history shows the OPTIMIZE commit with Spark's metrics.
func TestOptimizeCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	captureStdout(t, func() {
		if err := runDemo(context.Background(), dir, 2000, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
	})
	events := filepath.Join(dir, "events")
	run := func(args ...string) string { return sluice(t, args...) }
	count := func() string {
		out := run("query", events, "SELECT count(*) || '/' || count(DISTINCT (_kafka_partition, _kafka_offset)) FROM events")
		return strings.TrimSpace(strings.Split(out, "\n")[1])
	}
	// The demo commits once; three more commits add copies of its files, as a
	// connector's frequent commits would add small files.
	store := mustLocal(t, events)
	tbl := table.New(store)
	first, err := tbl.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		var adds []table.Add
		for _, f := range first.Files() {
			key, _ := table.DecodePath(f.Path)
			data, err := os.ReadFile(filepath.Join(events, key))
			if err != nil {
				t.Fatal(err)
			}
			copyKey := fmt.Sprintf("%s.copy%d.parquet", key, i)
			if err := os.WriteFile(filepath.Join(events, copyKey), data, 0o644); err != nil {
				t.Fatal(err)
			}
			a := *f
			a.Path = table.EncodePath(copyKey)
			adds = append(adds, a)
		}
		if _, err := tbl.Commit(context.Background(), &table.Transaction{Adds: adds}); err != nil {
			t.Fatal(err)
		}
	}
	before, err := table.Load(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	rows := count()
	var plan OptimizeReport
	if err := json.Unmarshal([]byte(run("table", "optimize", events, "--dry-run", "--json")), &plan); err != nil {
		t.Fatal(err)
	}
	if !plan.DryRun || len(plan.Bins) == 0 || plan.Version != -1 {
		t.Fatalf("dry run: %+v", plan)
	}
	if after, _ := table.Load(context.Background(), mustLocal(t, events)); after.Version() != before.Version() {
		t.Fatal("--dry-run committed")
	}
	out := run("table", "optimize", events)
	if !strings.Contains(out, fmt.Sprintf("at version %d", before.Version()+1)) || !strings.Contains(out, "compacted into") {
		t.Fatalf("optimize:\n%s", out)
	}
	after, err := table.Load(context.Background(), mustLocal(t, events))
	if err != nil {
		t.Fatal(err)
	}
	if after.NumFiles() >= before.NumFiles() {
		t.Fatalf("%d files after optimize, %d before", after.NumFiles(), before.NumFiles())
	}
	if got := count(); got != rows || !strings.HasPrefix(rows, "8000/2000") {
		t.Fatalf("rows %s after optimize, %s before", got, rows)
	}
	var history []HistoryEntry
	if err := json.Unmarshal([]byte(run("table", "history", events, "--json", "--limit", "1")), &history); err != nil {
		t.Fatal(err)
	}
	// An OPTIMIZE read the files it removes: not a blind append (every commit was one before).
	if h := history[0]; h.Operation != "OPTIMIZE" || h.OperationMetrics["numRemovedFiles"] != fmt.Sprint(before.NumFiles()) || h.OperationParameters["predicate"] != "[]" ||
		h.IsBlindAppend == nil || *h.IsBlindAppend {
		t.Fatalf("history: %+v", h)
	}
	if out := run("table", "optimize", events); !strings.Contains(out, "nothing committed") {
		t.Fatalf("second optimize:\n%s", out)
	}
}

func mustLocal(t *testing.T, dir string) storage.Storage {
	t.Helper()
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sluice query --format and --limit, and --where on a local table.
func TestQueryFormats(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	captureStdout(t, func() {
		if err := runDemo(context.Background(), dir, 300, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			t.Fatal(err)
		}
	})
	events := filepath.Join(dir, "events")
	run := func(args ...string) string { return sluice(t, append([]string{"query", events}, args...)...) }
	const q = "SELECT _kafka_partition AS p, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"
	if out := run("--format", "csv", q); !strings.HasPrefix(out, "p,n\n0,") || strings.Count(out, "\n") != 4 {
		t.Errorf("csv:\n%s", out)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(run("--format", "json", q)), &rows); err != nil || len(rows) != 3 || rows[0]["p"] != float64(0) {
		t.Errorf("json: %v %v", rows, err)
	}
	if out := run("--format", "markdown", "--limit", "2", q); !strings.HasPrefix(out, "| p | n |\n|---|---|\n| 0 |") || strings.Count(out, "\n") != 4 {
		t.Errorf("markdown --limit 2:\n%s", out)
	}
	if out := run("--where", "_kafka_partition = 1", "--format", "csv", "SELECT DISTINCT _kafka_partition FROM events"); out != "_kafka_partition\n1\n" {
		t.Errorf("--where:\n%s", out)
	}
}

// sluice runs the command line as a user types it and returns what it printed; an
// error fails the test.
func sluice(t *testing.T, args ...string) string {
	t.Helper()
	var err error
	out := captureStdout(t, func() {
		root := rootCmd()
		root.SetArgs(args)
		err = root.Execute()
	})
	if err != nil {
		t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
