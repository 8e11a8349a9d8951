package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/connector"
)

// TestStartPoliciesAndTopicPattern: a regex subscription picks up matching topics; a
// table with start: latest ingests only what arrives after it starts; explicit offsets
// start each listed partition there; once a table has a txn, the table decides.
func TestStartPoliciesAndTopicPattern(t *testing.T) {
	cluster := newCluster(t, "app.clicks", 2)
	admin := kgoClient(t, cluster)
	createTopic(t, admin, "app.views", 2)
	createTopic(t, admin, "other", 1)
	var recs []*kgo.Record
	for i := range 100 {
		for _, topic := range []string{"app.clicks", "app.views", "other"} {
			part := int32(i % 2)
			if topic == "other" {
				part = 0
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: part, Value: fmt.Appendf(nil, `{"id":%d,"ts":"2024-06-01T%02d:30:00Z"}`, i, i%24)})
		}
	}
	produceTo(t, cluster, recs)
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: starts
kafka: {bootstrap_servers: %s}
tables:
  - name: pattern
    topic_pattern: "app\\..*"
    location: %s/pattern
    schema: [{name: id, type: long}, {name: ts, type: timestamp}]
    columns: {hour: "hour(ts)"}
    kafka_columns: [topic, key]
  - name: explicit
    topics: [app.clicks]
    location: %s/explicit
    schema: [{name: id, type: long}]
    start: {app.clicks: {0: 40}}
`, cluster.ListenAddrs()[0], dir, dir))
	runUntilCaughtUp(t, cfg)
	if n := countRowsNamed(t, dir+"/pattern", "pattern", ""); n != 200 {
		t.Fatalf("topic_pattern: %d rows, want 200 (app.clicks and app.views, not other)", n)
	}
	if n := countRowsNamed(t, dir+"/pattern", "pattern", "hour = extract(hour FROM ts) AND _kafka_topic LIKE 'app.%' AND _kafka_key IS NULL"); n != 200 {
		t.Fatalf("hour() and kafka_columns [topic, key]: %d rows right, want 200", n)
	}
	// Partition 0 holds even ids 0..98 (50 messages) from offset 0; starting at 40 keeps 10.
	if n := countRowsNamed(t, dir+"/explicit", "explicit", ""); n != 10+50 {
		t.Fatalf("explicit start: %d rows, want 60 (10 from partition 0 at offset 40, all 50 of partition 1)", n)
	}

	// start: latest ingests only what is produced after the table's first assignment.
	latest := parseConfig(t, fmt.Sprintf(`
name: starts
kafka: {bootstrap_servers: %s, group_id: latest}
metrics: {listen: %q}
tables:
  - name: latest
    topics: [other]
    location: %s/latest
    schema: [{name: id, type: long}]
    start: latest
    flush: {max_latency: 100ms}
`, cluster.ListenAddrs()[0], freeAddr(t), dir))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := connector.New(ctx, latest, connector.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := c.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	addr := latest.Metrics.Listen
	waitFor(t, 30*time.Second, "readyz", func() bool { return httpStatus(addr, "/readyz") == 200 })
	waitFor(t, 30*time.Second, "the partition assignment", func() bool {
		_, ok := metric(addr, `sluice_consumer_lag{partition="0",table="latest",topic="other"}`)
		return ok
	})
	var more []*kgo.Record
	for i := 1000; i < 1005; i++ {
		more = append(more, &kgo.Record{Topic: "other", Value: fmt.Appendf(nil, `{"id":%d}`, i)})
	}
	produceTo(t, cluster, more)
	waitFor(t, 30*time.Second, "the 5 new messages", func() bool {
		n, _ := metric(addr, `sluice_rows_committed_total{table="latest"}`)
		return n == 5
	})
	if httpStatus(addr, "/healthz") != 200 {
		t.Fatal("healthz is not 200 while running")
	}
	// The committed batch's buffers are kept for the next rows, and count against the
	// memory budget.
	waitFor(t, 10*time.Second, "the reused buffers counted", func() bool {
		reused, _ := metric(addr, "sluice_memory_reused_bytes")
		used, _ := metric(addr, "sluice_memory_bytes")
		return reused > 0 && used >= reused
	})
	if code := httpStatus(addr, "/debug/pprof/heap"); code != http.StatusNotFound {
		t.Fatalf("/debug/pprof/heap answers %d without metrics.pprof, want 404", code)
	}
	body := httpBody(addr, "/metrics")
	for _, name := range []string{"sluice_commits_total", "sluice_commit_duration_seconds_bucket", "sluice_table_version", "sluice_buffer_bytes", "sluice_memory_bytes", "go_goroutines"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	cancel()
	wg.Wait()
	if n := countRowsNamed(t, dir+"/latest", "latest", "id >= 1000"); n != 5 || countRowsNamed(t, dir+"/latest", "latest", "") != 5 {
		t.Fatalf("start: latest ingested older messages or missed new ones")
	}
}

func produceTo(t *testing.T, c interface{ ListenAddrs() []string }, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func httpStatus(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func httpBody(addr, path string) string {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
