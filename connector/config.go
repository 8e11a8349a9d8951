package connector

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// Config is the whole configuration file. docs/config.md documents every key.
type Config struct {
	// Name identifies the connector; it prefixes every txn appId, so two connectors
	// writing one table must have different names. Required.
	Name   string        `yaml:"name"`
	Kafka  KafkaConfig   `yaml:"kafka"`
	Tables []TableConfig `yaml:"tables"`
}

// KafkaConfig is the consumer configuration.
type KafkaConfig struct {
	// BootstrapServers is a comma-separated host:port list. Required.
	BootstrapServers string `yaml:"bootstrap_servers"`
	// GroupID is the consumer group. Defaults to the connector name.
	GroupID string `yaml:"group_id"`
	// Properties are passed to librdkafka as they are (security.protocol, sasl.*, ssl.*…)
	// and override Sluice's defaults.
	Properties map[string]string `yaml:"properties"`
}

// TableConfig routes topics into one Delta table.
type TableConfig struct {
	Name     string   `yaml:"name"`
	Topics   []string `yaml:"topics"`
	Location string   `yaml:"location"`
	// Format of message values: "json". Defaults to json.
	Format string `yaml:"format"`
	// Schema declares the columns decoded from the message.
	Schema []ColumnConfig `yaml:"schema"`
	// PartitionBy lists partition columns (declared or derived).
	PartitionBy []string `yaml:"partition_by"`
	// Columns are derived columns, name: "func(column)", in order.
	Columns yaml.MapSlice `yaml:"columns"`
	// KafkaColumns adds _kafka_topic, _kafka_partition, _kafka_offset, _kafka_timestamp.
	KafkaColumns bool        `yaml:"kafka_columns"`
	Flush        FlushConfig `yaml:"flush"`
	// Start is where to begin a partition the table has no txn for: "earliest" or
	// "latest". Defaults to earliest.
	Start string     `yaml:"start"`
	JSON  JSONConfig `yaml:"json"`
}

// ColumnConfig declares one column.
type ColumnConfig struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// Nullable defaults to true.
	Nullable *bool `yaml:"nullable"`
}

// FlushConfig says when buffered rows become a commit.
type FlushConfig struct {
	// MaxRows flushes when this many rows are buffered. Defaults to 100000.
	MaxRows int `yaml:"max_rows"`
	// MaxBytes flushes when the buffer holds about this many bytes. Defaults to 64 MiB.
	MaxBytes ByteSize `yaml:"max_bytes"`
	// MaxLatency flushes when the oldest buffered row is this old. Defaults to 1m.
	MaxLatency Duration `yaml:"max_latency"`
}

// JSONConfig tunes JSON decoding.
type JSONConfig struct {
	// UnknownFields is "ignore" (default) or "fail".
	UnknownFields string `yaml:"unknown_fields"`
	// EpochUnit is the unit of numbers in timestamp columns: s, ms (default), us, ns.
	EpochUnit string `yaml:"epoch_unit"`
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
	var n int64
	fmt.Sscan(m[1], &n)
	unit := strings.TrimSuffix(strings.TrimSuffix(m[2], "B"), "I")
	mult := map[string]int64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[unit]
	*s = ByteSize(n * mult)
	return nil
}

// Defaults applied by Load.
const (
	DefaultMaxRows    = 100_000
	DefaultMaxBytes   = 64 << 20
	DefaultMaxLatency = Duration(time.Minute)
)

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

// ParseConfig parses and validates configuration text; name is used in messages.
func ParseConfig(name string, data []byte) (*Config, error) {
	var c Config
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
		return nil, yamlError(name, err)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(name, err)
	}
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

type validator struct {
	file string
	ast  *ast.File
	errs []error
}

// errorf records an error at the YAML path ("$.tables[0].schema").
func (v *validator) errorf(path, format string, args ...any) {
	e := &ConfigError{File: v.file, Msg: fmt.Sprintf("%s: %s", strings.TrimPrefix(path, "$."), fmt.Sprintf(format, args...))}
	if p, err := yaml.PathString(path); err == nil {
		if n, err := p.FilterFile(v.ast); err == nil && n != nil && n.GetToken() != nil && n.GetToken().Position != nil {
			e.Line, e.Column = n.GetToken().Position.Line, n.GetToken().Position.Column
		}
	}
	v.errs = append(v.errs, e)
}

func (c *Config) validate(v *validator) {
	if c.Name == "" {
		v.errorf("$", "name is required (it prefixes the txn appIds in every table)")
	} else if strings.ContainsAny(c.Name, ": \t") {
		v.errorf("$.name", "%q must not contain ':' or spaces", c.Name)
	}
	if c.Kafka.BootstrapServers == "" {
		v.errorf("$.kafka", "bootstrap_servers is required")
	}
	if c.Kafka.GroupID == "" {
		c.Kafka.GroupID = c.Name
	}
	if len(c.Tables) == 0 {
		v.errorf("$", "tables: at least one table is required")
	}
	names := map[string]bool{}
	for i := range c.Tables {
		t := &c.Tables[i]
		path := fmt.Sprintf("$.tables[%d]", i)
		if t.Name == "" {
			v.errorf(path, "name is required")
		} else if names[t.Name] {
			v.errorf(path+".name", "table %q is defined twice", t.Name)
		}
		names[t.Name] = true
		t.validate(v, path)
	}
}

func (t *TableConfig) validate(v *validator, path string) {
	if len(t.Topics) == 0 {
		v.errorf(path, "topics: at least one topic is required")
	}
	if t.Location == "" {
		v.errorf(path, "location is required (a path, file:///… or s3://bucket/prefix)")
	}
	if t.Format == "" {
		t.Format = "json"
	}
	if t.Format != "json" {
		v.errorf(path+".format", "unsupported format %q (supported: json)", t.Format)
	}
	if t.Start == "" {
		t.Start = "earliest"
	}
	if t.Start != "earliest" && t.Start != "latest" {
		v.errorf(path+".start", "%q: want earliest or latest", t.Start)
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
	if t.Flush.MaxRows < 0 || t.Flush.MaxBytes < 0 || t.Flush.MaxLatency < 0 {
		v.errorf(path+".flush", "limits must be positive")
	}
	if len(t.Schema) == 0 {
		v.errorf(path, "schema is required for format %s", t.Format)
	}
	for i, c := range t.Schema {
		if _, err := table.ParsePrimitive(c.Type); err != nil {
			v.errorf(fmt.Sprintf("%s.schema[%d].type", path, i), "column %q: %v", c.Name, err)
			return
		}
	}
	if _, err := t.TableSchema(); err != nil {
		v.errorf(path, "%v", err)
	}
}

// Kafka metadata column names.
const (
	ColKafkaTopic     = "_kafka_topic"
	ColKafkaPartition = "_kafka_partition"
	ColKafkaOffset    = "_kafka_offset"
	ColKafkaTimestamp = "_kafka_timestamp"
)

// TableSchema builds the Delta schema: declared columns, derived columns, then the
// Kafka metadata columns.
func (t *TableConfig) TableSchema() (*table.StructType, error) {
	s := &table.StructType{}
	seen := map[string]bool{}
	add := func(f *table.StructField) error {
		k := strings.ToLower(f.Name)
		if seen[k] {
			return fmt.Errorf("column %q is defined twice (names are case-insensitive)", f.Name)
		}
		seen[k] = true
		s.Fields = append(s.Fields, f)
		return nil
	}
	for _, c := range t.Schema {
		if c.Name == "" {
			return nil, errors.New("schema: a column has no name")
		}
		typ, err := table.ParsePrimitive(c.Type)
		if err != nil {
			return nil, fmt.Errorf("schema: column %q: %w", c.Name, err)
		}
		if err := add(&table.StructField{Name: c.Name, Type: typ, Nullable: c.Nullable == nil || *c.Nullable}); err != nil {
			return nil, err
		}
	}
	derived, err := t.Derivations()
	if err != nil {
		return nil, err
	}
	for _, item := range t.Columns {
		name := fmt.Sprint(item.Key)
		d := derived[name]
		src := s.Field(d.Source)
		if src == nil {
			return nil, fmt.Errorf("columns: %s: source column %q is not declared before it", name, d.Source)
		}
		rt, err := d.ResultType(src.Type)
		if err != nil {
			return nil, fmt.Errorf("columns: %s: %w", name, err)
		}
		if err := add(&table.StructField{Name: name, Type: rt, Nullable: true}); err != nil {
			return nil, err
		}
	}
	if t.KafkaColumns {
		for _, f := range []*table.StructField{
			{Name: ColKafkaTopic, Type: table.String, Nullable: false},
			{Name: ColKafkaPartition, Type: table.Integer, Nullable: false},
			{Name: ColKafkaOffset, Type: table.Long, Nullable: false},
			{Name: ColKafkaTimestamp, Type: table.Timestamp, Nullable: true},
		} {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range t.PartitionBy {
		if s.Field(p) == nil {
			return nil, fmt.Errorf("partition_by: %q is not a declared or derived column", p)
		}
	}
	return s, nil
}

// Derivations parses the derived columns.
func (t *TableConfig) Derivations() (map[string]*writer.Derivation, error) {
	out := make(map[string]*writer.Derivation, len(t.Columns))
	for _, item := range t.Columns {
		name := fmt.Sprint(item.Key)
		expr, ok := item.Value.(string)
		if !ok {
			return nil, fmt.Errorf("columns: %s: want an expression string like \"date(ts)\"", name)
		}
		d, err := writer.ParseDerivation(expr)
		if err != nil {
			return nil, fmt.Errorf("columns: %s: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}
