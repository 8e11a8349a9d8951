package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/optimize"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// Two instances in one consumer group upsert one table (keyed JSON, tombstones
// deleting) while `sluice table optimize` (optimize.Run, the command's code) compacts
// it between waves, and the second instance joins mid-stream (a rebalance). The table
// then holds exactly each key's last row (the key column is learnt from the JSON
// message keys: no key: in the configuration): no change lost or applied twice, no deleted
// key back, whatever optimize rewrote under the upserts.
func TestUpsertTwoInstancesWithOptimize(t *testing.T) {
	const topic = "accounts"
	cluster := newCluster(t, topic, 6)
	cl := kgoClient(t, cluster)
	location := filepath.Join(t.TempDir(), "accounts")
	store, err := storage.NewLocal(location)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var instances group
	start := func(name string) (context.CancelFunc, interface{ Wait() }) {
		cfg := parseConfig(t, fmt.Sprintf(`
name: accounts
kafka: {bootstrap_servers: %s}
tables:
  - name: accounts
    topics: [%s]
    location: %s
    mode: upsert
    schema: [{name: id, type: long, nullable: false}, {name: balance, type: long}, {name: seq, type: long}]
    flush: {max_rows: 150, max_latency: 100ms}
    maintenance: {optimize: {enabled: false}}
`, cluster.ListenAddrs()[0], topic, location))
		cfg.Kafka.Properties = map[string]string{"session.timeout.ms": "6000", "max.poll.interval.ms": "6000"}
		return instances.start(t, ctx, cfg, name)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[int]int{} // id → seq of its last change
	seq := 0
	stopA, wgA := start("a")
	var stopB context.CancelFunc
	var wgB interface{ Wait() }
	tbl := table.New(store)
	optimized := 0
	for wave := range 10 {
		var recs []*kgo.Record
		for range 400 {
			seq++
			id := rng.IntN(300)
			key := fmt.Appendf(nil, `{"id":%d}`, id)
			if rng.IntN(8) == 0 {
				delete(want, id)
				recs = append(recs, &kgo.Record{Topic: topic, Key: key})
				continue
			}
			want[id] = seq
			recs = append(recs, &kgo.Record{Topic: topic, Key: key, Value: fmt.Appendf(nil, `{"id":%d,"balance":%d,"seq":%d}`, id, rng.IntN(1000), seq)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if wave == 2 {
			stopB, wgB = start("b")
		}
		time.Sleep(600 * time.Millisecond) // long enough for b to get partitions (kfake rebalances in ~3 s)
		res, err := optimize.Run(ctx, tbl, optimize.Options{MinFiles: 2}, nil)
		if err != nil {
			t.Fatalf("optimize during wave %d: %v", wave, err)
		}
		if res.Version >= 0 {
			optimized++
		}
	}
	check := func() error {
		_, snap := loadTableIfExists(location)
		if snap == nil {
			return fmt.Errorf("no table yet")
		}
		db := duckNamed(t, store, snap, "accounts")
		rs, err := db.Query(`SELECT id, seq FROM accounts`)
		if err != nil {
			return err
		}
		defer rs.Close()
		got := map[int]int{}
		for rs.Next() {
			var id, s int
			if err := rs.Scan(&id, &s); err != nil {
				return err
			}
			if _, dup := got[id]; dup {
				return fmt.Errorf("id %d twice", id)
			}
			got[id] = s
		}
		for id, s := range want {
			if got[id] != s {
				return fmt.Errorf("id %d has seq %d, want %d", id, got[id], s)
			}
		}
		if len(got) != len(want) {
			return fmt.Errorf("%d rows, want %d", len(got), len(want))
		}
		return nil
	}
	var last error
	t.Cleanup(func() {
		if t.Failed() && last != nil {
			t.Logf("last check: %v", last)
		}
	})
	waitFor(t, time.Minute, "the table holds each key's last change", func() bool {
		last = check()
		return last == nil
	})
	stopA()
	stopB()
	wgA.Wait()
	wgB.Wait()
	instances.check(t)
	_, snap := loadTable(t, location)
	h, err := table.History(ctx, store, 0)
	if err != nil {
		t.Fatal(err)
	}
	merges := 0
	for _, e := range h {
		if e.CommitInfo != nil && e.CommitInfo.Operation == "MERGE" {
			merges++
		}
	}
	t.Logf("version %d, %d MERGE commits, %d optimize commits, %d files", snap.Version(), merges, optimized, snap.NumFiles())
	if optimized == 0 || merges < 5 {
		t.Fatalf("%d optimize commits and %d merges: the test did not exercise upserts against optimize", optimized, merges)
	}
}
