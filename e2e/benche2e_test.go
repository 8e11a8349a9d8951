package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/schema/registrytest"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
)

// TestBenchE2E is the end-to-end benchmark harness (issue 15): the broker (kfake) in a
// process of its own, topics preloaded, and per workload the limit — librdkafka
// consuming and discarding with Sluice's fetch settings, by assignment and in a
// consumer group — then the real `sluice run --until-caught-up` into local disk and
// into versitygw. Each run is a process: its CPU time comes from the kernel (rusage),
// its peak RSS from /proc (VmHWM, sampled every 50 ms). Start-up (process start to partitions assigned, from Sluice's log)
// is reported apart from steady state.
//
// In `make test` it runs its short form (20,000 JSON messages, local disk, once) to
// check that it works; `make bench-e2e` (SLUICE_BENCH_E2E=full) runs the full one:
// JSON of 10 fields (~200 B, 2M), Avro and Protobuf of the same shape (2M each), JSON
// of 50 fields (~1 KB, 500k), three repetitions each, medians, printed as a Markdown table (and
// written to SLUICE_BENCH_E2E_OUT when set). With SLUICE_BENCH_E2E_PROFILE=dir, the
// first run of each workload writes CPU and allocation profiles there;
// SLUICE_BENCH_E2E_DECODERS sets the configuration's decoders; SLUICE_BENCH_E2E_BIN
// runs that sluice binary instead of one built from this tree.
func TestBenchE2E(t *testing.T) {
	full := os.Getenv("SLUICE_BENCH_E2E") == "full"
	only := os.Getenv("SLUICE_BENCH_E2E_ONLY") // a workload's topic (json, avro, protobuf, wide): that one alone
	type workload struct {
		name, topic string
		n           int
		format      string
		fields      int
	}
	workloads := []workload{{"JSON, 10 fields", "json", 20_000, "json", 10}, {"Protobuf, 10 fields", "protobuf", 20_000, "protobuf", 10}}
	reps, targets := 1, []string{"local"}
	if full {
		workloads = []workload{
			{"JSON, 10 fields (~200 B)", "json", 2_000_000, "json", 10},
			{"Avro, 10 fields", "avro", 2_000_000, "avro", 10},
			{"Protobuf, 10 fields", "protobuf", 2_000_000, "protobuf", 10},
			{"JSON, 50 fields (~1 KB)", "wide", 500_000, "json", 50},
		}
		reps, targets = 3, []string{"local", "versitygw"}
		if only != "" {
			workloads = slices.DeleteFunc(workloads, func(w workload) bool { return w.topic != only })
			reps, targets = 1, []string{"local"}
		}
	}
	bins := buildHarness(t)
	var topicFlags []string
	for _, w := range workloads {
		topicFlags = append(topicFlags, "-topic", w.topic+":8")
	}
	broker := startProcess(t, bins.broker, topicFlags...)
	addr := strings.TrimPrefix(broker.waitLine(t, "ready "), "ready ")
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	var s3 *s3test.Server
	if slices.Contains(targets, "versitygw") {
		s3 = s3test.Start(t)
	}
	var report []string
	report = append(report, "| workload | run | msgs/s (steady) | MB/s | × limit | start-up | CPU-s per 1M msgs | peak RSS | files | commits |",
		"|---|---|---|---|---|---|---|---|---|---|")
	for _, w := range workloads {
		bytes := preload(t, addr, reg, w.topic, w.n, w.format, w.fields)
		var limit float64
		for _, mode := range []string{"assign", "group"} {
			var runs []runStats
			for range reps {
				runs = append(runs, consumeLimit(t, bins.consume, addr, w.topic, w.n, mode == "group"))
			}
			m := median(runs)
			if mode == "assign" {
				limit = m.rate(w.n)
			}
			report = append(report, m.row(w.name, "librdkafka consume-and-discard ("+mode+")", w.n, bytes, limit))
		}
		for _, target := range targets {
			var runs []runStats
			for rep := range reps {
				runs = append(runs, runSluice(t, bins.sluice, addr, reg, s3, w.topic, w.n, w.format, target, rep))
			}
			m := median(runs)
			report = append(report, m.row(w.name, "sluice run → "+target, w.n, bytes, limit))
		}
	}
	text := strings.Join(report, "\n")
	t.Logf("bench-e2e (medians of %d):\n%s", reps, text)
	if out := os.Getenv("SLUICE_BENCH_E2E_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(text+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type harnessBins struct{ sluice, broker, consume string }

// buildHarness builds the sluice binary and the harness's two helper programs.
func buildHarness(t *testing.T) harnessBins {
	t.Helper()
	dir := t.TempDir()
	b := harnessBins{sluice: sluiceBinary(t), broker: filepath.Join(dir, "kfakebroker"), consume: filepath.Join(dir, "consumebench")}
	for pkg, out := range map[string]string{"./cmd/kfakebroker": b.broker, "./cmd/consumebench": b.consume} {
		if out, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return b
}

// proc is a helper process with its output in lines.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
}

func startProcess(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), lines: make(chan string, 1024)}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	})
	return p
}

func (p *proc) waitLine(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%s exited before printing %q", p.cmd.Path, prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("%s did not print %q within a minute", p.cmd.Path, prefix)
		}
	}
}

// benchFields is the value of field i of message k.
func benchFields(k, fields int) map[string]any {
	m := map[string]any{"id": int64(k), "user": fmt.Sprintf("user-%d", k%9973), "ts": time.UnixMilli(1717200000000 + int64(k)*37).UTC()}
	for i := 3; i < fields; i++ {
		switch i % 3 {
		case 0:
			m[fmt.Sprintf("f%02d", i)] = int64(k*i) % 100000
		case 1:
			m[fmt.Sprintf("f%02d", i)] = fmt.Sprintf("value-%d-%d", i, k%1000)
		default:
			m[fmt.Sprintf("f%02d", i)] = float64(k%10000) / 7
		}
	}
	return m
}

// benchSchema is the Avro schema of benchFields, and the declared columns of the JSON
// table.
func benchSchema(fields int) (avroText string, columns string) {
	af := []string{`{"name":"id","type":"long"}`, `{"name":"user","type":"string"}`, `{"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}`}
	cols := []string{`{name: id, type: long, nullable: false}`, `{name: user, type: string}`, `{name: ts, type: timestamp}`}
	for i := 3; i < fields; i++ {
		typ := [...]string{"long", "string", "double"}[i%3]
		af = append(af, fmt.Sprintf(`{"name":"f%02d","type":%q}`, i, typ))
		cols = append(cols, fmt.Sprintf(`{name: f%02d, type: %s}`, i, typ))
	}
	return `{"type":"record","name":"Event","fields":[` + strings.Join(af, ",") + `]}`, "[" + strings.Join(cols, ", ") + "]"
}

// benchProto is the .proto of benchFields: the timestamp a google.protobuf.Timestamp,
// the other fields as in benchSchema.
func benchProto(fields int) string {
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\nimport \"google/protobuf/timestamp.proto\";\nmessage Event {\n  int64 id = 1;\n  string user = 2;\n  google.protobuf.Timestamp ts = 3;\n")
	for i := 3; i < fields; i++ {
		fmt.Fprintf(&b, "  %s f%02d = %d;\n", [...]string{"int64", "string", "double"}[i%3], i, i+1)
	}
	b.WriteString("}\n")
	return b.String()
}

// appendBenchProto encodes benchFields as benchProto's Event, as the Go runtime would.
func appendBenchProto(dst []byte, m map[string]any, fields int) []byte {
	dst = protowire.AppendVarint(protowire.AppendTag(dst, 1, protowire.VarintType), uint64(m["id"].(int64)))
	dst = protowire.AppendString(protowire.AppendTag(dst, 2, protowire.BytesType), m["user"].(string))
	ts := m["ts"].(time.Time)
	tsMsg := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(ts.Unix()))
	if ns := ts.Nanosecond(); ns != 0 {
		tsMsg = protowire.AppendVarint(protowire.AppendTag(tsMsg, 2, protowire.VarintType), uint64(ns))
	}
	dst = protowire.AppendBytes(protowire.AppendTag(dst, 3, protowire.BytesType), tsMsg)
	for i := 3; i < fields; i++ {
		num := protowire.Number(i + 1)
		switch v := m[fmt.Sprintf("f%02d", i)].(type) {
		case int64:
			if v != 0 {
				dst = protowire.AppendVarint(protowire.AppendTag(dst, num, protowire.VarintType), uint64(v))
			}
		case string:
			dst = protowire.AppendString(protowire.AppendTag(dst, num, protowire.BytesType), v)
		case float64:
			if v != 0 {
				dst = protowire.AppendFixed64(protowire.AppendTag(dst, num, protowire.Fixed64Type), math.Float64bits(v))
			}
		}
	}
	return dst
}

// preload produces n messages to topic and returns their total value bytes.
func preload(t *testing.T, addr string, reg *registrytest.Server, topic string, n int, format string, fields int) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	avroText, _ := benchSchema(fields)
	var s avro.Schema
	var id int
	switch format {
	case "avro":
		s = avro.MustParse(avroText)
		if id, err = reg.Register(topic+"-value", registrytest.TypeAvro, avroText); err != nil {
			t.Fatal(err)
		}
	case "protobuf":
		if id, err = reg.Register(topic+"-value", registrytest.TypeProtobuf, benchProto(fields)); err != nil {
			t.Fatal(err)
		}
	}
	var total int64
	batch := make([]*kgo.Record, 0, 10_000)
	flush := func() {
		if err := cl.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	for k := range n {
		m := benchFields(k, fields)
		var v []byte
		switch format {
		case "avro":
			b, err := avro.Marshal(s, m)
			if err != nil {
				t.Fatal(err)
			}
			v = schema.AppendWire(nil, int32(id), b)
		case "protobuf":
			v = appendBenchProto(schema.AppendWire(nil, int32(id), []byte{0}), m, fields)
		default:
			m["ts"] = m["ts"].(time.Time).Format(time.RFC3339Nano)
			if v, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		total += int64(len(v))
		batch = append(batch, &kgo.Record{Topic: topic, Value: v})
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	return total
}

// runStats is one measured run.
type runStats struct {
	wall, startup, cpu time.Duration
	rssKB              int64
	files, commits     int
}

func (r runStats) rate(n int) float64 {
	steady := r.wall - r.startup
	if steady <= 0 {
		steady = r.wall
	}
	return float64(n) / steady.Seconds()
}

func (r runStats) row(workload, run string, n int, bytes int64, limit float64) string {
	rate := r.rate(n)
	ratio := "—"
	if limit > 0 {
		ratio = fmt.Sprintf("%.2f", rate/limit)
	}
	files, commits := "—", "—"
	if r.commits > 0 {
		files, commits = fmt.Sprint(r.files), fmt.Sprint(r.commits)
	}
	rss := "—" // the process ended before the first sample
	if r.rssKB > 0 {
		rss = fmt.Sprintf("%d MiB", r.rssKB>>10)
	}
	return fmt.Sprintf("| %s | %s | %.0f | %.1f | %s | %s | %.2f | %s | %s | %s |", workload, run, rate,
		rate*float64(bytes)/float64(n)/1e6, ratio, r.startup.Round(10*time.Millisecond), r.cpu.Seconds()/(float64(n)/1e6), rss, files, commits)
}

// median takes each figure's median over runs.
func median(runs []runStats) runStats {
	pick := func(f func(runStats) int64) int64 {
		v := make([]int64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return runStats{
		wall:    time.Duration(pick(func(r runStats) int64 { return int64(r.wall) })),
		startup: time.Duration(pick(func(r runStats) int64 { return int64(r.startup) })),
		cpu:     time.Duration(pick(func(r runStats) int64 { return int64(r.cpu) })),
		rssKB:   pick(func(r runStats) int64 { return r.rssKB }),
		files:   int(pick(func(r runStats) int64 { return int64(r.files) })),
		commits: int(pick(func(r runStats) int64 { return int64(r.commits) })),
	}
}

// cpuTime is a finished process's CPU time (user and system).
func cpuTime(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }

// watchPeakRSS samples a running process's peak RSS (VmHWM) every 50 ms; the returned
// function stops sampling and returns the last value, in KiB. (rusage's ru_maxrss of a
// child counts the parent's pages shared before exec, so it is not used.)
func watchPeakRSS(pid int) func() int64 {
	var peak int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := int64(procStatus(pid, "VmHWM:")) >> 10; v > peak { // KiB
				peak = v
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		return peak
	}
}

func consumeLimit(t *testing.T, bin, addr, topic string, n int, group bool) runStats {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(bin, "-brokers", addr, "-topic", topic, "-n", fmt.Sprint(n), fmt.Sprintf("-group=%v", group))
	var stdout strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	err := cmd.Wait()
	rss := peak()
	if err != nil {
		t.Fatalf("consumebench: %v", err)
	}
	wall := time.Since(start)
	out := []byte(stdout.String())
	var r struct {
		Messages int64 `json:"messages"`
		FirstMS  int64 `json:"first_ms"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Messages != int64(n) {
		t.Fatalf("consumebench output %q: %v", out, err)
	}
	return runStats{wall: wall, startup: time.Duration(r.FirstMS) * time.Millisecond, cpu: cpuTime(cmd.ProcessState), rssKB: rss}
}

func runSluice(t *testing.T, bin, addr string, reg *registrytest.Server, s3 *s3test.Server, topic string, n int, valueFormat string, target string, rep int) runStats {
	t.Helper()
	name := fmt.Sprintf("bench-%s-%s-%d-%d", topic, target, rep, time.Now().UnixNano())
	location := filepath.Join(t.TempDir(), "table")
	storageCfg := ""
	if target == "versitygw" {
		location = fmt.Sprintf("s3://%s/%s", s3.Bucket, name)
		storageCfg = fmt.Sprintf("storage:\n  s3: {endpoint: %s, region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}\n",
			s3.Endpoint, s3.Region, s3.AccessKeyID, s3.SecretAccessKey)
	}
	fields := 10
	if topic == "wide" {
		fields = 50
	}
	_, cols := benchSchema(fields)
	format := "format: json\n    schema: " + cols
	if valueFormat != "json" {
		format = "format: " + valueFormat
	}
	decoders := ""
	if d := os.Getenv("SLUICE_BENCH_E2E_DECODERS"); d != "" {
		decoders = "decoders: " + d + "\n"
	}
	config := fmt.Sprintf(`name: %s
%skafka: {bootstrap_servers: %s}
schema_registry: {url: %s}
logging: {format: json}
%stables:
  - name: events
    topics: [%s]
    location: %s
    %s
    flush: {max_rows: 500000, max_latency: 10s}
    maintenance: {optimize: {enabled: false}}
`, name, decoders, addr, reg.URL(), storageCfg, topic, location, format)
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "-c", path, "--until-caught-up"}
	if dir := os.Getenv("SLUICE_BENCH_E2E_PROFILE"); dir != "" && rep == 0 {
		args = append(args, "--cpuprofile", filepath.Join(dir, topic+"-"+target+".cpu.pprof"),
			"--memprofile", filepath.Join(dir, topic+"-"+target+".allocs.pprof"))
	}
	start := time.Now()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	var startup time.Duration
	var logTail []string
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if startup == 0 && strings.Contains(line, `"partitions assigned"`) {
			startup = time.Since(start)
		}
		logTail = append(logTail, line)
		if len(logTail) > 30 {
			logTail = logTail[1:]
		}
	}
	err = cmd.Wait()
	rss := peak()
	if err != nil {
		t.Fatalf("sluice run: %v\n%s", err, strings.Join(logTail, "\n"))
	}
	wall := time.Since(start)
	cpu := cpuTime(cmd.ProcessState)
	var store storage.Storage
	if target == "versitygw" {
		store, err = storage.OpenWith(context.Background(), location, storage.Options{S3: storage.S3Options{Endpoint: s3.Endpoint,
			Region: s3.Region, PathStyle: true, AccessKeyID: s3.AccessKeyID, SecretAccessKey: s3.SecretAccessKey}})
	} else {
		store, err = storage.NewLocal(location)
	}
	if err != nil {
		t.Fatal(err)
	}
	snap, err := table.Load(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	var rows int64
	for _, f := range snap.Files() {
		st, _ := f.ParseStats()
		rows += st.NumRecords
	}
	if rows != int64(n) {
		t.Fatalf("%s → %s: the table holds %d rows, want %d", topic, target, rows, n)
	}
	return runStats{wall: wall, startup: startup, cpu: cpu, rssKB: rss, files: snap.NumFiles(), commits: int(snap.Version())}
}
