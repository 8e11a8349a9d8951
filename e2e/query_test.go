package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
)

// lockedBuffer is a bytes.Buffer safe to read while a process writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// `sluice query --watch` on an S3 table (versitygw) that a connector is ingesting into:
// it redraws with each new version, the counts grow to every message, and Ctrl-C ends
// it cleanly. Meanwhile two more `sluice query` processes share its cache directory.
func TestQueryWatchS3WhileIngesting(t *testing.T) {
	srv := s3test.Start(t)
	cluster := newCluster(t, "events", 3)
	location := "s3://" + srv.Bucket + "/lake/events"
	cfg := parseConfig(t, fmt.Sprintf(`
name: watch
kafka: {bootstrap_servers: %s}
storage:
  s3: {endpoint: %s, region: %s, path_style: true, access_key_id: %s, secret_access_key: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}, {name: user, type: string}, {name: ts, type: timestamp}]
    kafka_columns: true
    flush: {max_rows: 200, max_latency: 100ms}
`, cluster.ListenAddrs()[0], srv.Endpoint, srv.Region, srv.AccessKeyID, srv.SecretAccessKey, location))
	produce(t, cluster, events("events", 0, 500)...)
	r := startConnector(t, cfg, testLogger(t))
	waitFor(t, time.Minute, "a first commit", func() bool {
		store, err := storage.OpenWith(context.Background(), location, storage.Options{S3: storage.S3Options{Endpoint: srv.Endpoint,
			Region: srv.Region, PathStyle: true, AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey}})
		if err != nil {
			return false
		}
		_, err = store.Stat(context.Background(), "_delta_log/00000000000000000001.json")
		return err == nil
	})
	cacheDir := t.TempDir()
	sluice := func(args ...string) *exec.Cmd {
		cmd := exec.Command(sluiceBinary(t), append([]string{"query", location, "--s3-endpoint", srv.Endpoint, "--s3-region", srv.Region,
			"--s3-path-style", "--cache-dir", cacheDir}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+srv.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+srv.SecretAccessKey)
		return cmd
	}
	watch := sluice("--watch", "200ms", "--format", "csv", "SELECT count(*) AS n FROM events")
	var out lockedBuffer
	watch.Stdout, watch.Stderr = &out, &out
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Process.Kill() })
	for wave := 1; wave < 4; wave++ {
		produce(t, cluster, events("events", wave*500, 500)...)
		time.Sleep(400 * time.Millisecond)
	}
	// Two one-off queries share the cache with the watcher.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := sluice("--format", "csv", "SELECT count(*) = count(DISTINCT (_kafka_partition, _kafka_offset)) AS once FROM events")
			got, err := q.CombinedOutput()
			if err != nil || !strings.Contains(string(got), "true") {
				t.Errorf("one-off query: %v\n%s", err, got)
			}
		}()
	}
	wg.Wait()
	header := regexp.MustCompile(`(?m)^-- s3://\S+ at version (\d+), committed \S+\nn\n(\d+)$`)
	waitFor(t, time.Minute, "the watcher to show all 2000 rows", func() bool {
		m := header.FindAllStringSubmatch(out.String(), -1)
		return len(m) > 0 && m[len(m)-1][2] == "2000"
	})
	if err := watch.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := watch.Wait(); err != nil {
		t.Fatalf("watch after Ctrl-C: %v\n%s", err, out.String())
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	draws := header.FindAllStringSubmatch(out.String(), -1)
	lastVersion, lastCount := -1, -1
	for _, d := range draws {
		v, _ := strconv.Atoi(d[1])
		n, _ := strconv.Atoi(d[2])
		if v <= lastVersion || n < lastCount {
			t.Fatalf("redraws out of order:\n%s", out.String())
		}
		lastVersion, lastCount = v, n
	}
	if len(draws) < 3 {
		t.Fatalf("%d redraws, want one per new version seen:\n%s", len(draws), out.String())
	}
	t.Logf("%d redraws, the last at version %d", len(draws), lastVersion)
}
