package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sluicelake/sluice/connector"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// Two instances share a group and ingest into one table while its maintenance runs
// inside them: exactly one of them (the holder of partition 0) owns auto-optimize and
// vacuum; auto-optimize compacts the small files the frequent commits leave; the
// checkpoints that commits reach are written in the background. Every message lands
// once.
func TestAutoMaintenanceWhileIngesting(t *testing.T) {
	cluster := newCluster(t, "events", 6)
	location := filepath.Join(t.TempDir(), "events")
	store, err := storage.NewLocal(location)
	if err != nil {
		t.Fatal(err)
	}
	// The table as the configuration below makes it, with a short checkpoint interval.
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long}, {Name: "user", Type: table.String, Nullable: true},
		{Name: "amount", Type: table.Double, Nullable: true}, {Name: "ok", Type: table.Boolean, Nullable: true},
		{Name: "ts", Type: table.Timestamp, Nullable: true}, {Name: "day", Type: table.Date, Nullable: true},
		{Name: "_kafka_topic", Type: table.String}, {Name: "_kafka_partition", Type: table.Integer},
		{Name: "_kafka_offset", Type: table.Long}, {Name: "_kafka_timestamp", Type: table.Timestamp, Nullable: true},
	}}
	if _, err := table.New(store).Create(context.Background(), table.CreateOptions{Name: "events", Schema: schema,
		PartitionColumns: []string{"day"}, Configuration: map[string]string{"delta.checkpointInterval": "5"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var instances group
	addrs := map[string]string{}
	start := func(name string) (context.CancelFunc, *sync.WaitGroup) {
		cfg := issueConfig(t, cluster.ListenAddrs()[0], location, 200)
		cfg.Tables[0].Flush.MaxLatency = connector.Duration(100 * time.Millisecond)
		cfg.Tables[0].Maintenance.Optimize.Interval = connector.Duration(300 * time.Millisecond)
		cfg.Tables[0].Maintenance.Optimize.MinFiles = 4
		cfg.Tables[0].Maintenance.Vacuum.Enabled = true
		cfg.Tables[0].Maintenance.Vacuum.Interval = connector.Duration(time.Second)
		// kfake completes a rebalance only once every member rejoined or the rebalance
		// timeout passed (DESIGN.md): keep that timeout short.
		cfg.Kafka.Properties = map[string]string{"session.timeout.ms": "6000", "max.poll.interval.ms": "6000"}
		addrs[name] = freeAddr(t)
		cfg.Metrics.Listen = addrs[name]
		return instances.start(t, ctx, cfg, name)
	}
	stopA, wgA := start("a")
	var last map[int32]int64
	const waves, perWave = 12, 500
	stopB, wgB := context.CancelFunc(nil), (*sync.WaitGroup)(nil)
	for wave := range waves {
		last = produce(t, cluster, events("events", wave*perWave, perWave)...)
		time.Sleep(250 * time.Millisecond)
		if wave == 1 { // scale out: b joins the group, and one of them owns maintenance
			stopB, wgB = start("b")
		}
	}
	sum := func(sample string) float64 {
		var n float64
		for _, addr := range addrs {
			v, _ := metric(addr, sample)
			n += v
		}
		return n
	}
	var owners float64
	waitFor(t, time.Minute, "every message committed, an auto-optimize, one maintenance owner", func() bool {
		_, snap := loadTableIfExists(location)
		owners = sum(`sluice_maintenance_owner{table="events"}`)
		return snap != nil && covered(snap) == waves*perWave && sum(`sluice_optimize_runs_total{result="ok",table="events"}`) >= 1 && owners == 1
	})
	removed := sum(`sluice_optimize_files_removed_total{table="events"}`)
	checkpoints := sum(`sluice_checkpoints_total{result="ok",table="events"}`)
	vacuums := sum(`sluice_vacuum_runs_total{result="ok",table="events"}`)
	// Operations metrics: when the last commit was, how fresh the newest committed event
	// is, and lag per table.
	committed := 0
	for name, addr := range addrs {
		last, _ := metric(addr, `sluice_last_commit_timestamp_seconds{table="events"}`)
		fresh, _ := metric(addr, `sluice_freshness_seconds{table="events"}`)
		newest, _ := metric(addr, `sluice_newest_event_timestamp_seconds{table="events"}`)
		if last == 0 {
			continue // this instance committed nothing (it joined after the messages)
		}
		committed++
		if last < float64(time.Now().Add(-time.Minute).Unix()) || fresh <= 0 || fresh > 60 || newest == 0 {
			t.Errorf("%s: last commit %v, freshness %v s, newest event %v", name, last, fresh, newest)
		}
		if _, ok := metric(addr, fmt.Sprintf(`sluice_build_info{go_version=%q,version=%q}`, runtime.Version(), connector.Version)); !ok {
			t.Errorf("%s: no sluice_build_info", name)
		}
	}
	if committed == 0 {
		t.Error("no instance reports a commit")
	}
	stopA()
	stopB()
	wgA.Wait()
	wgB.Wait()
	instances.check(t)
	if owners != 1 || removed == 0 || checkpoints == 0 || vacuums == 0 {
		t.Fatalf("owners %v, files compacted %v, background checkpoints %v, vacuum runs %v", owners, removed, checkpoints, vacuums)
	}
	snap, err := table.Load(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if snap.CheckpointVersion() < 5 {
		t.Errorf("latest checkpoint at version %d", snap.CheckpointVersion())
	}
	rows, pairs := checkCovered(t, store, snap)
	if rows != waves*perWave || pairs != rows {
		t.Fatalf("%d rows, %d distinct (partition, offset)", rows, pairs)
	}
	assertTxns(t, snap.AppTransactions(), "events-ingest", "events", last)
	t.Logf("files compacted %v, checkpoints %v, vacuum runs %v, %d live files at version %d", removed, checkpoints, vacuums, snap.NumFiles(), snap.Version())
}
