package connector

import (
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
	m.lag = gauge("consumer_lag", "Messages between the table's position and the partition's high watermark.", "topic", "partition")
	m.paused = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sluice", Name: "fetch_paused", Help: "1 while fetching is paused because the memory budget is exhausted."})
	m.memory = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sluice", Name: "memory_bytes", Help: "Bytes of rows buffered or being written, counted against memory_budget."})
	m.memoryMax = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "sluice", Name: "memory_bytes_max", Help: "The largest memory_bytes seen since start."})
	m.reg.MustRegister(m.paused, m.memory, m.memoryMax, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
}

func (m *metrics) table(name string) *tableMetrics {
	l := prometheus.Labels{"table": name}
	return &tableMetrics{
		messages: m.messages.With(l), messageBytes: m.messageBytes.With(l), rows: m.rows.With(l),
		errors: m.errors.MustCurryWith(l), dlq: m.dlq.With(l), commits: m.commits.With(l),
		commitDuration: m.commitDuration.With(l), conflicts: m.conflicts.MustCurryWith(l), retries: m.retries.With(l),
		version: m.version.With(l), bufferBytes: m.bufferBytes.With(l),
	}
}
