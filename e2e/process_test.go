package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// sluiceBinary builds cmd/sluice once per test run.
func sluiceBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("SLUICE_BENCH_E2E_BIN"); bin != "" {
		return bin // another build, for the benchmarks to compare two
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-e2e-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/sluice").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metric scrapes one sample (name with labels, as Prometheus prints it) from /metrics.
func metric(addr, sample string) (float64, bool) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

type process struct {
	cmd    *exec.Cmd
	output bytes.Buffer
	done   chan error
}

func startSluice(t *testing.T, config string, args ...string) *process {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &process{done: make(chan error, 1)}
	p.cmd = exec.Command(sluiceBinary(t), append([]string{"run", "-c", path}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.output, &p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("sluice output:\n%s", p.output.String())
		}
	})
	return p
}

// TestSIGTERMFlushesAndCommits: rows buffered under a long flush latency are committed
// when the process gets SIGTERM, and it exits 0.
func TestSIGTERMFlushesAndCommits(t *testing.T) {
	cluster := newCluster(t, "events", 3)
	last := produce(t, cluster, events("events", 0, 1000)...)
	location := filepath.Join(t.TempDir(), "events")
	addr := freeAddr(t)
	p := startSluice(t, fmt.Sprintf(`
name: events-ingest
kafka: {bootstrap_servers: %s}
metrics: {listen: %q}
shutdown_timeout: 30s
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}, {name: user, type: string}, {name: ts, type: timestamp}]
    kafka_columns: true
    flush: {max_rows: 100000000, max_latency: 1h}
`, cluster.ListenAddrs()[0], addr, location))
	deadline := time.Now().Add(time.Minute)
	for {
		if n, ok := metric(addr, `sluice_messages_total{table="events"}`); ok && n == 1000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the connector did not decode the 1000 messages within a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, snap := loadTableIfExists(location); snap != nil && len(snap.AppTransactions()) > 0 {
		t.Fatal("rows were committed before SIGTERM; the test needs them buffered")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.output.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30 s of SIGTERM\n%s", p.output.String())
	}
	if n := countRows(t, location, ""); n != 1000 {
		t.Fatalf("%d rows after SIGTERM, want 1000", n)
	}
	_, snap := loadTable(t, location)
	assertTxns(t, snap.AppTransactions(), "events-ingest", "events", last)
}

// TestMemoryBudget64Partitions ingests 64 MB over 64 partitions with a 16 MiB memory
// budget and flush limits that never trigger: the budget alone must keep buffered
// rows bounded (fetching pauses while the largest buffer is committed). It reports the
// process's peak RSS.
func TestMemoryBudget64Partitions(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skips the 64 MB ingestion")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(64, "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	const n = 256_000
	pad := strings.Repeat("x", 180)
	recs := make([]*kgo.Record, 0, n)
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "events", Value: fmt.Appendf(nil, `{"id":%d,"user":"u%d","pad":%q}`, i, i%1000, pad)})
	}
	for start := 0; start < n; start += 32_000 {
		produce(t, cluster, recs[start:start+32_000]...)
	}
	location := filepath.Join(t.TempDir(), "events")
	addr := freeAddr(t)
	const budget = 16 << 20
	p := startSluice(t, fmt.Sprintf(`
name: mem
kafka: {bootstrap_servers: %s}
metrics: {listen: %q}
memory_budget: %d
logging: {level: warn}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long}, {name: user, type: string}, {name: pad, type: string}]
    flush: {max_rows: 100000000, max_bytes: 1GiB, max_latency: 1h}
`, cluster.ListenAddrs()[0], addr, budget, location), "--until-caught-up")
	var peakRSS, peakMem float64
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var exitErr error
loop:
	for {
		select {
		case exitErr = <-p.done:
			break loop
		case <-ctx.Done():
			t.Fatal("no exit within 3 minutes")
		case <-time.After(20 * time.Millisecond):
		}
		if rss := vmRSS(p.cmd.Process.Pid); rss > peakRSS {
			peakRSS = rss
		}
		if m, ok := metric(addr, "sluice_memory_bytes_max"); ok {
			peakMem = m
		}
	}
	if exitErr != nil {
		t.Fatalf("sluice: %v\n%s", exitErr, p.output.String())
	}
	if got := countRows(t, location, ""); got != n {
		t.Fatalf("%d rows, want %d", got, n)
	}
	t.Logf("memory budget %d MiB: peak buffered %.1f MiB, peak RSS %.0f MiB", budget>>20, peakMem/(1<<20), peakRSS/(1<<20))
	if peakMem == 0 || peakMem > budget*1.5 {
		t.Fatalf("peak buffered bytes %.0f, budget %d: the budget did not hold", peakMem, budget)
	}
}

// vmRSS returns a process's resident set size in bytes (0 if unknown).
func vmRSS(pid int) float64 { return procStatus(pid, "VmRSS:") }

// vmHWM is a process's peak resident set size in bytes so far.
func vmHWM(pid int) float64 { return procStatus(pid, "VmHWM:") }

// procStatus reads one size field of /proc/PID/status, in bytes; 0 when unknown.
func procStatus(pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}
