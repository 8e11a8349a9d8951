package connector

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// slowCheckpoints makes every put of a checkpoint take delay.
type slowCheckpoints struct {
	storage.Storage
	delay time.Duration
}

func (s slowCheckpoints) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.Contains(key, ".checkpoint.") {
		time.Sleep(s.delay)
	}
	return s.Storage.Put(ctx, key, r, size)
}

// TestCheckpointPacing: after a checkpoint that took d, the maintainer holds the next
// one due until checkpointDuty × d after it (a newer due version replacing the held
// one), then writes it; one still held at shutdown is written then; and it writes them
// with a handle that keeps no file list.
func TestCheckpointPacing(t *testing.T) {
	ctx := context.Background()
	const delay = 300 * time.Millisecond
	store := slowCheckpoints{Storage: storage.NewMemory(t.Name()), delay: delay}
	tbl := table.New(store)
	if _, err := tbl.Create(ctx, table.CreateOptions{Schema: &table.StructType{Fields: []*table.StructField{{Name: "id", Type: table.Long}}}}); err != nil {
		t.Fatal(err)
	}
	commit := func() {
		t.Helper()
		if _, err := tbl.Commit(ctx, &table.Transaction{Adds: []table.Add{{Path: time.Now().Format("150405.000000000") + ".parquet", Size: 1, DataChange: true}}}); err != nil {
			t.Fatal(err)
		}
	}
	var logs syncBuffer
	c := &Connector{log: slog.New(slog.NewTextHandler(&logs, nil)), metrics: newMetrics(), retryBase: time.Millisecond}
	it := &ingestTable{conn: c, cfg: &TableConfig{Name: "t"}, log: c.log, metrics: c.metrics.table("t"), tbl: table.New(store)}
	it.cfg.Maintenance.Optimize.Interval = Duration(time.Hour)
	it.cfg.Maintenance.Vacuum.Interval = Duration(time.Hour)
	m := newMaintainer(it)
	written := func() int {
		var pm dto.Metric
		if err := it.metrics.checkpoints.WithLabelValues("ok").Write(&pm); err != nil {
			t.Fatal(err)
		}
		return int(pm.GetCounter().GetValue())
	}
	checkpointed := func() int64 {
		snap, err := table.Load(ctx, store)
		if err != nil {
			t.Fatal(err)
		}
		return snap.CheckpointVersion()
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; log:\n%s", what, logs.String())
			}
		}
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.run(runCtx)
	}()
	commit() // version 1
	m.checkpointDue(1)
	waitUntil("the first checkpoint", func() bool { return written() == 1 })

	// It took at least delay: the next two due right after wait checkpointDuty × delay.
	commit()
	m.checkpointDue(2)
	commit()
	m.checkpointDue(3)
	due := time.Now()
	time.Sleep(delay)
	if n := written(); n != 1 {
		t.Fatalf("%d checkpoints written %s after the first, want it held", n, time.Since(due))
	}
	waitUntil("the held checkpoint", func() bool { return written() == 2 })
	if waited := time.Since(due); waited < (checkpointDuty-1)*delay {
		t.Fatalf("the held checkpoint was written after %s, want about %s", waited, checkpointDuty*delay)
	}
	if v := checkpointed(); v != 3 {
		t.Fatalf("checkpoint at version %d, want 3 (the newest due)", v)
	}
	if !strings.Contains(logs.String(), "checkpoint held") {
		t.Errorf("no log of the held checkpoint:\n%s", logs.String())
	}

	// Held at shutdown: written then.
	commit()
	m.checkpointDue(4)
	time.Sleep(50 * time.Millisecond)
	stop()
	<-done
	if n, v := written(), checkpointed(); n != 3 || v != 4 {
		t.Fatalf("after shutdown: %d checkpoints written, the last at version %d; want 3 and 4", n, v)
	}
	// The checkpoints were written by a handle that keeps no file list: an instance does
	// not hold every file of a large table for them.
	if snap, err := m.cp.Snapshot(ctx); err != nil || snap.NumFiles() != -1 {
		t.Fatalf("the checkpoint handle's snapshot keeps a file list (%v)", err)
	}
}

func TestCheckpointWait(t *testing.T) {
	end := time.Unix(1000, 0)
	for _, c := range []struct {
		took  time.Duration
		since time.Duration
		want  time.Duration
	}{
		{0, 0, 0}, // no checkpoint yet
		{time.Second, 0, checkpointDuty * time.Second},        // just ended
		{time.Second, 4 * time.Second, 6 * time.Second},       // part of the wait passed
		{time.Second, time.Minute, 0},                         // long ago
		{20 * time.Millisecond, time.Second, 0},               // an incremental one
		{8 * time.Second, 50 * time.Second, 30 * time.Second}, // a full one of 1M files, at a 50 s interval
	} {
		if got := checkpointWait(c.took, end, end.Add(c.since)); got != c.want {
			t.Errorf("took %s, %s ago: wait %s, want %s", c.took, c.since, got, c.want)
		}
	}
}
