package connector

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the connector's Prometheus metrics, in a registry of its own so that
// several connectors (tests) can run in one process.
type metrics struct {
	reg            *prometheus.Registry
	messages       *prometheus.CounterVec
	messageBytes   *prometheus.CounterVec
	rows           *prometheus.CounterVec
	errors         *prometheus.CounterVec
	dlq            *prometheus.CounterVec
	commits        *prometheus.CounterVec
	commitDuration *prometheus.HistogramVec
	conflicts      *prometheus.CounterVec
	retries        *prometheus.CounterVec
	version        *prometheus.GaugeVec
	bufferBytes    *prometheus.GaugeVec
	lag            *prometheus.GaugeVec
	paused         prometheus.Gauge
	memory         prometheus.Gauge
	memoryMax      prometheus.Gauge
	memoryReused   prometheus.Gauge

	checkpoints          *prometheus.CounterVec
	checkpointDuration   *prometheus.HistogramVec
	optimizeRuns         *prometheus.CounterVec
	optimizeFilesRemoved *prometheus.CounterVec
	optimizeFilesAdded   *prometheus.CounterVec
	optimizeBytes        *prometheus.CounterVec
	vacuumRuns           *prometheus.CounterVec
	vacuumFiles          *prometheus.CounterVec
	vacuumBytes          *prometheus.CounterVec
	tableFiles           *prometheus.GaugeVec
	tableBytes           *prometheus.GaugeVec
	smallFiles           *prometheus.GaugeVec
	maintenanceOwner     *prometheus.GaugeVec
	lastCommit           *prometheus.GaugeVec
	flushStretch         *prometheus.GaugeVec
	newestEventTime      *prometheus.GaugeVec
	tombstones           *prometheus.CounterVec
	changes              *prometheus.CounterVec
	upsertRowsDeleted    *prometheus.CounterVec
	upsertFilesTouched   *prometheus.HistogramVec
	keyLookup            *prometheus.HistogramVec
	keyLookupBytes       *prometheus.CounterVec
	keyCacheBytes        *prometheus.GaugeVec
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "sluice", Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "sluice", Name: name, Help: help}, labels)
		m.reg.MustRegister(g)
		return g
	}
	m.messages = counter("messages_total", "Kafka messages decoded for a table.", "table")
	m.messageBytes = counter("message_bytes_total", "Bytes of Kafka message values decoded for a table.", "table")
	m.rows = counter("rows_committed_total", "Rows committed to a table.", "table")
	m.errors = counter("message_errors_total", "Messages that could not be ingested, by on_error policy.", "table", "policy")
	m.dlq = counter("dead_letters_total", "Messages written to the dead-letter target.", "table")
	m.commits = counter("commits_total", "Delta commits.", "table")
	m.conflicts = counter("commit_conflicts_total", "Lost commit races (lost_race) and batches dropped because another writer owns a partition (partition_owned).", "table", "kind")
	m.retries = counter("io_retries_total", "Storage, dead-letter or commit operations retried after an error.", "table")
	m.commitDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "sluice", Name: "commit_duration_seconds",
		Help: "Time to write one Delta log entry, retries included.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}, []string{"table"})
	m.reg.MustRegister(m.commitDuration)
	m.version = gauge("table_version", "The latest table version this connector committed or read.", "table")
	m.bufferBytes = gauge("buffer_bytes", "Bytes of rows buffered in memory, not yet committed.", "table")
	m.lag = gauge("consumer_lag", "Messages between the table's position and the partition's high watermark.", "table", "topic", "partition")
	m.paused = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sluice", Name: "fetch_paused", Help: "1 while fetching is paused because the memory budget is exhausted."})
	m.memory = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sluice", Name: "memory_bytes", Help: "Bytes of rows buffered or being written, and of buffers kept for reuse, counted against memory_budget."})
	m.memoryMax = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sluice", Name: "memory_bytes_max", Help: "The largest memory_bytes seen since start."})
	m.memoryReused = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sluice", Name: "memory_reused_bytes", Help: "Bytes of written files' buffers kept to hold the next rows (part of memory_bytes)."})
	m.reg.MustRegister(m.paused, m.memory, m.memoryMax, m.memoryReused, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.checkpoints = counter("checkpoints_total", "Checkpoints written in the background after a commit reached delta.checkpointInterval, by result (ok, error: retried).", "table", "result")
	m.checkpointDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "sluice", Name: "checkpoint_duration_seconds",
		Help: "Time to write one checkpoint.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}, []string{"table"})
	m.reg.MustRegister(m.checkpointDuration)
	m.optimizeRuns = counter("optimize_runs_total", "Auto-optimize runs, by result (ok: committed, nothing: every bin given up, error).", "table", "result")
	m.optimizeFilesRemoved = counter("optimize_files_removed_total", "Small files auto-optimize compacted away.", "table")
	m.optimizeFilesAdded = counter("optimize_files_added_total", "Files auto-optimize wrote.", "table")
	m.optimizeBytes = counter("optimize_bytes_rewritten_total", "Bytes of files auto-optimize rewrote.", "table")
	m.vacuumRuns = counter("vacuum_runs_total", "Periodic vacuum runs, by result.", "table", "result")
	m.vacuumFiles = counter("vacuum_files_deleted_total", "Files periodic vacuum deleted.", "table")
	m.vacuumBytes = counter("vacuum_bytes_deleted_total", "Bytes periodic vacuum deleted.", "table")
	m.tableFiles = gauge("table_files", "Live data files of the table (from the maintenance owner).", "table")
	m.tableBytes = gauge("table_bytes", "Bytes of the table's live data files (from the maintenance owner).", "table")
	m.smallFiles = gauge("table_small_files", "Live data files under the optimize target size (from the maintenance owner).", "table")
	m.maintenanceOwner = gauge("maintenance_owner", "1 while this instance runs the table's auto-optimize and vacuum.", "table")
	m.lastCommit = gauge("last_commit_timestamp_seconds", "When this instance last committed to the table (unix seconds).", "table")
	m.flushStretch = gauge("flush_latency_stretch", "The factor on flush.max_latency while the table's commits lose races to other instances' (1: not pacing; at most flush.max_stretch).", "table")
	m.newestEventTime = gauge("newest_event_timestamp_seconds", "The newest event time (the Kafka timestamp, or the event_time column) of the rows this instance committed (unix seconds).", "table")
	m.tombstones = counter("tombstones_total", "Messages with no value (tombstones), handled as on_tombstone says.", "table")
	m.changes = counter("changes_total", "Change events applied (modes upsert and changelog), by type: insert, update, delete, snapshot, upsert.", "table", "type")
	m.upsertRowsDeleted = counter("upsert_rows_deleted_total", "Rows of the table an upsert or delete replaced (marked deleted with deletion vectors).", "table")
	m.upsertFilesTouched = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "sluice", Name: "upsert_files_touched",
		Help: "Files of the table one upsert flush gave a new deletion vector.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}, []string{"table"})
	m.keyLookup = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "sluice", Name: "key_lookup_duration_seconds",
		Help: "Time one upsert flush spent finding the table rows of its keys.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"table"})
	m.reg.MustRegister(m.upsertFilesTouched, m.keyLookup)
	m.keyCacheBytes = gauge("key_cache_bytes", "Memory the cached keys of the table's data files take (mode upsert, key_cache).", "table")
	m.keyLookupBytes = counter("key_lookup_bytes_total", "Bytes of data files read to find the rows of upserted keys.", "table")
	build := gauge("build_info", "1, with the version of Sluice and of Go as labels.", "version", "go_version")
	build.WithLabelValues(Version, runtime.Version()).Set(1)
	return m
}

// tableMetrics are the metrics of one table, labels bound.
type tableMetrics struct {
	messages       prometheus.Counter
	messageBytes   prometheus.Counter
	rows           prometheus.Counter
	errors         *prometheus.CounterVec
	dlq            prometheus.Counter
	commits        prometheus.Counter
	commitDuration prometheus.Observer
	conflicts      *prometheus.CounterVec
	retries        prometheus.Counter
	version        prometheus.Gauge
	bufferBytes    prometheus.Gauge

	checkpoints          *prometheus.CounterVec
	checkpointDuration   prometheus.Observer
	optimizeRuns         *prometheus.CounterVec
	optimizeFilesRemoved prometheus.Counter
	optimizeFilesAdded   prometheus.Counter
	optimizeBytes        prometheus.Counter
	vacuumRuns           *prometheus.CounterVec
	vacuumFiles          prometheus.Counter
	vacuumBytes          prometheus.Counter
	tableFiles           prometheus.Gauge
	tableBytes           prometheus.Gauge
	smallFiles           prometheus.Gauge
	maintenanceOwner     prometheus.Gauge
	lastCommit           prometheus.Gauge
	flushStretch         prometheus.Gauge
	newestEventTime      prometheus.Gauge
	tombstones           prometheus.Counter
	changes              *prometheus.CounterVec
	upsertRowsDeleted    prometheus.Counter
	upsertFilesTouched   prometheus.Observer
	keyLookup            prometheus.Observer
	keyLookupBytes       prometheus.Counter
	keyCacheBytes        prometheus.Gauge
	newestEvent          atomic.Int64 // unix micros, for freshness
}

func (m *metrics) table(name string) *tableMetrics {
	l := prometheus.Labels{"table": name}
	t := &tableMetrics{
		messages: m.messages.With(l), messageBytes: m.messageBytes.With(l), rows: m.rows.With(l),
		errors: m.errors.MustCurryWith(l), dlq: m.dlq.With(l), commits: m.commits.With(l),
		commitDuration: m.commitDuration.With(l), conflicts: m.conflicts.MustCurryWith(l), retries: m.retries.With(l),
		version: m.version.With(l), bufferBytes: m.bufferBytes.With(l),
		checkpoints: m.checkpoints.MustCurryWith(l), checkpointDuration: m.checkpointDuration.With(l),
		optimizeRuns: m.optimizeRuns.MustCurryWith(l), optimizeFilesRemoved: m.optimizeFilesRemoved.With(l),
		optimizeFilesAdded: m.optimizeFilesAdded.With(l), optimizeBytes: m.optimizeBytes.With(l),
		vacuumRuns: m.vacuumRuns.MustCurryWith(l), vacuumFiles: m.vacuumFiles.With(l), vacuumBytes: m.vacuumBytes.With(l),
		tableFiles: m.tableFiles.With(l), tableBytes: m.tableBytes.With(l), smallFiles: m.smallFiles.With(l),
		maintenanceOwner: m.maintenanceOwner.With(l), lastCommit: m.lastCommit.With(l), flushStretch: m.flushStretch.With(l), newestEventTime: m.newestEventTime.With(l),
		tombstones: m.tombstones.With(l), changes: m.changes.MustCurryWith(l), upsertRowsDeleted: m.upsertRowsDeleted.With(l),
		upsertFilesTouched: m.upsertFilesTouched.With(l), keyLookup: m.keyLookup.With(l), keyLookupBytes: m.keyLookupBytes.With(l), keyCacheBytes: m.keyCacheBytes.With(l),
	}
	// Freshness is now minus the newest committed event time, computed when scraped.
	tm := t
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "sluice", Name: "freshness_seconds",
		Help: "Seconds between now and the newest Kafka timestamp this instance committed to the table (0 before its first commit).", ConstLabels: l},
		func() float64 {
			n := tm.newestEvent.Load()
			if n == 0 {
				return 0
			}
			return time.Since(time.UnixMicro(n)).Seconds()
		}))
	return t
}
