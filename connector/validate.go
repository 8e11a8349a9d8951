package connector

import (
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// validator collects every mistake of a configuration, each located in the file, so
// that one run of `sluice validate` lists them all. It only checks: setDefaults has
// filled in what was left out.
type validator struct {
	file string
	ast  *ast.File
	errs []error
}

// errorf records an error at the YAML path ("$.tables[0].schema").
func (v *validator) errorf(path, format string, args ...any) {
	e := &ConfigError{File: v.file, Msg: fmt.Sprintf("%s: %s", strings.TrimPrefix(path, "$."), fmt.Sprintf(format, args...))}
	if path == "$" {
		e.Msg = fmt.Sprintf(format, args...)
	}
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
	c.Kafka.validate(v)
	if c.MemoryBudget < 0 || c.ShutdownTimeout < 0 || c.StartupTimeout < 0 || c.Decoders < 0 {
		v.errorf("$", "memory_budget, shutdown_timeout, startup_timeout and decoders must be positive")
	}
	c.Logging.validate(v)
	if c.Metrics.Pprof && c.Metrics.Listen == "" {
		v.errorf("$.metrics", "pprof: true needs listen, the address that serves it")
	}
	if len(c.Tables) == 0 {
		v.errorf("$", "tables: at least one table is required")
	}
	names := map[string]bool{}
	locations := map[string]string{}
	for i := range c.Tables {
		t := &c.Tables[i]
		path := fmt.Sprintf("$.tables[%d]", i)
		if t.Name == "" {
			v.errorf(path, "name is required")
		} else if names[t.Name] {
			v.errorf(path+".name", "table %q is defined twice", t.Name)
		}
		names[t.Name] = true
		if other, ok := locations[t.Location]; ok && t.Location != "" {
			v.errorf(path+".location", "table %q writes to the same location as %q", t.Name, other)
		}
		locations[t.Location] = t.Name
		t.validate(v, path, c)
	}
}

func (k *KafkaConfig) validate(v *validator) {
	if k.BootstrapServers == "" {
		v.errorf("$.kafka", "bootstrap_servers is required")
	}
	for p := range k.Properties {
		switch p {
		case "enable.auto.commit", "enable.auto.offset.store":
			v.errorf("$.kafka.properties", "%s is Sluice's to set: the Delta log, not Kafka, records what was ingested (Sluice stores each table's committed offsets for lag monitoring)", p)
		case "group.id":
			v.errorf("$.kafka.properties", "set group.id with kafka.group_id instead")
		case "group.instance.id":
			v.errorf("$.kafka.properties", "set group.instance.id with kafka.instance_id instead")
		case "bootstrap.servers":
			v.errorf("$.kafka.properties", "set bootstrap.servers with kafka.bootstrap_servers instead")
		}
	}
}

func (l *LoggingConfig) validate(v *validator) {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		v.errorf("$.logging.level", "%q: want debug, info, warn or error", l.Level)
	}
	if l.Format != "text" && l.Format != "json" {
		v.errorf("$.logging.format", "%q: want text or json", l.Format)
	}
}

// validate checks one table, section by section.
func (t *TableConfig) validate(v *validator, path string, c *Config) {
	t.validateSource(v, path)
	t.validateFormat(v, path, c)
	t.validateStart(v, path)
	t.validateFlush(v, path)
	t.validateJSON(v, path)
	t.validateErrors(v, path, c)
	t.validateChanges(v, path)
	t.validateEvolution(v, path)
	t.validateFile(v, path)
	t.validateColumns(v, path)
	t.validateMaintenance(v, path)
}

// validateMaintenance checks the maintenance settings.
func (t *TableConfig) validateMaintenance(v *validator, path string) {
	o, vac := t.Maintenance.Optimize, t.Maintenance.Vacuum
	path += ".maintenance"
	if o.MinFiles < 2 {
		v.errorf(path+".optimize.min_files", "must be at least 2")
	}
	if o.Interval < Duration(time.Second) || vac.Interval < Duration(time.Second) {
		v.errorf(path, "intervals must be at least 1s")
	}
	if o.TargetSize < 0 || (o.TargetSize > 0 && o.TargetSize < 1<<20) {
		v.errorf(path+".optimize.target_size", "must be at least 1MiB")
	}
	if o.MaxReadRate < 1<<20 {
		v.errorf(path+".optimize.max_read_rate", "must be at least 1MiB (per second)")
	}
	if vac.Retention < 0 {
		v.errorf(path+".vacuum.retention", "must not be negative")
	}
}

// validateSource checks where rows come from and go to: topics and location.
func (t *TableConfig) validateSource(v *validator, path string) {
	if len(t.Topics) == 0 && t.TopicPattern == "" {
		v.errorf(path, "topics or topic_pattern is required")
	}
	if t.TopicPattern != "" {
		if _, err := compileTopicPattern(t.TopicPattern); err != nil {
			v.errorf(path+".topic_pattern", "invalid regular expression: %v", err)
		}
	}
	if t.Location == "" {
		v.errorf(path, "location is required (a path, file:///… or s3://bucket/prefix)")
	}
	if t.RouteBy != nil && (t.RouteBy.Field == "" || len(t.RouteBy.Values) == 0) {
		v.errorf(path+".route_by", "needs field and at least one value")
	}
	if t.RouteBy != nil && (t.Format == FormatAvro || t.Format == FormatProtobuf) {
		v.errorf(path+".route_by", "route_by works on json and json_schema messages")
	}
	if t.IsTemplate() {
		if !strings.Contains(t.Name, topicPlaceholder) || !strings.Contains(t.Location, topicPlaceholder) {
			v.errorf(path, "a table template (one table per topic) needs {topic} in both name and location, so that each topic's table has its own")
		}
		if t.DLQ != nil && t.DLQ.Location != "" && !strings.Contains(t.DLQ.Location, topicPlaceholder) {
			v.errorf(path+".dlq.location", "a table template's dead-letter table needs {topic} in its location too (one dead-letter table per table)")
		}
	}
}

func (t *TableConfig) validateFormat(v *validator, path string, c *Config) {
	switch t.Format {
	case FormatJSON:
		if len(t.Schema) == 0 && t.Envelope != EnvelopeDebezium {
			v.errorf(path, "schema is required for format json (or envelope: debezium with the JsonConverter's schemas)")
		}
	case FormatAvro, FormatJSONSchema, FormatProtobuf:
		if c.SchemaRegistry.URL == "" {
			v.errorf(path+".format", "format %s needs schema_registry.url", t.Format)
		}
	default:
		v.errorf(path+".format", "unsupported format %q (supported: json, avro, protobuf, json_schema)", t.Format)
	}
}

func (t *TableConfig) validateStart(v *validator, path string) {
	switch t.Start.Policy {
	case StartEarliest, StartLatest, StartOffsets:
	default:
		v.errorf(path+".start", "%q: want earliest, latest, or a mapping topic: {partition: offset}", t.Start.Policy)
	}
	for topic, parts := range t.Start.Offsets {
		for p, off := range parts {
			if p < 0 || off < 0 {
				v.errorf(path+".start", "topic %s partition %d offset %d: partitions and offsets must not be negative", topic, p, off)
			}
		}
	}
}

func (t *TableConfig) validateFlush(v *validator, path string) {
	if t.Flush.MaxRows < 0 || t.Flush.MaxBytes < 0 || t.Flush.MaxLatency < 0 {
		v.errorf(path+".flush", "limits must be positive")
	}
	if t.Flush.MaxStretch < 1 {
		v.errorf(path+".flush.max_stretch", "%g: want 1 (no pacing) or more", t.Flush.MaxStretch)
	}
}

func (t *TableConfig) validateJSON(v *validator, path string) {
	switch t.JSON.UnknownFields {
	case schema.UnknownIgnore, schema.UnknownFail, schema.UnknownEvolve:
	default:
		v.errorf(path+".json.unknown_fields", "%q: want ignore, fail or evolve", t.JSON.UnknownFields)
	}
	switch t.JSON.EpochUnit {
	case schema.EpochSeconds, schema.EpochMillis, schema.EpochMicros, schema.EpochNanos:
	default:
		v.errorf(path+".json.epoch_unit", "%q: want s, ms, us or ns", t.JSON.EpochUnit)
	}
}

// validateErrors checks what happens to a message that cannot be ingested.
func (t *TableConfig) validateErrors(v *validator, path string, c *Config) {
	switch t.OnError {
	case OnErrorFail, OnErrorSkip:
	case OnErrorDLQ:
		if t.DLQ == nil {
			v.errorf(path+".on_error", "dlq needs a dlq: {topic: …} or dlq: {location: …}")
		}
	default:
		v.errorf(path+".on_error", "%q: want fail, dlq or skip", t.OnError)
	}
	if t.DLQ != nil && (t.DLQ.Topic == "") == (t.DLQ.Location == "") {
		v.errorf(path+".dlq", "set exactly one of topic and location")
	}
	switch t.OnTombstone {
	case OnTombstoneSkip, OnTombstoneFail:
	case OnTombstoneDLQ:
		if t.DLQ == nil {
			v.errorf(path+".on_tombstone", "dlq needs a dlq: {topic: …} or dlq: {location: …}")
		}
	case OnTombstoneDelete:
		if t.Mode != ModeUpsert {
			v.errorf(path+".on_tombstone", "delete needs keyed rows (mode: upsert); in an append or changelog table a tombstone has no row to delete (Debezium sends a delete event before its tombstone): use skip, fail or dlq")
		}
	default:
		v.errorf(path+".on_tombstone", "%q: want delete, skip, fail or dlq", t.OnTombstone)
	}
	switch t.KeyFormat {
	case "raw", "string", "json":
	case "avro", "json_schema", "protobuf":
		if c.SchemaRegistry.URL == "" {
			v.errorf(path+".key_format", "key_format %s needs schema_registry.url", t.KeyFormat)
		}
	default:
		v.errorf(path+".key_format", "%q: want raw, string, json, avro, protobuf or json_schema", t.KeyFormat)
	}
	if t.HeadersAs != "binary" && t.HeadersAs != "string" {
		v.errorf(path+".headers_as", "%q: want binary or string", t.HeadersAs)
	}
	if t.DLQ != nil {
		switch t.DLQ.Headers {
		case DLQHeadersSluice, DLQHeadersConnect, DLQHeadersBoth:
			if t.DLQ.Location != "" && t.DLQ.Headers != DLQHeadersSluice {
				v.errorf(path+".dlq.headers", "headers are for a dead-letter topic; a dead-letter table has columns")
			}
		default:
			v.errorf(path+".dlq.headers", "%q: want sluice, connect or both", t.DLQ.Headers)
		}
	}
}

// validateChanges checks the change-data-capture settings: mode, key, envelope.
func (t *TableConfig) validateChanges(v *validator, path string) {
	switch t.Mode {
	case ModeAppend, ModeChangelog, ModeUpsert:
	default:
		v.errorf(path+".mode", "%q: want append, changelog or upsert", t.Mode)
	}
	switch t.Envelope {
	case EnvelopeNone:
	case EnvelopeDebezium:
		if t.Format == FormatJSONSchema || t.Format == FormatProtobuf {
			v.errorf(path+".envelope", "debezium envelopes are read from format json or avro")
		}
		if t.Mode == ModeAppend {
			v.errorf(path+".envelope", "a debezium envelope describes changes: set mode: upsert or changelog")
		}
		if t.RouteBy != nil {
			v.errorf(path+".route_by", "route_by does not look inside a debezium envelope")
		}
	default:
		v.errorf(path+".envelope", "%q: want none or debezium", t.Envelope)
	}
	switch t.UpsertStrategy {
	case MergeOnRead, CopyOnWrite:
	default:
		v.errorf(path+".upsert_strategy", "%q: want merge_on_read or copy_on_write", t.UpsertStrategy)
	}
	if t.UpdateImages != "both" && t.UpdateImages != "post" {
		v.errorf(path+".update_images", "%q: want both or post", t.UpdateImages)
	}
	if len(t.Key) > 0 && t.Mode != ModeUpsert {
		v.errorf(path+".key", "key applies to mode upsert")
	}
	for i, k := range t.Key {
		for _, p := range t.PartitionBy {
			if p == k {
				v.errorf(fmt.Sprintf("%s.key[%d]", path, i), "key column %q is a partition column: a row whose key stays could then move between partitions; key on data columns", k)
			}
		}
		for _, item := range t.Columns {
			if fmt.Sprint(item.Key) == k {
				v.errorf(fmt.Sprintf("%s.key[%d]", path, i), "key column %q is a derived column: key on columns the message carries", k)
			}
		}
		if len(t.Schema) > 0 {
			found := false
			for _, c := range t.Schema {
				if c.Name == k {
					found = true
					if typ, err := table.ParsePrimitive(c.Type); err == nil && !writer.KeyType(typ) {
						v.errorf(fmt.Sprintf("%s.key[%d]", path, i), "%v", keyTypeError(k, typ))
					}
				}
			}
			if !found {
				v.errorf(fmt.Sprintf("%s.key[%d]", path, i), "key column %q is not a declared column", k)
			}
		}
	}
	if t.Mode == ModeUpsert && t.TableProperties["delta.appendOnly"] == "true" {
		v.errorf(path+".table_properties", "delta.appendOnly: true forbids the deletes an upsert table makes")
	}
}

func (t *TableConfig) validateEvolution(v *validator, path string) {
	if t.Evolution != EvolutionAddColumns && t.Evolution != EvolutionNone {
		v.errorf(path+".evolution", "%q: want add_columns or none", t.Evolution)
	}
}

func (t *TableConfig) validateFile(v *validator, path string) {
	wc := t.WriterConfig()
	if err := wc.Validate(); err != nil {
		v.errorf(path+".file", "%v", strings.TrimPrefix(err.Error(), "writer: "))
	}
}

// validateColumns checks the declared, derived and partition columns by building the
// table schema they make.
func (t *TableConfig) validateColumns(v *validator, path string) {
	whole := 0
	for i, c := range t.Schema {
		typ, err := table.ParsePrimitive(c.Type)
		if err != nil {
			v.errorf(fmt.Sprintf("%s.schema[%d].type", path, i), "column %q: %v", c.Name, err)
			return
		}
		switch c.Source {
		case "":
		case SourceMessage:
			if whole++; whole > 1 {
				v.errorf(fmt.Sprintf("%s.schema[%d].source", path, i), "column %q: only one column can take the whole message", c.Name)
			}
			if typ != table.Variant && typ != table.String {
				v.errorf(fmt.Sprintf("%s.schema[%d].source", path, i), "column %q takes the whole message, so its type must be variant or string, not %s", c.Name, typ)
			}
			if t.Format != FormatJSON {
				v.errorf(fmt.Sprintf("%s.schema[%d].source", path, i), "column %q: source message works with format json", c.Name)
			}
		default:
			v.errorf(fmt.Sprintf("%s.schema[%d].source", path, i), "column %q: unknown source %q (want message, or leave it out for the field of the same name)", c.Name, c.Source)
		}
	}
	if len(t.Schema) > 0 {
		if _, err := t.tableSchema(); err != nil {
			v.errorf(path, "%v", err)
		}
	} else if _, err := t.derivations(); err != nil {
		v.errorf(path, "%v", err)
	}
	if t.EventTime != "" && len(t.Schema) > 0 {
		found := false
		for _, c := range t.Schema {
			if c.Name == t.EventTime {
				found = true
				if c.Type != "timestamp" && c.Type != "timestamp_ntz" {
					v.errorf(path+".event_time", "column %q is a %s; event_time needs a timestamp column", c.Name, c.Type)
				}
			}
		}
		if !found {
			v.errorf(path+".event_time", "%q is not a declared column", t.EventTime)
		}
	}
}
