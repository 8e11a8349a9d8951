package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicelake/sluice/connector"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
	"github.com/sluicelake/sluice/table/storage/s3test"
)

// TestBenchManyWriters measures many writers on one table (issue 15, item 4): N
// writers, each as one Sluice instance commits (a data file, then a log entry with its
// partitions' txns, optimistic, put-if-absent), every flush interval, against
// versitygw behind a latency of 20–60 ms per request, as a cloud object store has.
// Reported per N: commits per second, lost races per commit, commit latency p50/p99,
// whether every writer kept up with its interval, and checkpoint time. make test runs
// a short form (N = 1, 4; 3 s; 1 s interval); make bench-e2e the full one (N = 1 … 64,
// 30 s each, 5 s interval).
func TestBenchManyWriters(t *testing.T) {
	ns, duration, interval := []int{1, 4}, 3*time.Second, time.Second
	if os.Getenv("SLUICE_BENCH_E2E") == "full" {
		ns, duration, interval = []int{1, 2, 4, 8, 16, 32, 64}, 30*time.Second, 5*time.Second
	}
	if only := os.Getenv("SLUICE_BENCH_E2E_WRITERS"); only != "" { // e.g. "32,64"
		ns = ns[:0]
		for _, f := range strings.Split(only, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatalf("SLUICE_BENCH_E2E_WRITERS: %v", err)
			}
			ns = append(ns, n)
		}
	}
	if secs := os.Getenv("SLUICE_BENCH_E2E_SECONDS"); secs != "" { // a run's length
		n, err := strconv.Atoi(secs)
		if err != nil {
			t.Fatalf("SLUICE_BENCH_E2E_SECONDS: %v", err)
		}
		duration = time.Duration(n) * time.Second
	}
	maxStretch := connector.DefaultMaxStretch // each writer paces as the connector does
	if os.Getenv("SLUICE_BENCH_E2E_PACING") == "off" {
		maxStretch = 1
	}
	srv := s3test.Start(t)
	report := []string{"| writers | commits/s | lost races per commit | commit p50 | commit p99 | kept up | checkpoints | checkpoint p50 | interval p50 / max |", "|---|---|---|---|---|---|---|---|---|"}
	for _, n := range ns {
		location := fmt.Sprintf("s3://%s/writers-%d-%d", srv.Bucket, n, time.Now().UnixNano())
		base, err := storage.OpenWith(context.Background(), location, storage.Options{S3: storage.S3Options{Endpoint: srv.Endpoint,
			Region: srv.Region, PathStyle: true, AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey}})
		if err != nil {
			t.Fatal(err)
		}
		store := &slowStore{Storage: base, min: 20 * time.Millisecond, max: 60 * time.Millisecond}
		schema := &table.StructType{Fields: []*table.StructField{{Name: "id", Type: table.Long}}}
		if _, err := table.New(store).Create(context.Background(), table.CreateOptions{Name: "w", Schema: schema,
			Configuration: map[string]string{"delta.checkpointInterval": "10"}}); err != nil {
			t.Fatal(err)
		}
		r := runWriters(t, store, n, duration, interval, maxStretch)
		report = append(report, r.row(n, duration, interval))
	}
	text := strings.Join(report, "\n")
	t.Logf("many writers on one table (versitygw, 20–60 ms per request, flush every %s):\n%s", interval, text)
	if out := os.Getenv("SLUICE_BENCH_E2E_OUT"); out != "" {
		if f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "\nMany writers on one table (versitygw, 20–60 ms per request, flush every %s, %s a run):\n\n%s\n", interval, duration, text)
			f.Close()
		}
	}
}

// writersResult is what a run of N writers did.
type writersResult struct {
	commits, attempts int
	latencies         []time.Duration
	checkpoints       []time.Duration
	behind            int // flushes that started more than one (paced) interval late
	intervals         []time.Duration
}

func (r writersResult) row(n int, duration, interval time.Duration) string {
	slices.Sort(r.latencies)
	slices.Sort(r.checkpoints)
	q := func(d []time.Duration, f float64) string {
		if len(d) == 0 {
			return "—"
		}
		return d[min(len(d)-1, int(f*float64(len(d))))].Round(time.Millisecond).String()
	}
	kept := "yes"
	if r.behind > 0 {
		kept = fmt.Sprintf("no (%d late flushes)", r.behind)
	}
	slices.Sort(r.intervals)
	return fmt.Sprintf("| %d | %.2f | %.2f | %s | %s | %s | %d | %s | %s / %s |", n, float64(r.commits)/duration.Seconds(),
		float64(r.attempts-r.commits)/float64(max(r.commits, 1)), q(r.latencies, 0.5), q(r.latencies, 0.99), kept, len(r.checkpoints), q(r.checkpoints, 0.5),
		q(r.intervals, 0.5), q(r.intervals, 1))
}

// runWriters runs n writers for duration, each committing every interval (the first
// at a random offset, as instances start at different times), stretched by a
// connector.FlushPacer of maxStretch while its commits lose races.
func runWriters(t *testing.T, store storage.Storage, n int, duration, interval time.Duration, maxStretch float64) writersResult {
	var mu sync.Mutex
	var res writersResult
	var wg, cps sync.WaitGroup
	deadline := time.Now().Add(duration)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tbl := table.New(store, table.ForAppending(), table.DeferCheckpoints())
			pacer := connector.FlushPacer{Max: maxStretch}
			next := time.Now().Add(time.Duration(rand.Int64N(int64(interval))))
			prev := int64(-1)
			for seq := int64(0); ; seq++ {
				time.Sleep(time.Until(next))
				if time.Now().After(deadline) {
					return
				}
				paced := pacer.Interval(interval)
				late := time.Since(next) > paced
				key := fmt.Sprintf("w%d-%d.parquet", w, seq)
				if err := store.Put(context.Background(), key, bytes.NewReader(make([]byte, 1024)), 1024); err != nil {
					t.Error(err)
					return
				}
				start := time.Now()
				cr, err := tbl.Commit(context.Background(), &table.Transaction{
					Adds:    []table.Add{{Path: key, Size: 1024, ModificationTime: start.UnixMilli(), DataChange: true, Stats: `{"numRecords":10}`}},
					AppTxns: []table.AppTxn{{AppID: fmt.Sprintf("w%d", w), Prev: prev, Version: seq}}})
				if err != nil {
					t.Error(err)
					return
				}
				took := time.Since(start)
				prev = seq
				mu.Lock()
				res.commits++
				res.attempts += cr.Attempts
				res.latencies = append(res.latencies, took)
				res.intervals = append(res.intervals, paced)
				if late {
					res.behind++
				}
				mu.Unlock()
				if cr.CheckpointDue {
					cps.Add(1)
					go func() {
						defer cps.Done()
						st := time.Now()
						if _, _, err := table.New(store, table.ForAppending()).Checkpoint(context.Background()); err == nil {
							mu.Lock()
							res.checkpoints = append(res.checkpoints, time.Since(st))
							mu.Unlock()
						}
					}()
				}
				pacer.Observe(cr.Attempts)
				next = next.Add(pacer.Interval(interval))
			}
		}()
	}
	wg.Wait()
	cps.Wait()
	return res
}

// slowStore adds a latency to every request, as a cloud object store has.
type slowStore struct {
	storage.Storage
	min, max time.Duration
}

func (s *slowStore) wait() { time.Sleep(s.min + time.Duration(rand.Int64N(int64(s.max-s.min)))) }

func (s *slowStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.wait()
	return s.Storage.Get(ctx, key)
}

func (s *slowStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	s.wait()
	return s.Storage.Put(ctx, key, r, size)
}

func (s *slowStore) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	s.wait()
	return s.Storage.PutIfAbsent(ctx, key, data)
}

func (s *slowStore) List(ctx context.Context, prefix, startAfter string) iter.Seq2[storage.ObjectInfo, error] {
	s.wait()
	return s.Storage.List(ctx, prefix, startAfter)
}

func (s *slowStore) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	s.wait()
	return s.Storage.Stat(ctx, key)
}

func (s *slowStore) Delete(ctx context.Context, key string) error {
	s.wait()
	return s.Storage.Delete(ctx, key)
}
