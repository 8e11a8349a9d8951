package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// TestBenchFreshness measures freshness (issue 15, item 3): at a steady produce rate,
// with flush.max_latency 1s, the time from each event's produce to the commit that
// made it visible (the commit's timestamp), for every event: p50, p99, max. The real
// binary runs against the broker in its own process. make test runs a short form (5 s
// at 1,000 events/s) to check the measurement works; make bench-e2e the full one
// (60 s at 5,000 events/s). The figures are reported, not asserted.
func TestBenchFreshness(t *testing.T) {
	rate, seconds := 1000, 5
	if os.Getenv("SLUICE_BENCH_E2E") == "full" {
		rate, seconds = 5000, 60
	}
	bins := buildHarness(t)
	broker := startProcess(t, bins.broker, "-topic", "fresh:8")
	addr := strings.TrimPrefix(broker.waitLine(t, "ready "), "ready ")
	location := filepath.Join(t.TempDir(), "fresh")
	config := fmt.Sprintf(`name: fresh
kafka: {bootstrap_servers: %s}
tables:
  - name: fresh
    topics: [fresh]
    location: %s
    schema: [{name: id, type: long, nullable: false}, {name: produced, type: long}]
    flush: {max_latency: 1s}
    maintenance: {optimize: {enabled: false}}
`, addr, location)
	p := startSluice(t, config)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Produce at the rate, in ticks of 10 ms; each event carries its produce time.
	total := rate * seconds
	tick := time.NewTicker(10 * time.Millisecond)
	start := time.Now()
	sent := 0
	for sent < total {
		<-tick.C
		due := min(total, int(time.Since(start).Seconds()*float64(rate)))
		for ; sent < due; sent++ {
			cl.Produce(context.Background(), &kgo.Record{Topic: "fresh",
				Value: fmt.Appendf(nil, `{"id":%d,"produced":%d}`, sent, time.Now().UnixMicro())}, nil)
		}
	}
	tick.Stop()
	if err := cl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewLocal(location)
	if err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	waitFor(t, time.Minute, "every event committed", func() bool {
		lat, err = freshness(store)
		return err == nil && len(lat) == total
	})
	p.cmd.Process.Signal(os.Interrupt)
	<-p.done
	slices.Sort(lat)
	q := func(f float64) time.Duration {
		return lat[min(len(lat)-1, int(f*float64(len(lat))))].Round(time.Millisecond)
	}
	t.Logf("freshness of %d events at %d/s, flush.max_latency 1s: p50 %s, p99 %s, max %s", total, rate, q(0.5), q(0.99), lat[len(lat)-1].Round(time.Millisecond))
	if out := os.Getenv("SLUICE_BENCH_E2E_OUT"); out != "" {
		f, err := os.OpenFile(out, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "\nFreshness (produce → visible in a commit), %d events at %d/s, flush.max_latency 1s: p50 %s, p99 %s, max %s\n",
				total, rate, q(0.5), q(0.99), lat[len(lat)-1].Round(time.Millisecond))
			f.Close()
		}
	}
}

// freshness reads every committed event's latency: when its commit's log file was
// written (the moment a reader can see it) minus the produce time it carries.
func freshness(store storage.Storage) ([]time.Duration, error) {
	ctx := context.Background()
	hist, err := table.History(ctx, store, 0)
	if err != nil {
		return nil, err
	}
	committed := map[string]time.Time{} // file → when its commit was written
	for _, e := range hist {
		data, err := store.Get(ctx, table.CommitKey(e.Version))
		if err != nil {
			return nil, err
		}
		for line := range strings.Lines(string(data)) {
			var a table.Action
			if json.Unmarshal([]byte(line), &a) == nil && a.Add != nil {
				committed[a.Add.Path] = e.Timestamp
			}
		}
	}
	var out []time.Duration
	for path, ts := range committed {
		key, err := table.DecodePath(path)
		if err != nil {
			return nil, err
		}
		data, err := store.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		produced, err := readLongColumn(data, "produced")
		if err != nil {
			return nil, err
		}
		for _, p := range produced {
			out = append(out, ts.Sub(time.UnixMicro(p)))
		}
	}
	return out, nil
}

// readLongColumn reads a top-level long column of a Parquet file.
func readLongColumn(data []byte, name string) ([]int64, error) {
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	col, ok := f.Schema().Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no column %s", name)
	}
	var out []int64
	vals := make([]parquet.Value, 1024)
	for _, rg := range f.RowGroups() {
		pages := rg.ColumnChunks()[col.ColumnIndex].Pages()
		for {
			p, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				pages.Close()
				return nil, err
			}
			r := p.Values()
			for {
				n, err := r.ReadValues(vals)
				for _, v := range vals[:n] {
					out = append(out, v.Int64())
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					pages.Close()
					return nil, err
				}
			}
		}
		pages.Close()
	}
	return out, nil
}
