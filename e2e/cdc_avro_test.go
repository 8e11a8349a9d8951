package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/schema/registrytest"
)

// debeziumAvroEnvelope is the AvroConverter's envelope of a customers table whose row
// record has the given fields.
func debeziumAvroEnvelope(rowFields string) string {
	return `{"type":"record","name":"Envelope","namespace":"dbserver1.inventory.customers","fields":[
 {"name":"before","type":["null",{"type":"record","name":"Value","fields":[` + rowFields + `]}],"default":null},
 {"name":"after","type":["null","Value"],"default":null},
 {"name":"source","type":{"type":"record","name":"Source","namespace":"io.debezium.connector.postgresql","fields":[
   {"name":"version","type":"string"},{"name":"connector","type":"string"},{"name":"ts_ms","type":"long"},
   {"name":"snapshot","type":["null","string"],"default":null},{"name":"lsn","type":["null","long"],"default":null},
   {"name":"xmin","type":["null","long"],"default":null}]}},
 {"name":"op","type":"string"},
 {"name":"ts_ms","type":["null","long"],"default":null},
 {"name":"transaction","type":["null",{"type":"record","name":"block","namespace":"event","fields":[
   {"name":"id","type":"string"},{"name":"total_order","type":"long"},{"name":"data_collection_order","type":"long"}]}],"default":null}
]}`
}

// Debezium change events in Avro through the registry (the AvroConverter's envelope,
// Avro keys) land in an upsert table created from the envelope's row record; the
// source table gains a column mid-stream (a new envelope schema version), and the
// table evolves with it. The key columns are not configured: they are the Avro key
// record's fields. Tombstones delete by the Avro key.
func TestDebeziumAvroUpsert(t *testing.T) {
	const topic = "dbserver1.inventory.customers"
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	v1 := debeziumAvroEnvelope(`{"name":"id","type":"long"},{"name":"name","type":"string"}`)
	v2 := debeziumAvroEnvelope(`{"name":"id","type":"long"},{"name":"name","type":"string"},{"name":"email","type":["null","string"],"default":null}`)
	keyText := `{"type":"record","name":"Key","namespace":"dbserver1.inventory.customers","fields":[{"name":"id","type":"long"}]}`
	id1, err := reg.Register(topic+"-value", registrytest.TypeAvro, v1)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := reg.Register(topic+"-value", registrytest.TypeAvro, v2)
	if err != nil {
		t.Fatal(err)
	}
	keyID, err := reg.Register(topic+"-key", registrytest.TypeAvro, keyText)
	if err != nil {
		t.Fatal(err)
	}
	// Each schema in its own cache: v2 redefines the named type Value.
	parse := func(text string) avro.Schema {
		s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s1, s2, ks := parse(v1), parse(v2), parse(keyText)
	apis := map[int]avro.API{id1: avro.Config{}.Freeze(), id2: avro.Config{}.Freeze()}
	var recs []*kgo.Record
	want := map[int]customer{}
	lsn := int64(5000)
	key := func(id int) []byte {
		b, err := avro.Marshal(ks, map[string]any{"id": int64(id)})
		if err != nil {
			t.Fatal(err)
		}
		return schema.AppendWire(nil, int32(keyID), b)
	}
	event := func(op string, id int, before, after *customer) {
		lsn++
		s, sid := s1, id1
		if (before != nil && before.email != "") || (after != nil && after.email != "") || lsn > 5100 {
			s, sid = s2, id2
		}
		row := func(c *customer) any {
			if c == nil {
				return nil
			}
			m := map[string]any{"id": int64(id), "name": c.name}
			if s == s2 {
				m["email"] = nil
				if c.email != "" {
					m["email"] = map[string]any{"string": c.email}
				}
			}
			return map[string]any{"dbserver1.inventory.customers.Value": m} // a union branch, by name
		}
		v := map[string]any{"before": row(before), "after": row(after), "op": op, "ts_ms": map[string]any{"long": lsn},
			"source":      map[string]any{"version": "2.5.0", "connector": "postgresql", "ts_ms": int64(1700000000000) + lsn, "snapshot": nil, "lsn": map[string]any{"long": lsn}, "xmin": nil},
			"transaction": nil}
		// A codec per schema: hamba caches encoders by type name, and v2 redefines Value.
		b, err := apis[sid].Marshal(s, v)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: key(id), Value: schema.AppendWire(nil, int32(sid), b)})
		if op == "d" {
			recs = append(recs, &kgo.Record{Topic: topic, Key: key(id)})
		}
	}
	for id := 1; id <= 40; id++ {
		c := customer{name: fmt.Sprint("c", id)}
		want[id] = c
		event("r", id, nil, &c)
	}
	for i := 0; i < 200; i++ {
		id := 1 + (i*7)%45
		old, ok := want[id]
		email := ""
		if i >= 100 {
			email = fmt.Sprintf("e%d@example.com", i)
		}
		c := customer{name: fmt.Sprint("u", i), email: email}
		switch {
		case !ok:
			want[id] = c
			event("c", id, nil, &c)
		case i%9 == 0:
			delete(want, id)
			event("d", id, &old, nil)
		default:
			want[id] = c
			event("u", id, &old, &c)
		}
	}
	cluster := newCluster(t, topic, 3)
	// Keyed by Kafka's default partitioner, as Debezium produces: one key, one partition.
	if err := kgoClient(t, cluster).ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	location := filepath.Join(t.TempDir(), "customers")
	cfg := parseConfig(t, fmt.Sprintf(`
name: cdc-avro
kafka: {bootstrap_servers: %s}
schema_registry: {url: %s}
tables:
  - name: customers
    topics: [%s]
    location: %s
    format: avro
    mode: upsert
    envelope: debezium
    flush: {max_rows: 60}
`, cluster.ListenAddrs()[0], reg.URL(), topic, location))
	runUntilCaughtUp(t, cfg)
	compareCustomers(t, readCustomers(t, location), want)
	_, snap := loadTable(t, location)
	names := []string{}
	for _, f := range snap.Schema().Fields {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "id,name,email" {
		t.Fatalf("columns %v: want id, name, email (from the row record, evolved)", names)
	}
}

// A JSON message with a field named as a column Sluice fills (here _kafka_offset,
// with kafka_columns on and unknown_fields: evolve) is a bad message, not a schema
// change: before, evolution merged it into the Kafka column and every commit after
// was refused, retried forever.
func TestFieldNamedAsKafkaColumn(t *testing.T) {
	cluster := newCluster(t, "events", 1)
	produce(t, cluster,
		&kgo.Record{Topic: "events", Value: []byte(`{"id":1}`)},
		&kgo.Record{Topic: "events", Value: []byte(`{"id":2,"_kafka_offset":"x"}`)},
		&kgo.Record{Topic: "events", Value: []byte(`{"id":3,"extra":"y"}`)})
	location := filepath.Join(t.TempDir(), "events")
	cfg := parseConfig(t, fmt.Sprintf(`
name: clash
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long}]
    json: {unknown_fields: evolve}
    kafka_columns: true
    on_error: skip
`, cluster.ListenAddrs()[0], location))
	runUntilCaughtUp(t, cfg)
	var n int
	var ids string
	if err := duck(t, location).QueryRow(`SELECT count(*), string_agg(id::VARCHAR, ',' ORDER BY id) FROM events`).Scan(&n, &ids); err != nil {
		t.Fatal(err)
	}
	if n != 2 || ids != "1,3" {
		t.Fatalf("rows %d (ids %s): want 1 and 3, the message with _kafka_offset skipped", n, ids)
	}
}

// key_format avro and json_schema decode message keys through the registry into the
// _kafka_key variant column, queried as JSON; a key whose schema id the registry does
// not know is a bad message (here dead-lettered with stage key, as on_error says).
func TestRegistryKeyFormats(t *testing.T) {
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	avroKey := `{"type":"record","name":"Key","fields":[{"name":"customer","type":"long"},{"name":"region","type":"string"}]}`
	avroID, err := reg.Register("events-key", registrytest.TypeAvro, avroKey)
	if err != nil {
		t.Fatal(err)
	}
	jsonID, err := reg.Register("events2-key", registrytest.TypeJSON, `{"type":"object","properties":{"customer":{"type":"integer"},"region":{"type":"string"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"avro", "json_schema"} {
		t.Run(format, func(t *testing.T) {
			var key []byte
			if format == "avro" {
				b, err := avro.Marshal(avro.MustParse(avroKey), map[string]any{"customer": int64(7), "region": "eu"})
				if err != nil {
					t.Fatal(err)
				}
				key = schema.AppendWire(nil, int32(avroID), b)
			} else {
				key = schema.AppendWire(nil, int32(jsonID), []byte(`{"customer":7,"region":"eu"}`))
			}
			cluster := newCluster(t, "events", 1)
			produce(t, cluster,
				&kgo.Record{Topic: "events", Key: key, Value: []byte(`{"id":1}`)},
				&kgo.Record{Topic: "events", Key: schema.AppendWire(nil, 999, []byte("x")), Value: []byte(`{"id":2}`)},
				&kgo.Record{Topic: "events", Value: []byte(`{"id":3}`)})
			dir := t.TempDir()
			cfg := parseConfig(t, fmt.Sprintf(`
name: keys
kafka: {bootstrap_servers: %s}
schema_registry: {url: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}]
    kafka_columns: [key]
    key_format: %s
    on_error: dlq
    dlq: {location: %s}
`, cluster.ListenAddrs()[0], reg.URL(), filepath.Join(dir, "events"), format, filepath.Join(dir, "dlq")))
			runUntilCaughtUp(t, cfg)
			var got string
			if err := duck(t, filepath.Join(dir, "events")).QueryRow(`SELECT string_agg(id || ':' || coalesce((_kafka_key->>'region') || '/' || (_kafka_key->>'customer'), '-'), ' ' ORDER BY id) FROM events`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != "1:eu/7 3:-" {
				t.Fatalf("rows %q, want 1:eu/7 3:-", got)
			}
			var stage string
			if err := duck(t, filepath.Join(dir, "dlq")).QueryRow(`SELECT string_agg(stage || '@' || "offset", ',') FROM events`).Scan(&stage); err != nil {
				t.Fatal(err)
			}
			if stage != "key@1" {
				t.Fatalf("dead letters %q, want the message at offset 1 with stage key", stage)
			}
		})
	}
}
