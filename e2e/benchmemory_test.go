package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/schema/registrytest"
)

// TestBenchMemory measures what the memory target asks about: peak RSS of the
// real binary against memory_budget with 256 partitions over 4 tables (4 topics of 64
// partitions, JSON of 10 fields), the broker in its own process, flushes forced by the
// budget alone (max_rows, max_bytes and max_latency far away). Beside peak RSS it
// samples the binary's /metrics every 50 ms: the Go runtime's memory from the OS
// (go_memstats_sys_bytes) and Sluice's buffered rows (sluice_memory_bytes_max); what RSS
// holds beyond the Go runtime is librdkafka's (prefetch queues, fetch buffers) and the
// binary's own pages. It also samples the peak anonymous RSS (RssAnon): RSS less the
// pages mapped from files, mostly the executable's (about 39 MiB at rest), which are
// shared and clean, and which the kernel reclaims rather than failing. The short form
// (make test) runs 4 × 8 partitions and 20,000 messages to check it works;
// SLUICE_BENCH_E2E=full runs 4 × 64 partitions, 1M messages, budgets of 64 MiB, 256 MiB
// and 512 MiB (the default). SLUICE_BENCH_E2E_KAFKA adds librdkafka properties ("k: v,
// k2: v2") to try settings. The binary serves /debug/pprof (metrics.pprof): with
// SLUICE_BENCH_E2E_HEAP_DIR set, a heap profile of the live objects (after a
// collection) is taken at each new peak of the Go runtime's memory, and the last one
// written there as heap-<budget MiB>.pprof.
func TestBenchMemory(t *testing.T) {
	full := os.Getenv("SLUICE_BENCH_E2E") == "full"
	parts, perTopic, budgets := 8, 5_000, []int64{64 << 20}
	if full {
		parts, perTopic, budgets = 64, 250_000, []int64{64 << 20, 256 << 20, 512 << 20}
	}
	heapDir := os.Getenv("SLUICE_BENCH_E2E_HEAP_DIR")
	bins := buildHarness(t)
	var flags []string
	for i := range 4 {
		flags = append(flags, "-topic", fmt.Sprintf("mem%d:%d", i, parts))
	}
	broker := startProcess(t, bins.broker, flags...)
	addr := strings.TrimPrefix(broker.waitLine(t, "ready "), "ready ")
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	for i := range 4 {
		preload(t, addr, reg, fmt.Sprintf("mem%d", i), perTopic, "json", 10)
	}
	_, cols := benchSchema(10)
	report := []string{"| partitions | messages | memory_budget | peak RSS | peak anonymous RSS | budget + 64 MiB | peak Go runtime (sys) | peak RSS − Go | peak buffered | wall |",
		"|---|---|---|---|---|---|---|---|---|---|"}
	for _, budget := range budgets {
		dir := t.TempDir()
		metricsAddr := freeAddr(t)
		var tables strings.Builder
		for i := range 4 {
			fmt.Fprintf(&tables, `  - name: mem%d
    topics: [mem%d]
    location: %s
    schema: %s
    flush: {max_rows: 100000000, max_bytes: 4GiB, max_latency: 1h}
    maintenance: {optimize: {enabled: false}}
`, i, i, filepath.Join(dir, fmt.Sprint("mem", i)), cols)
		}
		props := ""
		if extra := os.Getenv("SLUICE_BENCH_E2E_KAFKA"); extra != "" {
			props = ", properties: {" + extra + "}"
		}
		p := startSluice(t, fmt.Sprintf(`name: membench
kafka: {bootstrap_servers: %s%s}
metrics: {listen: %q, pprof: true}
memory_budget: %d
logging: {level: warn}
tables:
%s`, addr, props, metricsAddr, budget, tables.String()), "--until-caught-up")
		start := time.Now()
		var peakRSS, peakAnon, peakGo, peakRest, peakBuf float64
		var heapAtPeak []byte
		var lastHeap time.Time
		deadline := time.After(10 * time.Minute)
	loop:
		for {
			select {
			case err := <-p.done:
				if err != nil {
					t.Fatalf("sluice: %v\n%s", err, p.output.String())
				}
				break loop
			case <-deadline:
				t.Fatal("no exit within 10 minutes")
			case <-time.After(50 * time.Millisecond):
			}
			rss := vmRSS(p.cmd.Process.Pid)
			peakRSS = max(peakRSS, vmHWM(p.cmd.Process.Pid))
			peakAnon = max(peakAnon, procStatus(p.cmd.Process.Pid, "RssAnon:"))
			if sys, ok := metric(metricsAddr, "go_memstats_sys_bytes"); ok {
				// Profiles are taken after a collection, which lowers the peak a
				// little: on every new peak only when asked for, else once.
				if sys > peakGo && time.Since(lastHeap) > 250*time.Millisecond && (heapDir != "" || heapAtPeak == nil) {
					if prof := heapProfile(metricsAddr); prof != nil {
						heapAtPeak, lastHeap = prof, time.Now()
					}
				}
				peakGo = max(peakGo, sys)
				if rss > 0 {
					peakRest = max(peakRest, rss-sys)
				}
			}
			if m, ok := metric(metricsAddr, "sluice_memory_bytes_max"); ok {
				peakBuf = m
			}
		}
		wall := time.Since(start)
		if len(heapAtPeak) == 0 {
			t.Fatal("no heap profile from /debug/pprof/heap with metrics.pprof on")
		}
		if heapDir != "" {
			name := filepath.Join(heapDir, fmt.Sprintf("heap-%d.pprof", budget>>20))
			if err := os.WriteFile(name, heapAtPeak, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("heap profile at the Go runtime's peak: %s", name)
		}
		for i := range 4 {
			if got := countRowsNamed(t, filepath.Join(dir, fmt.Sprint("mem", i)), "events", ""); got != perTopic {
				t.Fatalf("table mem%d holds %d rows, want %d", i, got, perTopic)
			}
		}
		mib := func(b float64) string { return fmt.Sprintf("%.0f MiB", b/(1<<20)) }
		report = append(report, fmt.Sprintf("| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s |", 4*parts, 4*perTopic, mib(float64(budget)),
			mib(peakRSS), mib(peakAnon), mib(float64(budget+64<<20)), mib(peakGo), mib(peakRest), mib(peakBuf), wall.Round(100*time.Millisecond)))
	}
	text := strings.Join(report, "\n")
	t.Logf("memory (4 tables):\n%s", text)
	if out := os.Getenv("SLUICE_BENCH_E2E_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fmt.Fprintf(f, "\n%s\n", text)
	}
}

// heapProfile fetches /debug/pprof/heap from addr: nil unless it answers 200.
func heapProfile(addr string) []byte {
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?gc=1")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	return b
}
