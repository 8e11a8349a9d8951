package connector

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/writer"
)

// Config is the whole configuration file. docs/config.md documents every key with its
// default; the comments here say what the code relies on.
type Config struct {
	// Name identifies the connector; it prefixes every txn appId, so two connectors
	// writing one table must have different names. Required.
	Name           string               `yaml:"name"`
	Kafka          KafkaConfig          `yaml:"kafka"`
	SchemaRegistry SchemaRegistryConfig `yaml:"schema_registry"`
	Storage        StorageConfig        `yaml:"storage"`
	Tables         []TableConfig        `yaml:"tables"`
	Metrics        MetricsConfig        `yaml:"metrics"`
	Logging        LoggingConfig        `yaml:"logging"`
	// MemoryBudget bounds the rows buffered in memory across all tables; past it the
	// largest buffer is flushed and fetching pauses until memory falls. Defaults to 512 MiB.
	MemoryBudget ByteSize `yaml:"memory_budget"`
	// ShutdownTimeout bounds the final flush and commit on SIGTERM. Defaults to 30s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// StartupTimeout bounds how long start-up retries an unreachable broker, registry or
	// storage before giving up. Defaults to 60s.
	StartupTimeout Duration `yaml:"startup_timeout"`
	// Decoders is the number of decoding goroutines per table. Decoding is the cheap
	// part of ingestion (next to fetching and encoding), and each decoder writes its own
	// files, so the default is one per four CPUs, at least one.
	Decoders int `yaml:"decoders"`
}

// KafkaConfig is the consumer configuration.
type KafkaConfig struct {
	// BootstrapServers is a comma-separated host:port list. Required.
	BootstrapServers string `yaml:"bootstrap_servers"`
	// GroupID is the consumer group. Defaults to the connector name.
	GroupID string `yaml:"group_id"`
	// InstanceID makes the instance a static member of the group (librdkafka's
	// group.instance.id; ${HOSTNAME} in a StatefulSet): restarted within
	// session.timeout.ms (45s by default), it takes its partitions back without a
	// rebalance. Unique per instance. Defaults to none: dynamic membership.
	InstanceID string `yaml:"instance_id"`
	// Properties are passed to librdkafka as they are (security.protocol, sasl.*, ssl.*…)
	// and override Sluice's defaults.
	Properties map[string]string `yaml:"properties"`
}

// SchemaRegistryConfig locates a Confluent-compatible Schema Registry.
type SchemaRegistryConfig struct {
	URL                string   `yaml:"url"`
	Username           string   `yaml:"username"`
	Password           string   `yaml:"password"`
	BearerToken        string   `yaml:"bearer_token"`
	CAFile             string   `yaml:"ca_file"`
	CertFile           string   `yaml:"cert_file"`
	KeyFile            string   `yaml:"key_file"`
	InsecureSkipVerify bool     `yaml:"insecure_skip_verify"`
	Timeout            Duration `yaml:"timeout"`
}

// StorageConfig configures object stores used by s3:// table locations.
type StorageConfig struct {
	S3 S3Config `yaml:"s3"`
}

// S3Config configures the S3 client. Empty keys use the default AWS credential chain.
type S3Config struct {
	Region          string `yaml:"region"`
	Endpoint        string `yaml:"endpoint"`
	PathStyle       bool   `yaml:"path_style"`
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	SessionToken    string `yaml:"session_token"`
}

// MetricsConfig configures the HTTP endpoint serving /metrics, /healthz and /readyz.
type MetricsConfig struct {
	// Listen is the address, e.g. ":9090". Empty disables the endpoint.
	Listen string `yaml:"listen"`
	// Pprof also serves Go's profiles under /debug/pprof/ on the same address, for
	// diagnosing memory and CPU in a running process. Off by default: profiles show
	// the process's internals to whoever reaches the port.
	Pprof bool `yaml:"pprof"`
}

// LoggingConfig configures log output.
type LoggingConfig struct {
	// Level is debug, info, warn or error. Defaults to info.
	Level string `yaml:"level"`
	// Format is text or json. Defaults to text.
	Format string `yaml:"format"`
	// ProgressInterval is how often a progress line (rows/s, lag, versions) is logged at
	// info level; 0 disables it. Defaults to 30s.
	ProgressInterval *Duration `yaml:"progress_interval"`
}

// TableConfig routes topics into one Delta table.
type TableConfig struct {
	Name string `yaml:"name"`
	// Topics lists topics by name; TopicPattern matches topics by regular expression
	// (librdkafka subscribes to new matching topics as they appear). At least one.
	Topics       []string `yaml:"topics"`
	TopicPattern string   `yaml:"topic_pattern"`
	Location     string   `yaml:"location"`
	// Format of message values. Defaults to json.
	Format Format `yaml:"format"`
	// Schema declares the columns decoded from the message. Required for json; for avro,
	// protobuf and json_schema the table is created from the registry schema when it is
	// absent.
	Schema []ColumnConfig `yaml:"schema"`
	// PartitionBy lists partition columns (declared or derived).
	PartitionBy []string `yaml:"partition_by"`
	// Columns are derived columns, name: "func(column)", in order.
	Columns yaml.MapSlice `yaml:"columns"`
	// KafkaColumns adds Kafka metadata columns: true for _kafka_topic,
	// _kafka_partition, _kafka_offset and _kafka_timestamp, or a list naming any of
	// topic, partition, offset, timestamp, key.
	KafkaColumns KafkaColumnsConfig `yaml:"kafka_columns"`
	// HeadersAs is the type of the _kafka_headers map's values: binary (the bytes as they
	// are) or string. Defaults to binary.
	HeadersAs string `yaml:"headers_as"`
	// KeyFormat is how the _kafka_key column holds the message key: raw (binary, the
	// bytes as they are), string, or a variant column holding the key's JSON value,
	// decoded as json, or through the registry as avro, protobuf or json_schema.
	// Defaults to raw.
	KeyFormat string      `yaml:"key_format"`
	Flush     FlushConfig `yaml:"flush"`
	// EventTime names a timestamp column whose newest committed value is the table's
	// event time for freshness metrics (sluice_freshness_seconds). Defaults to the
	// messages' Kafka timestamps.
	EventTime string `yaml:"event_time"`
	// Start is where to begin a partition the table has no txn for.
	Start StartConfig `yaml:"start"`
	JSON  JSONConfig  `yaml:"json"`
	// RouteBy sends a message to this table only when a field has one of the values.
	RouteBy *RouteConfig `yaml:"route_by"`
	// OnError is what a message that cannot be decoded does. Defaults to fail.
	OnError OnError `yaml:"on_error"`
	// OnTombstone is what a message with no value (a compacted topic's delete) does:
	// delete (the row of its key, in an upsert table), skip, fail, or dlq. Defaults to
	// delete in upsert mode, else skip.
	OnTombstone OnTombstone `yaml:"on_tombstone"`
	// Mode is how messages become rows: append (every message a row), changelog (every
	// change a row, with _change_type, _change_ts and _change_position) or upsert (the
	// table holds the latest row per key). Defaults to append.
	Mode Mode `yaml:"mode"`
	// Key lists the key columns of an upsert table: columns the message carries, of
	// integer, string, binary, date, timestamp or boolean type. Defaults to the fields
	// of the message key (a JSON object's, or an Avro record's through the registry).
	// A key's changes must all go to one Kafka partition (key the topic by them), so
	// that their order is the partition's.
	Key []string `yaml:"key"`
	// Envelope is how a message describes a change: none (the message is the row) or
	// debezium (Debezium's before/after/op envelope, with or without the JSON
	// converter's schema/payload wrapper, or ExtractNewRecordState's flattened row).
	// Defaults to none.
	Envelope Envelope `yaml:"envelope"`
	// UpsertStrategy is how an upsert replaces rows: merge_on_read (deletion vectors
	// mark the old rows deleted). Defaults to merge_on_read.
	UpsertStrategy UpsertStrategy `yaml:"upsert_strategy"`
	// KeyCache bounds the memory that keeps the keys of the table's data files between
	// flushes (mode upsert), so that a file's keys are read once, not at every flush.
	// It is memory besides memory_budget. Defaults to 256MiB.
	KeyCache ByteSize `yaml:"key_cache"`
	// UpdateImages is what an update writes in changelog mode: both (an
	// update_preimage row when the event has the old row, and an update_postimage
	// row) or post (one update row). Defaults to both.
	UpdateImages string     `yaml:"update_images"`
	DLQ          *DLQConfig `yaml:"dlq"`
	// Evolution says whether message schemas may add columns. Defaults to add_columns.
	Evolution Evolution `yaml:"evolution"`
	// File tunes the Parquet files.
	File FileConfig `yaml:"file"`
	// Maintenance keeps the table healthy while it ingests: auto-optimize, vacuum.
	Maintenance MaintenanceConfig `yaml:"maintenance"`
	// TableProperties are the Delta table properties of a table Sluice creates
	// (delta.enableDeletionVectors, delta.checkpointInterval, delta.targetFileSize,
	// delta.columnMapping.mode, …); the features they turn on are in its first protocol.
	// On an existing table they change nothing: a value that differs is logged.
	TableProperties map[string]string `yaml:"table_properties"`
}

// MaintenanceConfig is what one instance per table (the one holding partition 0 of
// the table's first topic) does besides ingesting. Checkpoints are always written in
// the background, by the instance whose commit reached the interval.
type MaintenanceConfig struct {
	Optimize AutoOptimizeConfig `yaml:"optimize"`
	Vacuum   AutoVacuumConfig   `yaml:"vacuum"`
}

// AutoOptimizeConfig compacts partitions that gathered small files.
type AutoOptimizeConfig struct {
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// MinFiles is how many files smaller than the target size a partition needs before
	// they are compacted (Databricks' auto compaction uses 50). Defaults to 50.
	MinFiles int `yaml:"min_files"`
	// Interval is how often the table is looked at. Defaults to 1m.
	Interval Duration `yaml:"interval"`
	// TargetSize of the new files. Defaults to delta.targetFileSize, else 128MiB.
	TargetSize ByteSize `yaml:"target_size"`
	// MaxReadRate bounds the bytes per second a run reads from storage, so that
	// compaction never takes the bandwidth and CPU ingestion needs. Defaults to 32MiB.
	MaxReadRate ByteSize `yaml:"max_read_rate"`
}

// On reports whether auto-optimize runs.
func (o AutoOptimizeConfig) On() bool { return o.Enabled == nil || *o.Enabled }

// AutoVacuumConfig deletes files the table no longer needs, periodically.
type AutoVacuumConfig struct {
	// Enabled defaults to false: vacuum deletes files time travel may still want.
	Enabled bool `yaml:"enabled"`
	// Interval between runs. Defaults to 24h.
	Interval Duration `yaml:"interval"`
	// Retention keeps files removed or written within it. Defaults to the table's
	// delta.deletedFileRetentionDuration, else 7 days; shorter than that is refused.
	Retention Duration `yaml:"retention"`
}

// ColumnConfig declares one column.
type ColumnConfig struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Nullable defaults to true.
	Nullable *bool `yaml:"nullable"`
	// Source is where the value comes from: empty for the message's field of the same
	// name, "message" for the whole message as JSON text (a variant or string column,
	// format json only; at most one column). Defaults to empty.
	Source string `yaml:"source"`
}

// SourceMessage is ColumnConfig.Source for a column that takes the whole message.
const SourceMessage = "message"

// messageColumn names the declared column that takes the whole message, if any.
func (t *TableConfig) messageColumn() string {
	for _, c := range t.Schema {
		if c.Source == SourceMessage {
			return c.Name
		}
	}
	return ""
}

// FlushConfig says when buffered rows become a commit.
type FlushConfig struct {
	// MaxRows flushes when this many rows are buffered. Defaults to 100000.
	MaxRows int `yaml:"max_rows"`
	// MaxBytes flushes when the buffer holds about this many bytes. Defaults to 64 MiB.
	MaxBytes ByteSize `yaml:"max_bytes"`
	// MaxLatency flushes when the oldest buffered row is this old. Defaults to 1m.
	MaxLatency Duration `yaml:"max_latency"`
	// MaxStretch is how far MaxLatency stretches, as a factor, while the table's commits
	// lose races to other instances' (FlushPacer): fewer, larger commits when many
	// instances share a table. 1 turns pacing off. Defaults to 4.
	MaxStretch float64 `yaml:"max_stretch"`
}

// JSONConfig tunes JSON decoding.
type JSONConfig struct {
	// UnknownFields is ignore (default), fail, or evolve (add a nullable column).
	UnknownFields schema.UnknownFields `yaml:"unknown_fields"`
	// EpochUnit is the unit of numbers in timestamp columns: s, ms (default), us, ns.
	EpochUnit schema.EpochUnit `yaml:"epoch_unit"`
}

// RouteConfig selects messages by the value of a top-level field.
type RouteConfig struct {
	Field  string   `yaml:"field"`
	Values []string `yaml:"values"`
}

// DLQConfig is the dead-letter target of a table: a Kafka topic or a Delta table.
type DLQConfig struct {
	Topic    string `yaml:"topic"`
	Location string `yaml:"location"`
	// Headers says which headers a dead letter written to Topic carries besides the
	// message's own: sluice (sluice.error, sluice.stage, …), connect (Kafka Connect's
	// __connect.errors.*, what its errors.deadletterqueue.context.headers.enable writes,
	// for tooling built on Connect) or both. Defaults to sluice.
	Headers DLQHeaders `yaml:"headers"`
}

// OnTombstone is what a tombstone does.
type OnTombstone string

// Tombstone policies.
const (
	OnTombstoneSkip   OnTombstone = "skip"
	OnTombstoneFail   OnTombstone = "fail"
	OnTombstoneDLQ    OnTombstone = "dlq"
	OnTombstoneDelete OnTombstone = "delete"
)

// Mode is how messages become rows.
type Mode string

// Table modes.
const (
	ModeAppend    Mode = "append"
	ModeChangelog Mode = "changelog"
	ModeUpsert    Mode = "upsert"
)

// Envelope is how a message describes a change.
type Envelope string

// Envelopes.
const (
	EnvelopeNone     Envelope = "none"
	EnvelopeDebezium Envelope = "debezium"
)

// UpsertStrategy is how an upsert replaces rows.
type UpsertStrategy string

// Upsert strategies.
const (
	MergeOnRead UpsertStrategy = "merge_on_read"
	CopyOnWrite UpsertStrategy = "copy_on_write"
)

// DLQHeaders selects the dead-letter header convention.
type DLQHeaders string

// Dead-letter header conventions.
const (
	DLQHeadersSluice  DLQHeaders = "sluice"
	DLQHeadersConnect DLQHeaders = "connect"
	DLQHeadersBoth    DLQHeaders = "both"
)

// FileConfig tunes the data files of a table.
type FileConfig struct {
	// Compression is zstd (default), snappy, gzip or none.
	Compression string `yaml:"compression"`
	// TargetSize rolls data files at about this size. Defaults to 128 MiB.
	TargetSize ByteSize `yaml:"target_size"`
}

// KafkaColumnsConfig is the set of Kafka metadata columns a table gets.
type KafkaColumnsConfig struct {
	Columns []string // of topic, partition, offset, timestamp, key, headers
}

// Enabled reports whether any metadata column is on.
func (k KafkaColumnsConfig) Enabled() bool { return len(k.Columns) > 0 }

// UnmarshalYAML accepts a boolean (true: topic, partition, offset, timestamp) or a list.
func (k *KafkaColumnsConfig) UnmarshalYAML(unmarshal func(any) error) error {
	var on bool
	if err := unmarshal(&on); err == nil {
		k.Columns = nil
		if on {
			k.Columns = []string{"topic", "partition", "offset", "timestamp"}
		}
		return nil
	}
	var list []string
	if err := unmarshal(&list); err != nil {
		return errors.New("kafka_columns: want true, false, or a list of topic, partition, offset, timestamp, key, headers")
	}
	for _, c := range list {
		switch c {
		case "topic", "partition", "offset", "timestamp", "key", "headers":
		default:
			return fmt.Errorf("kafka_columns: unknown column %q (want topic, partition, offset, timestamp, key, headers)", c)
		}
	}
	k.Columns = list
	return nil
}

// StartPolicy says where a partition with no txn in the table starts.
type StartPolicy string

// Start policies.
const (
	StartEarliest StartPolicy = "earliest" // the first retained message
	StartLatest   StartPolicy = "latest"   // the high watermark at assignment
	StartOffsets  StartPolicy = "offsets"  // explicit offsets; unlisted partitions start at earliest
)

// StartConfig is earliest, latest, or explicit offsets per topic and partition
// (partitions not listed start at earliest).
type StartConfig struct {
	Policy  StartPolicy                // earliest, latest or offsets
	Offsets map[string]map[int32]int64 // topic → partition → first offset
}

// UnmarshalYAML accepts a policy name or a mapping topic → partition → offset.
func (s *StartConfig) UnmarshalYAML(unmarshal func(any) error) error {
	var name string
	if err := unmarshal(&name); err == nil {
		s.Policy = StartPolicy(name)
		return nil
	}
	var offsets map[string]map[int32]int64
	if err := unmarshal(&offsets); err != nil {
		return errors.New("start: want earliest, latest, or a mapping topic: {partition: offset}")
	}
	s.Policy, s.Offsets = StartOffsets, offsets
	return nil
}

// Duration is a time.Duration written as "5s", "1m30s".
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. 500ms, 5s, 1m)", b)
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a size in bytes written as a number or with a unit: 64MiB, 512KB, 1GiB.
type ByteSize int64

var byteSizeRE = regexp.MustCompile(`^\s*([0-9]+)\s*([KMGT]I?B?|B)?\s*$`)

// UnmarshalText parses a byte size.
func (s *ByteSize) UnmarshalText(b []byte) error {
	m := byteSizeRE.FindStringSubmatch(strings.ToUpper(string(b)))
	if m == nil {
		return fmt.Errorf("invalid size %q (want e.g. 1048576, 512KiB, 64MiB)", b)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return fmt.Errorf("invalid size %q", b)
	}
	unit := strings.TrimSuffix(strings.TrimSuffix(m[2], "B"), "I")
	mult := map[string]int64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[unit]
	*s = ByteSize(n * mult)
	return nil
}

// Defaults applied by ParseConfig (setDefaults).
const (
	DefaultMaxRows         = 100_000
	DefaultMaxBytes        = 64 << 20
	DefaultMaxLatency      = Duration(time.Minute)
	DefaultMaxStretch      = 4.0
	DefaultMemoryBudget    = 512 << 20
	DefaultShutdownTimeout = Duration(30 * time.Second)
	DefaultStartupTimeout  = Duration(60 * time.Second)
	DefaultProgress        = Duration(30 * time.Second)
	// Maintenance.
	DefaultOptimizeMinFiles = 50
	DefaultOptimizeInterval = Duration(time.Minute)
	DefaultOptimizeReadRate = 32 << 20
	DefaultVacuumInterval   = Duration(24 * time.Hour)
	// Upserts.
	DefaultKeyCache = 256 << 20
)

// Format is the encoding of message values.
type Format string

// Formats.
const (
	FormatJSON       Format = "json"        // JSON, decoded by the declared schema
	FormatAvro       Format = "avro"        // Confluent wire format, writer schema from the registry
	FormatJSONSchema Format = "json_schema" // JSON behind the Confluent wire header, schema from the registry
	FormatProtobuf   Format = "protobuf"    // Confluent wire format with message indexes, .proto from the registry
)

// OnError is what a message that cannot be ingested does.
type OnError string

// On-error policies.
const (
	OnErrorFail OnError = "fail" // stop, after committing the good rows before it
	OnErrorSkip OnError = "skip" // drop it, counted and logged
	OnErrorDLQ  OnError = "dlq"  // write it to the dead-letter target before moving past it
)

// Evolution says how the table's schema follows the messages'.
type Evolution string

// Evolution policies.
const (
	EvolutionAddColumns Evolution = "add_columns" // a new nullable field becomes a new column
	EvolutionNone       Evolution = "none"        // new fields are ignored (json) or refused
)

// setDefaults fills in what the file left out, in one place, before validation.
func (c *Config) setDefaults() {
	if c.Kafka.GroupID == "" {
		c.Kafka.GroupID = c.Name
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.StartupTimeout == 0 {
		c.StartupTimeout = DefaultStartupTimeout
	}
	if c.Decoders == 0 {
		c.Decoders = max(1, runtime.GOMAXPROCS(0)/4)
	}
	if c.Logging.Level == "" {
		c.Logging.Level = "info"
	}
	if c.Logging.Format == "" {
		c.Logging.Format = "text"
	}
	if c.Logging.ProgressInterval == nil {
		d := DefaultProgress
		c.Logging.ProgressInterval = &d
	}
	for i := range c.Tables {
		c.Tables[i].setDefaults()
	}
}

func (t *TableConfig) setDefaults() {
	if t.Format == "" {
		t.Format = FormatJSON
	}
	if t.Start.Policy == "" {
		t.Start.Policy = StartEarliest
	}
	if t.Flush.MaxRows == 0 {
		t.Flush.MaxRows = DefaultMaxRows
	}
	if t.Flush.MaxBytes == 0 {
		t.Flush.MaxBytes = DefaultMaxBytes
	}
	if t.Flush.MaxLatency == 0 {
		t.Flush.MaxLatency = DefaultMaxLatency
	}
	if t.Flush.MaxStretch == 0 {
		t.Flush.MaxStretch = DefaultMaxStretch
	}
	if t.JSON.UnknownFields == "" {
		t.JSON.UnknownFields = schema.UnknownIgnore
	}
	if t.JSON.EpochUnit == "" {
		t.JSON.EpochUnit = schema.EpochMillis
	}
	if t.OnError == "" {
		t.OnError = OnErrorFail
	}
	if t.Evolution == "" {
		t.Evolution = EvolutionAddColumns
	}
	if t.HeadersAs == "" {
		t.HeadersAs = "binary"
	}
	if t.KeyFormat == "" {
		t.KeyFormat = "raw"
	}
	if t.Mode == "" {
		t.Mode = ModeAppend
	}
	if t.Envelope == "" {
		t.Envelope = EnvelopeNone
	}
	if t.UpsertStrategy == "" {
		t.UpsertStrategy = MergeOnRead
	}
	if t.KeyCache == 0 {
		t.KeyCache = DefaultKeyCache
	}
	if t.UpdateImages == "" {
		t.UpdateImages = "both"
	}
	if t.OnTombstone == "" {
		t.OnTombstone = OnTombstoneSkip
		if t.Mode == ModeUpsert {
			t.OnTombstone = OnTombstoneDelete
		}
	}
	if t.DLQ != nil && t.DLQ.Headers == "" {
		t.DLQ.Headers = DLQHeadersSluice
	}
	m := &t.Maintenance
	if m.Optimize.MinFiles == 0 {
		m.Optimize.MinFiles = DefaultOptimizeMinFiles
	}
	if m.Optimize.Interval == 0 {
		m.Optimize.Interval = DefaultOptimizeInterval
	}
	if m.Optimize.MaxReadRate == 0 {
		m.Optimize.MaxReadRate = DefaultOptimizeReadRate
	}
	if m.Vacuum.Interval == 0 {
		m.Vacuum.Interval = DefaultVacuumInterval
	}
}

// ConfigError is a configuration mistake, located in the file.
type ConfigError struct {
	File   string
	Line   int // 0 when unknown
	Column int
	Msg    string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig interpolates ${VAR} and ${VAR:-default}, parses strictly and validates;
// name is used in messages.
func ParseConfig(name string, data []byte) (*Config, error) {
	data, err := interpolate(name, data, os.LookupEnv, os.ReadFile)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
		return nil, yamlError(name, err)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(name, err)
	}
	c.setDefaults()
	v := &validator{file: name, ast: file}
	c.validate(v)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return &c, nil
}

func yamlError(file string, err error) error {
	var ye interface {
		GetToken() *token.Token
		GetMessage() string
	}
	if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
		p := ye.GetToken().Position
		return &ConfigError{File: file, Line: p.Line, Column: p.Column, Msg: ye.GetMessage()}
	}
	return &ConfigError{File: file, Msg: err.Error()}
}

// WriterConfig is the Parquet configuration of the table's data files.
func (t *TableConfig) WriterConfig() writer.Config {
	wc := writer.DefaultConfig()
	if t.File.Compression != "" {
		wc.Compression = t.File.Compression
	}
	if t.File.TargetSize > 0 {
		wc.TargetFileSize = int64(t.File.TargetSize)
	}
	return wc
}
