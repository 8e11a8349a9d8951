package connector

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

func TestIssueConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("../examples/events.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.Tables[0]
	if cfg.Name != "events-ingest" || cfg.Kafka.GroupID != "sluice-events" || tc.Flush.MaxRows != 100000 ||
		time.Duration(tc.Flush.MaxLatency) != 5*time.Second || !tc.KafkaColumns.Enabled() || tc.Start.Policy != StartEarliest {
		t.Fatalf("unexpected config: %+v", cfg)
	}
	s, err := tc.tableSchema()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name+":"+f.Type.String())
	}
	want := "id:long user:string amount:double ok:boolean ts:timestamp day:date _kafka_topic:string _kafka_partition:integer _kafka_offset:long _kafka_timestamp:timestamp"
	if strings.Join(names, " ") != want {
		t.Fatalf("schema %v", names)
	}
}

func TestConfigErrors(t *testing.T) {
	base := `name: x
kafka:
  bootstrap_servers: b:9092
tables:
  - name: t
    topics: [a]
    location: /tmp/t
    schema:
      - {name: id, type: long}
`
	cases := []struct {
		name, text, want string
	}{
		{"unknown key", strings.Replace(base, "name: t", "name: t\n    bogus: 1", 1), `test.yaml:6:5: unknown field "bogus"`},
		{"wrong type", strings.Replace(base, "topics: [a]", "topics: 7", 1), `test.yaml:6:13`},
		{"missing name", strings.Replace(base, "name: x\n", "", 1), `name is required`},
		{"missing bootstrap", strings.Replace(base, "bootstrap_servers: b:9092", "group_id: g", 1), `bootstrap_servers is required`},
		{"bad type", strings.Replace(base, "type: long", "type: varchar", 1), `test.yaml:9:26: tables[0].schema[0].type: column "id": unsupported data type "varchar"`},
		{"bad duration", base + "    flush: {max_latency: soon}\n", `invalid duration "soon"`},
		{"bad partition", base + "    partition_by: [nope]\n", `partition_by: "nope" is not a declared or derived column`},
		{"bad derived", base + "    columns: {day: \"month(id)\"}\n", `unknown function "month"`},
		{"derived wrong source type", base + "    columns: {day: \"date(id)\"}\n", `needs a timestamp`},
		{"bad format", base + "    format: xml\n", `test.yaml:10:13: tables[0].format: unsupported format "xml"`},
		{"duplicate column", base + "      - {name: ID, type: string}\n", `column "ID" is defined twice`},
		{"no tables", "name: x\nkafka: {bootstrap_servers: b}\n", `at least one table`},
		{"pprof without listen", base + "metrics: {pprof: true}\n", `metrics: pprof: true needs listen`},
		{"bad size", base + "    flush: {max_bytes: lots}\n", `invalid size "lots"`},
		{"dlq without target", base + "    on_error: dlq\n", `on_error: dlq needs a dlq`},
		{"dlq with both", base + "    dlq: {topic: d, location: /tmp/d}\n", `dlq: set exactly one of topic and location`},
		{"bad policy", base + "    on_error: retry\n", `"retry": want fail, dlq or skip`},
		{"bad start", base + "    start: yesterday\n", `"yesterday": want earliest, latest`},
		{"bad regex", strings.Replace(base, "topics: [a]", "topic_pattern: \"([\"", 1), `invalid regular expression`},
		{"no topics", strings.Replace(base, "    topics: [a]\n", "", 1), `topics or topic_pattern is required`},
		{"avro without registry", base + "    format: avro\n", `format avro needs schema_registry.url`},
		{"auto commit", strings.Replace(base, "bootstrap_servers: b:9092", "bootstrap_servers: b:9092\n  properties: {enable.auto.commit: \"true\"}", 1), `enable.auto.commit is Sluice's to set`},
		{"kafka column", base + "    kafka_columns: [topic, header]\n", `unknown column "header"`},
		{"headers as", base + "    headers_as: json\n", `"json": want binary or string`},
		{"key format", base + "    key_format: avro\n", `key_format avro needs schema_registry.url`},
		{"protobuf key format", base + "    key_format: protobuf\n", `key_format protobuf needs schema_registry.url`},
		{"protobuf without registry", base + "    format: protobuf\n", `format protobuf needs schema_registry.url`},
		{"protobuf debezium", base + "    format: protobuf\n    mode: upsert\n    envelope: debezium\n", `debezium envelopes are read from format json or avro`},
		{"template without topic in location", strings.Replace(base, "name: t", "name: \"{topic}\"", 1), `needs {topic} in both name and location`},
		{"bad mode", base + "    mode: merge\n", `"merge": want append, changelog or upsert`},
		{"debezium in append mode", base + "    envelope: debezium\n", `a debezium envelope describes changes: set mode: upsert or changelog`},
		{"key in append mode", base + "    key: [id]\n", `key applies to mode upsert`},
		{"key not declared", base + "    mode: upsert\n    key: [nope]\n", `key column "nope" is not a declared column`},
		{"partition key", base + "    mode: upsert\n    key: [id]\n    partition_by: [id]\n", `key column "id" is a partition column`},
		{"tombstone delete in append mode", base + "    on_tombstone: delete\n", `delete needs keyed rows (mode: upsert)`},
		{"bad strategy", base + "    mode: upsert\n    upsert_strategy: merge\n", `"merge": want merge_on_read or copy_on_write`},
		{"upsert append-only", base + "    mode: upsert\n    table_properties: {delta.appendOnly: \"true\"}\n", `delta.appendOnly: true forbids the deletes`},
		{"same location", base + "  - {name: u, topics: [b], location: /tmp/t, schema: [{name: id, type: long}]}\n", `writes to the same location as "t"`},
		{"bad compression", base + "    file: {compression: lz4}\n", `unknown compression "lz4"`},
		{"bad log level", base + "logging: {level: loud}\n", `"loud": want debug`},
		{"source of a long", strings.Replace(base, "type: long}", "type: long, source: message}", 1), `its type must be variant or string, not long`},
		{"unknown source", strings.Replace(base, "type: long}", "type: variant, source: key}", 1), `unknown source "key"`},
		{"two message columns", base + "      - {name: a, type: variant, source: message}\n      - {name: b, type: string, source: message}\n", `only one column can take the whole message`},
		{"source with avro", base + "      - {name: a, type: variant, source: message}\n    format: avro\nschema_registry: {url: http://r}\n", `source message works with format json`},
		{"missing env", strings.Replace(base, "b:9092", "${NO_SUCH_VAR_SLUICE}", 1), `${NO_SUCH_VAR_SLUICE} is not set`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("test.yaml", []byte(c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant error containing %q", err, c.want)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "64MiB": 64 << 20, "512KB": 512 << 10, "1g": 1 << 30, "10 MB": 10 << 20} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || int64(b) != want {
			t.Errorf("%q = %d, %v; want %d", in, b, err, want)
		}
	}
}

// The container files are not run here (no Docker engine), so check what can be checked:
// the compose file is valid YAML and the config it mounts validates.
func TestDockerFiles(t *testing.T) {
	for _, f := range []string{"../docker/config.yaml", "../docker/config-s3.yaml"} {
		if _, err := LoadConfig(f); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image   string   `yaml:"image"`
			Build   any      `yaml:"build"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	s, ok := compose.Services["sluice"]
	if !ok || s.Build == nil || !slices.Contains(s.Volumes, "./docker:/etc/sluice:ro") {
		t.Fatalf("sluice service: %+v", s)
	}
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"HOST": "kafka:9092", "SECRET": `p@ss: "w#rd'`, "N": "4", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	in := `a: ${HOST}
b: "${SECRET}"
c: '${SECRET}'
d: ${SECRET}
e: ${MISSING:-5s}
f: ${N}
g: $${HOST}
h: x-${HOST}-y # ${NOT_SET}
i: ${EMPTY:-fallback}
j: ${file:/run/secrets/kafka}
k: "${file:/run/secrets/kafka}"
`
	files := map[string]string{"/run/secrets/kafka": "s3cr#t: 'x'\n"}
	readFile := func(p string) ([]byte, error) {
		if v, ok := files[p]; ok {
			return []byte(v), nil
		}
		return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrNotExist}
	}
	out, err := interpolate("f.yaml", []byte(in), lookup, readFile)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s\n%v", out, err)
	}
	want := map[string]string{"a": "kafka:9092", "b": env["SECRET"], "c": env["SECRET"], "d": env["SECRET"], "e": "5s", "f": "4",
		"g": "${HOST}", "h": "x-kafka:9092-y", "i": "fallback", "j": "s3cr#t: 'x'", "k": "s3cr#t: 'x'"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (text:\n%s)", k, got[k], v, out)
		}
	}
	_, err = interpolate("f.yaml", []byte("a: 1\nb: ${NOPE}\n"), lookup, readFile)
	if err == nil || !strings.Contains(err.Error(), "f.yaml:2:") || !strings.Contains(err.Error(), "${NOPE} is not set") {
		t.Fatalf("missing variable: %v", err)
	}
	_, err = interpolate("f.yaml", []byte("a: 1\nb: ${file:/nope}\n"), lookup, readFile)
	if err == nil || !strings.Contains(err.Error(), "f.yaml:2:") || !strings.Contains(err.Error(), "${file:/nope}: cannot read the file: file does not exist") {
		t.Fatalf("missing file: %v", err)
	}
}

// kafka.instance_id becomes librdkafka's group.instance.id (static membership), and
// cannot be set through properties as well.
func TestInstanceID(t *testing.T) {
	cfg, err := ParseConfig("test.yaml", []byte("name: x\nkafka: {bootstrap_servers: b, instance_id: pod-0}\ntables: [{name: t, topics: [a], location: /tmp/t, schema: [{name: id, type: long}]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cm := newConnector(cfg, Options{}).consumerConfig()
	if v, _ := cm.Get("group.instance.id", nil); v != "pod-0" {
		t.Fatalf("group.instance.id = %v", v)
	}
	_, err = ParseConfig("test.yaml", []byte("name: x\nkafka: {bootstrap_servers: b, properties: {group.instance.id: p}}\ntables: [{name: t, topics: [a], location: /tmp/t, schema: [{name: id, type: long}]}]\n"))
	if err == nil || !strings.Contains(err.Error(), "kafka.instance_id") {
		t.Fatalf("group.instance.id in properties: %v", err)
	}
}

// librdkafka's fetch sizes and prefetch queue follow memory_budget; properties still
// override them.
func TestFetchSettingsFollowBudget(t *testing.T) {
	for _, c := range []struct {
		budget, props       string
		fetch, part, queued int
	}{
		{"64MiB", "", 4 << 20, 4 << 20, 16 << 10},
		{"256MiB", "", 8 << 20, 8 << 20, 32 << 10},
		{"512MiB", "", 16 << 20, 10 << 20, 32 << 10},
		{"4GiB", "", 50 << 20, 10 << 20, 32 << 10},
		{"64MiB", ", properties: {fetch.max.bytes: \"1000000\"}", 1000000, 4 << 20, 16 << 10},
	} {
		cfg, err := ParseConfig("test.yaml", []byte("name: x\nmemory_budget: "+c.budget+"\nkafka: {bootstrap_servers: b"+c.props+"}\ntables: [{name: t, topics: [a], location: /tmp/t, schema: [{name: id, type: long}]}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		cm := newConnector(cfg, Options{}).consumerConfig()
		fetch, _ := cm.Get("fetch.max.bytes", nil)
		part, _ := cm.Get("max.partition.fetch.bytes", nil)
		queued, _ := cm.Get("queued.max.messages.kbytes", nil)
		if fmt.Sprint(fetch) != fmt.Sprint(c.fetch) || part != c.part || queued != c.queued {
			t.Errorf("budget %s%s: fetch.max.bytes %v, max.partition.fetch.bytes %v, queued.max.messages.kbytes %v; want %d, %d, %d",
				c.budget, c.props, fetch, part, queued, c.fetch, c.part, c.queued)
		}
	}
}

// The Go heap's soft limit leaves 32 MiB over the budget, and room for the key caches of
// upsert tables, which live outside the budget: a limit below the live heap would make
// the collector run without end.
func TestMemoryLimit(t *testing.T) {
	cfg, err := ParseConfig("test.yaml", []byte("name: x\nmemory_budget: 64MiB\nkafka: {bootstrap_servers: b}\ntables:\n"+
		"  - {name: a, topics: [a], location: /tmp/a, schema: [{name: id, type: long}]}\n"+
		"  - {name: u, topics: [u], location: /tmp/u, mode: upsert, key: [id], key_cache: 100MiB, schema: [{name: id, type: long, nullable: false}]}\n"+
		"  - {name: v, topics: [v], location: /tmp/v, mode: upsert, key: [id], schema: [{name: id, type: long, nullable: false}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.MemoryLimit(), int64(64+32+100+256)<<20; got != want {
		t.Fatalf("memory limit %d MiB, want %d MiB", got>>20, want>>20)
	}
}

func TestCDCExampleLoads(t *testing.T) {
	t.Setenv("S3_ACCESS_KEY_ID", "id")
	t.Setenv("S3_SECRET_ACCESS_KEY", "secret")
	cfg, err := LoadConfig("../examples/cdc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	up, hist := cfg.Tables[0], cfg.Tables[1]
	if !up.IsTemplate() || up.Mode != ModeUpsert || up.OnTombstone != OnTombstoneDelete || up.Envelope != EnvelopeDebezium ||
		hist.Mode != ModeChangelog || hist.OnTombstone != OnTombstoneSkip {
		t.Fatalf("unexpected config: %+v", cfg.Tables)
	}
	if got := up.instantiate("dbserver1.inventory.orders"); got.Name != "dbserver1.inventory.orders" || got.Location != "s3://lake/inventory/dbserver1.inventory.orders" {
		t.Fatalf("instantiated %s at %s", got.Name, got.Location)
	}
}

// TestEncodersFollowBudget: a data file's columns are encoded one per 128 MiB of memory
// budget at once, at most one per core and 8, at least one.
func TestEncodersFollowBudget(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	for _, c := range []struct {
		budget string
		want   int
	}{{"64MiB", 1}, {"128MiB", 1}, {"256MiB", min(2, cores)}, {"512MiB", min(4, cores)}, {"4GiB", min(8, cores)}} {
		cfg, err := ParseConfig("test.yaml", []byte("name: x\nmemory_budget: "+c.budget+"\nkafka: {bootstrap_servers: b}\ntables: [{name: t, topics: [a], location: /tmp/t, schema: [{name: id, type: long}]}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := newConnector(cfg, Options{}).encoders(); got != c.want {
			t.Errorf("budget %s: %d encoders, want %d", c.budget, got, c.want)
		}
	}
}
