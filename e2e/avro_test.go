package e2e

import (
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/schema/registrytest"
	"github.com/sluicelake/sluice/table"
)

const orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":"string"},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}}
]}`

// v2 adds a nullable top-level field and a nullable field inside the array's records.
const orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":"string"},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"qty","type":"int"},{"name":"note","type":["null","string"],"default":null}]}}},
 {"name":"coupon","type":["null","string"],"default":null}
]}`

// v3 changes a column's type: refused.
const orderV3 = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"string"},
 {"name":"customer","type":"string"},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}}
]}`

func avroRecords(t *testing.T, text string, id int, first, n int, extra func(i int, m map[string]any)) []*kgo.Record {
	t.Helper()
	s, err := avro.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	var out []*kgo.Record
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := first; i < first+n; i++ {
		item := map[string]any{"sku": fmt.Sprint("sku-", i%5), "qty": int32(1 + i%3)}
		m := map[string]any{"id": int64(i), "customer": fmt.Sprint("c", i%7), "amount": big.NewRat(int64(i*100+99), 100),
			"ts": base.Add(time.Duration(i) * time.Hour), "items": []any{item}}
		if extra != nil {
			extra(i, m)
		}
		payload, err := avro.Marshal(s, m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &kgo.Record{Topic: "orders", Value: schema.AppendWire(nil, int32(id), payload)})
	}
	return out
}

// TestAvroAutoCreateAndEvolve: an Avro topic with no declared schema creates its table
// from the registry schema of the first message; a second version that adds nullable
// fields (top level and inside a list of records) evolves the table in a metaData
// commit; a third that changes a type is refused into the dead-letter table while the
// rest flows on.
func TestAvroAutoCreateAndEvolve(t *testing.T) {
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	id1, err := reg.Register("orders-value", "AVRO", orderV1)
	if err != nil {
		t.Fatal(err)
	}
	cluster := newCluster(t, "orders", 2)
	produce(t, cluster, avroRecords(t, orderV1, id1, 0, 100, nil)...)
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: shop
kafka: {bootstrap_servers: %s}
schema_registry: {url: %s}
tables:
  - name: orders
    topics: [orders]
    location: %s/orders
    format: avro
    partition_by: [day]
    columns: {day: "date(ts)"}
    kafka_columns: true
    on_error: dlq
    dlq: {location: %s/orders_dlq}
`, cluster.ListenAddrs()[0], reg.URL(), dir, dir))
	runUntilCaughtUp(t, cfg)
	location := dir + "/orders"
	_, snap := loadTable(t, location)
	cols := columnNames(snap.Schema().Fields)
	if cols != "id customer amount ts items day _kafka_topic _kafka_partition _kafka_offset _kafka_timestamp" {
		t.Fatalf("auto-created columns: %s", cols)
	}
	if n := countRowsNamed(t, location, "orders", "amount = id + 0.99 AND items[1].qty BETWEEN 1 AND 3"); n != 100 {
		t.Fatalf("v1: %d rows with the expected values, want 100", n)
	}

	id2, err := reg.Register("orders-value", "AVRO", orderV2)
	if err != nil {
		t.Fatal(err)
	}
	id3, err := reg.Register("orders-value", "AVRO", orderV3)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	recs = append(recs, avroRecords(t, orderV2, id2, 100, 50, func(i int, m map[string]any) {
		m["coupon"] = fmt.Sprint("SAVE", i)
		m["items"] = []any{map[string]any{"sku": "x", "qty": int32(1), "note": "gift"}}
	})...)
	recs = append(recs, avroRecords(t, orderV3, id3, 150, 1, func(i int, m map[string]any) { m["id"] = "one-fifty" })...)
	recs = append(recs, avroRecords(t, orderV1, id1, 151, 20, nil)...)
	produce(t, cluster, recs...)
	runUntilCaughtUp(t, cfg)

	_, snap = loadTable(t, location)
	if cols := columnNames(snap.Schema().Fields); !strings.HasSuffix(cols, "coupon") {
		t.Fatalf("evolved columns: %s", cols)
	}
	if n := countRowsNamed(t, location, "orders", ""); n != 170 {
		t.Fatalf("%d rows, want 170 (100 v1, 50 v2, 20 v1; the v3 message is a dead letter)", n)
	}
	if n := countRowsNamed(t, location, "orders", "coupon = 'SAVE' || id AND items[1].note = 'gift'"); n != 50 {
		t.Fatalf("%d v2 rows with coupon and note, want 50", n)
	}
	if n := countRowsNamed(t, location, "orders", "coupon IS NULL AND items[1].note IS NULL"); n != 120 {
		t.Fatalf("%d v1 rows with null new fields, want 120", n)
	}
	checkOneSchemaDeadLetter(t, dir+"/orders_dlq")
}

// checkOneSchemaDeadLetter checks that the dead-letter table holds one message, the v3
// one, refused at stage schema.
func checkOneSchemaDeadLetter(t *testing.T, location string) {
	t.Helper()
	dead := readDLQTableChecked(t, location, false)
	if len(dead) != 1 {
		t.Fatalf("dead letters %v, want the one v3 message", dead)
	}
	for _, stage := range dead {
		if stage != "schema" {
			t.Fatalf("the v3 message failed at stage %q, want schema", stage)
		}
	}
}

// v4 makes customer optional and drops amount: the table relaxes both columns to
// nullable (Delta's DROP NOT NULL) instead of stopping.
const orderV4 = `{"type":"record","name":"Order","namespace":"shop","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":["null","string"],"default":null},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}}
]}`

// TestAvroRelaxNullability: a new schema version that makes a required field optional,
// or drops it, is a compatible change in the registry. The table's columns become
// nullable in a metaData commit and every message lands: v1 rows keep their values, v4
// rows have nulls, and v1 messages after v4 still decode.
func TestAvroRelaxNullability(t *testing.T) {
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	id1, err := reg.Register("orders-value", "AVRO", orderV1)
	if err != nil {
		t.Fatal(err)
	}
	id4, err := reg.Register("orders-value", "AVRO", orderV4)
	if err != nil {
		t.Fatal(err)
	}
	cluster := newCluster(t, "orders", 2)
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: shop
kafka: {bootstrap_servers: %s}
schema_registry: {url: %s}
tables:
  - name: orders
    topics: [orders]
    location: %s/orders
    format: avro
`, cluster.ListenAddrs()[0], reg.URL(), dir))
	produce(t, cluster, avroRecords(t, orderV1, id1, 0, 40, nil)...)
	runUntilCaughtUp(t, cfg)
	location := dir + "/orders"
	_, snap := loadTable(t, location)
	if f := snap.Schema().Field("customer"); f == nil || f.Nullable {
		t.Fatalf("v1 customer column %+v, want non-nullable", f)
	}

	var recs []*kgo.Record
	recs = append(recs, avroRecords(t, orderV4, id4, 40, 30, func(i int, m map[string]any) {
		delete(m, "amount")
		if i%2 == 0 {
			m["customer"] = nil
		}
	})...)
	recs = append(recs, avroRecords(t, orderV1, id1, 70, 10, nil)...)
	produce(t, cluster, recs...)
	runUntilCaughtUp(t, cfg)

	_, snap = loadTable(t, location)
	for _, name := range []string{"customer", "amount"} {
		if f := snap.Schema().Field(name); f == nil || !f.Nullable {
			t.Fatalf("column %s after v4: %+v, want nullable", name, f)
		}
	}
	if cols := columnNames(snap.Schema().Fields); cols != "id customer amount ts items" {
		t.Fatalf("columns after v4: %s", cols)
	}
	if n := countRowsNamed(t, location, "orders", ""); n != 80 {
		t.Fatalf("%d rows, want 80", n)
	}
	if n := countRowsNamed(t, location, "orders", "amount IS NULL AND id BETWEEN 40 AND 69"); n != 30 {
		t.Fatalf("%d v4 rows with a null amount, want 30", n)
	}
	if n := countRowsNamed(t, location, "orders", "customer IS NULL AND id BETWEEN 40 AND 69 AND id % 2 = 0"); n != 15 {
		t.Fatalf("%d v4 rows with a null customer, want 15", n)
	}
	if n := countRowsNamed(t, location, "orders", "amount = id + 0.99 AND customer = 'c' || (id % 7)"); n != 50 {
		t.Fatalf("%d v1 rows with their values, want 50", n)
	}
}

func columnNames(fs []*table.StructField) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return strings.Join(out, " ")
}

// TestJSONEvolve: with unknown_fields: evolve, a JSON field the table lacks becomes a
// nullable column of the inferred type.
func TestJSONEvolve(t *testing.T) {
	cluster := newCluster(t, "events", 1)
	var recs []*kgo.Record
	for i := range 40 {
		v := fmt.Sprintf(`{"id":%d}`, i)
		if i >= 20 {
			v = fmt.Sprintf(`{"id":%d,"score":%d.5,"meta":{"src":"app"}}`, i, i)
		}
		recs = append(recs, &kgo.Record{Topic: "events", Value: []byte(v)})
	}
	produce(t, cluster, recs...)
	location := filepath.Join(t.TempDir(), "events")
	sum := runUntilCaughtUp(t, parseConfig(t, fmt.Sprintf(`
name: evolve
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s
    schema: [{name: id, type: long, nullable: false}]
    json: {unknown_fields: evolve}
`, cluster.ListenAddrs()[0], location)))
	_, snap := loadTable(t, location)
	if got := snap.Schema().SchemaString(); !strings.Contains(got, `"name":"score","type":"double"`) || !strings.Contains(got, `"name":"meta","type":{"type":"struct"`) {
		t.Fatalf("schema after evolve: %s", got)
	}
	if n := countRows(t, location, "score = id + 0.5 AND meta.src = 'app'"); n != 20 {
		t.Fatalf("%d rows with the new columns, want 20", n)
	}
	if n := countRows(t, location, ""); n != 40 {
		t.Fatalf("%d rows, want 40", n)
	}
	if sum.Rows != 40 { // the rows buffered before the change count too
		t.Fatalf("the summary counts %d rows committed, want 40", sum.Rows)
	}
}

// TestEvolveWhileRouting: while a table holds a message for a schema change, the
// messages behind it that belong to another table must wait too; moving past them
// would skip the held one when it is replayed.
func TestEvolveWhileRouting(t *testing.T) {
	cluster := newCluster(t, "mixed", 1)
	var recs []*kgo.Record
	for i := range 40 {
		kind := []string{"a", "b"}[i%2]
		v := fmt.Sprintf(`{"id":%d,"type":%q}`, i, kind)
		if kind == "a" && i >= 10 {
			v = fmt.Sprintf(`{"id":%d,"type":"a","extra":%d}`, i, i)
		}
		recs = append(recs, &kgo.Record{Topic: "mixed", Value: []byte(v)})
	}
	produce(t, cluster, recs...)
	dir := t.TempDir()
	runUntilCaughtUp(t, parseConfig(t, fmt.Sprintf(`
name: routed
kafka: {bootstrap_servers: %s}
decoders: 1
tables:
  - name: a
    topics: [mixed]
    location: %s/a
    schema: [{name: id, type: long}, {name: type, type: string}]
    route_by: {field: type, values: [a]}
    json: {unknown_fields: evolve}
  - name: b
    topics: [mixed]
    location: %s/b
    schema: [{name: id, type: long}, {name: type, type: string}]
    route_by: {field: type, values: [b]}
`, cluster.ListenAddrs()[0], dir, dir)))
	if n := countRowsNamed(t, dir+"/a", "a", ""); n != 20 {
		t.Fatalf("table a: %d rows, want 20", n)
	}
	if n := countRowsNamed(t, dir+"/a", "a", "extra = id"); n != 15 {
		t.Fatalf("table a: %d rows with the evolved column, want 15", n)
	}
	if n := countRowsNamed(t, dir+"/b", "b", ""); n != 20 {
		t.Fatalf("table b: %d rows, want 20", n)
	}
}

// TestJSONSchemaAutoCreate: JSON behind the Confluent wire header, with the JSON Schema in
// the registry: the table is created from the schema (required fields non-nullable,
// formats mapped) and the messages decode with the header stripped.
func TestJSONSchemaAutoCreate(t *testing.T) {
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	id, err := reg.Register("events-value", "JSON", `{"type":"object","required":["id"],"properties":{
		"id":{"type":"integer"},"ts":{"type":"string","format":"date-time"},
		"tags":{"type":"array","items":{"type":"string"}},"geo":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}}}}}`)
	if err != nil {
		t.Fatal(err)
	}
	cluster := newCluster(t, "events", 2)
	var recs []*kgo.Record
	for i := range 30 {
		payload := fmt.Sprintf(`{"id":%d,"ts":"2024-06-01T10:00:%02dZ","tags":["t%d"],"geo":{"lat":%d.5,"lon":1}}`, i, i, i, i)
		recs = append(recs, &kgo.Record{Topic: "events", Value: schema.AppendWire(nil, int32(id), []byte(payload))})
	}
	recs = append(recs, &kgo.Record{Topic: "events", Value: []byte(`{"id":99}`)}) // no wire header: a bad message
	produce(t, cluster, recs...)
	dir := t.TempDir()
	runUntilCaughtUp(t, parseConfig(t, fmt.Sprintf(`
name: js
kafka: {bootstrap_servers: %s}
schema_registry: {url: %s}
tables:
  - name: events
    topics: [events]
    location: %s/events
    format: json_schema
    on_error: skip
`, cluster.ListenAddrs()[0], reg.URL(), dir)))
	_, snap := loadTable(t, dir+"/events")
	if got := snap.Schema().SchemaString(); !strings.Contains(got, `{"name":"id","type":"long","nullable":false`) ||
		!strings.Contains(got, `{"name":"ts","type":"timestamp","nullable":true`) {
		t.Fatalf("schema from JSON Schema: %s", got)
	}
	if n := countRows(t, dir+"/events", "geo.lat = id + 0.5 AND tags[1] = 't' || id AND second(ts) = id"); n != 30 {
		t.Fatalf("%d rows decoded right, want 30", n)
	}
}
