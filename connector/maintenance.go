package connector

// Table maintenance beside ingestion: checkpoints off the commit path, and, on the one
// instance that owns a table's maintenance, auto-optimize and periodic vacuum.

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/sluicelake/sluice/optimize"
	"github.com/sluicelake/sluice/table"
)

// maintainer is one table's maintenance goroutine. It has table handles of its own, so
// that nothing it does holds the committer's handle or delays a commit; the log's
// optimistic concurrency keeps it safe beside the commits, and beside other instances'.
type maintainer struct {
	t   *ingestTable
	cfg MaintenanceConfig
	// tbl lists the table's files, for optimize and vacuum: it is read only on the
	// instance that owns maintenance. cp writes the checkpoints every instance writes,
	// and keeps no file list (ForAppending), so that an instance does not hold every
	// file of a large table for them.
	tbl, cp *table.Table
	// due carries a commit version that reached the checkpoint interval (the committer
	// hands it over and goes on; a newer one replaces an older one not yet written).
	due chan int64
	// owner is true while this instance holds partition 0 of the table's first topic:
	// the one instance per table that optimizes and vacuums, so that scaling out does
	// not multiply the work. The poller sets it on each assignment and revocation.
	owner atomic.Bool
	// lastTook and lastEnd are the duration and end of the last checkpoint written:
	// the next waits until checkpointWait says (run's goroutine only).
	lastTook time.Duration
	lastEnd  time.Time
}

// checkpointDuty bounds the share of time a maintainer spends writing checkpoints: after
// one that took d, the next starts no sooner than checkpointDuty × d after it ended. A
// checkpoint's cost follows the table's size (a classic one of 1,000,000 files takes
// seconds), so a huge table gets one every few intervals instead of every interval,
// while an incremental one (milliseconds) is never held back.
const checkpointDuty = 10

// checkpointWait is how long a checkpoint due at now waits, after one that took took and
// ended at end.
func checkpointWait(took time.Duration, end, now time.Time) time.Duration {
	return max(0, end.Add(checkpointDuty*took).Sub(now))
}

func newMaintainer(t *ingestTable) *maintainer {
	return &maintainer{t: t, cfg: t.cfg.Maintenance, due: make(chan int64, 1),
		tbl: table.New(t.tbl.Store(), table.EngineInfo("sluice/"+Version)),
		cp:  table.New(t.tbl.Store(), table.EngineInfo("sluice/"+Version), table.ForAppending())}
}

// checkpointDue hands a version that reached the checkpoint interval to the maintainer.
func (m *maintainer) checkpointDue(version int64) {
	for {
		select {
		case m.due <- version:
			return
		default:
		}
		select { // replace the older version waiting
		case <-m.due:
		default:
		}
	}
}

// run serves checkpoints as commits ask for them, and runs auto-optimize and vacuum at
// their intervals while this instance owns the table's maintenance, until ctx ends.
func (m *maintainer) run(ctx context.Context) {
	optimizeTick := time.NewTicker(time.Duration(m.cfg.Optimize.Interval))
	defer optimizeTick.Stop()
	vacuumTick := time.NewTicker(time.Duration(m.cfg.Vacuum.Interval))
	defer vacuumTick.Stop()
	held := int64(-1) // a due checkpoint waiting for checkpointWait
	var release <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			m.finalCheckpoint(held)
			return
		case v := <-m.due:
			if wait := checkpointWait(m.lastTook, m.lastEnd, time.Now()); wait > 0 {
				if held < 0 {
					m.t.log.Info("checkpoint held: the last one took long", "version", v, "last_took", m.lastTook.Round(time.Millisecond),
						"wait", wait.Round(time.Millisecond))
					release = time.After(wait)
				}
				held = v // a newer version covers the older one
				continue
			}
			m.checkpoint(ctx, v)
		case <-release:
			release = nil
			v := held
			held = -1
			m.checkpoint(ctx, v)
		case <-optimizeTick.C:
			if m.cfg.Optimize.On() && m.owner.Load() {
				m.optimize(ctx)
			}
		case <-vacuumTick.C:
			if m.cfg.Vacuum.Enabled && m.owner.Load() {
				m.vacuum(ctx)
			}
		}
	}
}

// checkpoint writes a checkpoint of the latest version, retrying with backoff; it gives
// up when a newer commit asks for one (that one covers this) or at shutdown.
func (m *maintainer) checkpoint(ctx context.Context, version int64) {
	delay := m.t.conn.retryBase
	for {
		start := time.Now()
		v, deleted, err := m.cp.Checkpoint(ctx)
		if err == nil {
			m.lastEnd = time.Now()
			m.lastTook = m.lastEnd.Sub(start)
			m.t.metrics.checkpoints.WithLabelValues("ok").Inc()
			m.t.metrics.checkpointDuration.Observe(m.lastTook.Seconds())
			m.t.log.Info("checkpoint written", "version", v, "written", m.cp.LastCheckpoint(), "log_files_deleted", deleted,
				"took", m.lastTook.Round(time.Millisecond))
			return
		}
		if ctx.Err() != nil {
			return
		}
		m.t.metrics.checkpoints.WithLabelValues("error").Inc()
		m.t.log.Warn("checkpoint failed (ingestion goes on); retrying", "version", version, "error", err, "delay", delay)
		select {
		case <-time.After(delay):
		case newer := <-m.due:
			version = newer
		case <-ctx.Done():
			return
		}
		delay = min(delay*2, time.Minute)
	}
}

// finalCheckpoint writes a checkpoint still asked for at shutdown (held, or due), within
// a short time: the next one would otherwise wait for the next interval.
func (m *maintainer) finalCheckpoint(held int64) {
	select {
	case v := <-m.due:
		held = v
	default:
	}
	if held >= 0 {
		v := held
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, _, err := m.cp.Checkpoint(ctx); err != nil {
			m.t.metrics.checkpoints.WithLabelValues("error").Inc()
			m.t.log.Warn("checkpoint at shutdown failed; the next interval writes one", "version", v, "error", err)
			return
		}
		m.t.metrics.checkpoints.WithLabelValues("ok").Inc()
	}
}

// optimize compacts the partitions that gathered MinFiles small files, reading at most
// MaxReadRate bytes per second and buffering within the memory budget.
func (m *maintainer) optimize(ctx context.Context) {
	snap, err := m.tbl.Snapshot(ctx)
	if err != nil {
		if !errors.Is(err, table.ErrNotATable) && ctx.Err() == nil {
			m.t.log.Warn("maintenance: cannot read the table", "error", err)
		}
		return
	}
	opts := optimize.Options{TargetSize: int64(m.cfg.Optimize.TargetSize), MinFiles: m.cfg.Optimize.MinFiles,
		ReadRate: int64(m.cfg.Optimize.MaxReadRate), BufferBytes: m.bufferBytes(), SkipCompacted: true}
	plan, err := optimize.PlanBins(snap, opts)
	if err != nil {
		m.t.log.Warn("auto-optimize: cannot plan", "error", err)
		return
	}
	m.tableGauges(snap, plan.TargetSize)
	if len(plan.Bins) == 0 {
		return
	}
	// The rows it buffers count against the memory budget: fetching pauses rather than
	// the process growing past it.
	m.t.conn.inflight.Add(opts.BufferBytes)
	defer m.t.conn.inflight.Add(-opts.BufferBytes)
	start := time.Now()
	res, err := optimize.Run(ctx, m.tbl, opts, nil)
	switch {
	case err != nil && ctx.Err() != nil:
		return
	case err != nil:
		m.t.metrics.optimizeRuns.WithLabelValues("error").Inc()
		m.t.log.Warn("auto-optimize failed (ingestion goes on)", "error", err)
		return
	case res.Version < 0:
		m.t.metrics.optimizeRuns.WithLabelValues("nothing").Inc()
		return
	}
	m.t.metrics.optimizeRuns.WithLabelValues("ok").Inc()
	m.t.metrics.optimizeFilesRemoved.Add(float64(res.FilesRemoved))
	m.t.metrics.optimizeFilesAdded.Add(float64(res.FilesAdded))
	m.t.metrics.optimizeBytes.Add(float64(res.BytesRemoved))
	m.t.log.Info("auto-optimize committed", "version", res.Version, "files_removed", res.FilesRemoved, "files_added", res.FilesAdded,
		"bytes_rewritten", res.BytesRemoved, "rows", res.Rows, "bins_given_up", res.BinsDropped, "took", time.Since(start).Round(time.Millisecond))
	if snap, err := m.tbl.Snapshot(ctx); err == nil {
		m.tableGauges(snap, plan.TargetSize)
	}
}

// bufferBytes is what one optimize run may buffer: an eighth of the memory budget, at
// most 64 MiB.
func (m *maintainer) bufferBytes() int64 {
	return min(64<<20, max(1<<20, int64(m.t.conn.cfg.MemoryBudget)/8))
}

// tableGauges publishes the table's live files, bytes and files under the target size.
func (m *maintainer) tableGauges(snap *table.Snapshot, target int64) {
	var bytes int64
	small := 0
	for _, f := range snap.Files() {
		bytes += f.Size
		if f.Size < target {
			small++
		}
	}
	m.t.metrics.tableFiles.Set(float64(snap.NumFiles()))
	m.t.metrics.tableBytes.Set(float64(bytes))
	m.t.metrics.smallFiles.Set(float64(small))
}

// vacuum deletes the files the table no longer needs, older than the retention.
func (m *maintainer) vacuum(ctx context.Context) {
	opts := table.VacuumOptions{}
	if r := time.Duration(m.cfg.Vacuum.Retention); r > 0 {
		opts.Retention = &r
	}
	res, err := m.tbl.Vacuum(ctx, opts)
	switch {
	case err != nil && ctx.Err() != nil:
		return
	case err != nil:
		m.t.metrics.vacuumRuns.WithLabelValues("error").Inc()
		m.t.log.Warn("vacuum failed", "error", err, "deleted", len(res.Files))
	default:
		m.t.metrics.vacuumRuns.WithLabelValues("ok").Inc()
		m.t.log.Info("vacuum", "files_deleted", len(res.Files), "bytes_deleted", res.Bytes, "retention", res.Retention)
	}
	m.t.metrics.vacuumFiles.Add(float64(len(res.Files)))
	m.t.metrics.vacuumBytes.Add(float64(res.Bytes))
}

// firstPartition is the partition whose holder owns the table's maintenance:
// partition 0 of the smallest topic name the table reads (its topics, or for a
// topic_pattern the matching topics this instance has been assigned partitions of).
func (t *ingestTable) firstPartition() (tp, bool) {
	topics := slices.Clone(t.cfg.Topics)
	topics = append(topics, t.patternTopics...)
	if len(topics) == 0 {
		return tp{}, false
	}
	return tp{slices.Min(topics), 0}, true
}

// noteAssignment records the partitions this instance now holds for the table (after
// an assignment or a revocation) and whether it owns the table's maintenance. It runs
// on the poller's goroutine.
func (t *ingestTable) noteAssignment(held map[tp]*pollPart) {
	if t.pattern != nil {
		for p := range held {
			if t.reads(p.topic) && !slices.Contains(t.patternTopics, p.topic) {
				t.patternTopics = append(t.patternTopics, p.topic)
			}
		}
	}
	first, ok := t.firstPartition()
	_, holds := held[first]
	owner := ok && holds
	if t.maint.owner.Swap(owner) != owner {
		t.log.Info("table maintenance", "owner", owner, "by", first.String())
	}
	t.metrics.maintenanceOwner.Set(map[bool]float64{true: 1, false: 0}[owner])
}
