package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/schema/registrytest"
)

const moneyProto = `syntax = "proto3";
package shop;
message Money { int64 cents = 1; string currency = 2; }
`

const orderProtoV1 = `syntax = "proto3";
package shop;
import "shop/money.proto";
import "google/protobuf/timestamp.proto";

message Order {
  int64 id = 1;
  string customer = 2;
  Money total = 3;
  google.protobuf.Timestamp ts = 4;
  repeated Item items = 5;
  Status status = 6;
  message Item { string sku = 1; int32 qty = 2; }
  enum Status { NEW = 0; PAID = 1; SHIPPED = 2; }
}
`

// v2 declares another message first (Order is now at index 1, so the message indexes
// change), and adds to Order a proto3 optional, a oneof, a map, and a field inside the
// list's messages.
const orderProtoV2 = `syntax = "proto3";
package shop;
import "shop/money.proto";
import "google/protobuf/timestamp.proto";

message Audit { string who = 1; }

message Order {
  int64 id = 1;
  string customer = 2;
  Money total = 3;
  google.protobuf.Timestamp ts = 4;
  repeated Item items = 5;
  Status status = 6;
  optional string coupon = 7;
  oneof payment { string card = 8; string iban = 9; }
  map<string, string> attrs = 10;
  message Item { string sku = 1; int32 qty = 2; optional string note = 3; }
  enum Status { NEW = 0; PAID = 1; SHIPPED = 2; }
}
`

// v3 changes id's type: refused.
const orderProtoV3 = `syntax = "proto3";
package shop;
message Order { string id = 1; string customer = 2; }
`

const orderKeyProto = `syntax = "proto3";
package shop;
message OrderKey { int64 id = 1; string region = 2; }
`

// protoProducer builds wire-format Protobuf messages with the Go protobuf runtime, from
// the .proto text the registry serves for an id.
type protoProducer struct {
	t   *testing.T
	reg *schema.Registry
}

func newProtoProducer(t *testing.T, url string) *protoProducer {
	reg, err := schema.NewRegistry(schema.RegistryConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	return &protoProducer{t: t, reg: reg}
}

// message encodes the message type at indexes of schema id from its JSON form.
func (p *protoProducer) message(id int, indexes []int, text string) []byte {
	p.t.Helper()
	s, err := p.reg.SchemaByID(context.Background(), int32(id))
	if err != nil {
		p.t.Fatal(err)
	}
	fd, err := schema.ParseProtobuf(s)
	if err != nil {
		p.t.Fatal(err)
	}
	md, err := schema.ProtoMessage(fd, indexes)
	if err != nil {
		p.t.Fatal(err)
	}
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(text), m); err != nil {
		p.t.Fatalf("%s: %v", text, err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		p.t.Fatal(err)
	}
	return schema.AppendWire(nil, int32(id), append(schema.AppendProtoIndexes(nil, indexes), b...))
}

// TestProtobufAutoCreateAndEvolve: a Protobuf topic with no declared schema creates its
// table from the registry's .proto (which imports another subject and a well-known
// type); a second version, whose message type moved to index 1, adds an optional field,
// a oneof, a map and a field inside the list's messages, and evolves the table
// mid-stream; a third that changes a type is a dead letter while the rest flows on.
// Keys are Protobuf too (key_format: protobuf), queried from the _kafka_key variant.
func TestProtobufAutoCreateAndEvolve(t *testing.T) {
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	if _, err := reg.Register("shop/money.proto", registrytest.TypeProtobuf, moneyProto); err != nil {
		t.Fatal(err)
	}
	ref := registrytest.Reference{Name: "shop/money.proto", Subject: "shop/money.proto", Version: 1}
	id1, err := reg.Register("orders-value", registrytest.TypeProtobuf, orderProtoV1, ref)
	if err != nil {
		t.Fatal(err)
	}
	keyID, err := reg.Register("orders-key", registrytest.TypeProtobuf, orderKeyProto)
	if err != nil {
		t.Fatal(err)
	}
	pp := newProtoProducer(t, reg.URL())
	order := func(id int, indexes []int, i int, extra, itemExtra string) *kgo.Record {
		text := fmt.Sprintf(`{"id":"%d","customer":"c%d","total":{"cents":"%d","currency":"EUR"},"ts":"2024-06-01T%02d:00:00Z",
			"items":[{"sku":"sku-%d","qty":%d%s}],"status":"PAID"%s}`, i, i%7, i*100+99, i%24, i%5, 1+i%3, itemExtra, extra)
		return &kgo.Record{Topic: "orders", Key: pp.message(keyID, nil, fmt.Sprintf(`{"id":"%d","region":"eu"}`, i)), Value: pp.message(id, indexes, text)}
	}
	cluster := newCluster(t, "orders", 2)
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, order(id1, nil, i, "", ""))
	}
	produce(t, cluster, recs...)
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: shop
kafka: {bootstrap_servers: %s}
schema_registry: {url: %s}
tables:
  - name: orders
    topics: [orders]
    location: %s/orders
    format: protobuf
    kafka_columns: [offset, key]
    key_format: protobuf
    on_error: dlq
    dlq: {location: %s/orders_dlq}
`, cluster.ListenAddrs()[0], reg.URL(), dir, dir))
	runUntilCaughtUp(t, cfg)
	location := dir + "/orders"
	_, snap := loadTable(t, location)
	if cols := columnNames(snap.Schema().Fields); cols != "id customer total ts items status _kafka_offset _kafka_key" {
		t.Fatalf("auto-created columns: %s", cols)
	}
	if n := countRowsNamed(t, location, "orders", `total.cents = id * 100 + 99 AND total.currency = 'EUR' AND items[1].qty BETWEEN 1 AND 3
		AND status = 'PAID' AND hour(ts) = id % 24 AND (_kafka_key->>'id') = id::VARCHAR AND (_kafka_key->>'region') = 'eu'`); n != 100 {
		t.Fatalf("v1: %d rows with the expected values, want 100", n)
	}

	id2, err := reg.Register("orders-value", registrytest.TypeProtobuf, orderProtoV2, ref)
	if err != nil {
		t.Fatal(err)
	}
	id3, err := reg.Register("orders-value", registrytest.TypeProtobuf, orderProtoV3)
	if err != nil {
		t.Fatal(err)
	}
	recs = recs[:0]
	for i := 100; i < 150; i++ {
		recs = append(recs, order(id2, []int{1}, i, fmt.Sprintf(`,"coupon":"SAVE%d","card":"visa","attrs":{"k":"v"}`, i), `,"note":"gift"`))
	}
	recs = append(recs, &kgo.Record{Topic: "orders", Value: pp.message(id3, nil, `{"id":"one-fifty","customer":"x"}`)})
	for i := 151; i < 171; i++ {
		recs = append(recs, order(id1, nil, i, "", ""))
	}
	produce(t, cluster, recs...)
	runUntilCaughtUp(t, cfg)

	_, snap = loadTable(t, location)
	if cols := columnNames(snap.Schema().Fields); cols != "id customer total ts items status _kafka_offset _kafka_key coupon payment attrs" {
		t.Fatalf("evolved columns: %s", cols)
	}
	if n := countRowsNamed(t, location, "orders", ""); n != 170 {
		t.Fatalf("%d rows, want 170 (100 v1, 50 v2, 20 v1; the v3 message is a dead letter)", n)
	}
	if n := countRowsNamed(t, location, "orders", `coupon = 'SAVE' || id AND items[1].note = 'gift' AND payment.card = 'visa'
		AND payment.iban IS NULL AND cardinality(attrs) = 1 AND total.cents = id * 100 + 99`); n != 50 {
		t.Fatalf("%d v2 rows with coupon, note, payment and attrs, want 50", n)
	}
	if n := countRowsNamed(t, location, "orders", "coupon IS NULL AND items[1].note IS NULL AND payment IS NULL AND attrs IS NULL"); n != 120 {
		t.Fatalf("%d v1 rows with null new fields, want 120", n)
	}
	checkOneSchemaDeadLetter(t, dir+"/orders_dlq")
}

// TestProtobufUpsert: an upsert table of Protobuf values whose key columns come from
// the Protobuf message key (no key: in the configuration): updates replace rows,
// tombstones delete them, and the key decodes through the registry like the value.
func TestProtobufUpsert(t *testing.T) {
	reg := registrytest.NewServer()
	t.Cleanup(reg.Close)
	valueID, err := reg.Register("users-value", registrytest.TypeProtobuf, `syntax = "proto3"; package app;
message User { int64 id = 1; string name = 2; int32 version = 3; }`)
	if err != nil {
		t.Fatal(err)
	}
	keyID, err := reg.Register("users-key", registrytest.TypeProtobuf, `syntax = "proto3"; package app; message UserKey { int64 id = 1; }`)
	if err != nil {
		t.Fatal(err)
	}
	pp := newProtoProducer(t, reg.URL())
	key := func(i int) []byte { return pp.message(keyID, nil, fmt.Sprintf(`{"id":"%d"}`, i)) }
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, &kgo.Record{Topic: "users", Key: key(i), Value: pp.message(valueID, nil, fmt.Sprintf(`{"id":"%d","name":"u%d","version":1}`, i, i))})
	}
	for i := 0; i < 20; i += 2 {
		recs = append(recs, &kgo.Record{Topic: "users", Key: key(i), Value: pp.message(valueID, nil, fmt.Sprintf(`{"id":"%d","name":"u%d-v2","version":2}`, i, i))})
	}
	for i := 0; i < 20; i += 5 {
		recs = append(recs, &kgo.Record{Topic: "users", Key: key(i)}) // tombstone
	}
	cluster := newCluster(t, "users", 1)
	produce(t, cluster, recs...)
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: app
kafka: {bootstrap_servers: %s}
schema_registry: {url: %s}
tables:
  - name: users
    topics: [users]
    location: %s/users
    format: protobuf
    mode: upsert
`, cluster.ListenAddrs()[0], reg.URL(), dir))
	runUntilCaughtUp(t, cfg)
	var got string
	if err := duck(t, dir+"/users").QueryRow(`SELECT count(*) || ' ' || sum(version) || ' ' || count(*) FILTER (WHERE name = 'u' || id || CASE WHEN version = 2 THEN '-v2' ELSE '' END) FROM events`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	// 20 users less 4 deleted (0, 5, 10, 15); of the 16, the 8 even ones at version 2.
	if got != "16 24 16" {
		t.Fatalf("rows, version sum, rows with the right name: %s, want 16 24 16", got)
	}
}
