package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/connector"
)

// A table template ({topic} in name and location, topic_pattern) gives each matching
// topic a table of its own, Debezium's layout of one topic per source table: the
// topics there at start, and one created while the connector runs, which gets its
// table within the topic refresh. A topic the pattern does not match gets none. After
// a restart the tables continue from their own txns.
func TestTableTemplate(t *testing.T) {
	cluster := newCluster(t, "dbserver1.inventory.customers", 2)
	cl := kgoClient(t, cluster)
	createTopic(t, cl, "dbserver1.inventory.orders", 2)
	createTopic(t, cl, "other.topic", 1)
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: cdc-template
kafka: {bootstrap_servers: %s}
tables:
  - name: "{topic}"
    topic_pattern: 'dbserver1\.inventory\..*'
    location: %s/{topic}
    mode: upsert
    envelope: debezium
    schema: [{name: id, type: long, nullable: false}, {name: name, type: string}]
    flush: {max_latency: 100ms}
`, cluster.ListenAddrs()[0], dir))
	event := func(topic string, id int, name string) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, `{"id":%d}`, id),
			Value: fmt.Appendf(nil, `{"before":null,"after":{"id":%d,"name":%q},"op":"c","ts_ms":1}`, id, name)}
	}
	produceAll := func(recs ...*kgo.Record) {
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceAll(event("dbserver1.inventory.customers", 1, "ann"), event("dbserver1.inventory.customers", 2, "bob"),
		event("dbserver1.inventory.orders", 10, "o10"), &kgo.Record{Topic: "other.topic", Value: []byte(`{"id":1}`)})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := connector.New(ctx, cfg, connector.Options{Logger: testLogger(t), TopicRefresh: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := c.Run(ctx); done <- err }()
	rows := func(topic string) int {
		if _, snap := loadTableIfExists(filepath.Join(dir, topic)); snap == nil {
			return -1
		}
		return countRows(t, filepath.Join(dir, topic), "")
	}
	waitFor(t, time.Minute, "the tables of the topics there at start", func() bool {
		return rows("dbserver1.inventory.customers") == 2 && rows("dbserver1.inventory.orders") == 1
	})
	// A source table appears: its topic gets a table while the connector runs.
	createTopic(t, cl, "dbserver1.inventory.products", 3)
	produceAll(event("dbserver1.inventory.products", 100, "p100"), event("dbserver1.inventory.products", 101, "p101"),
		event("dbserver1.inventory.customers", 1, "ann2"))
	waitFor(t, time.Minute, "a table for the new topic", func() bool {
		return rows("dbserver1.inventory.products") == 2
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rows("other.topic") != -1 {
		t.Fatal("a topic the pattern does not match got a table")
	}
	// A restart continues each table from its own txns: nothing twice.
	produceAll(event("dbserver1.inventory.orders", 11, "o11"))
	runUntilCaughtUp(t, cfg)
	var got string
	if err := duck(t, filepath.Join(dir, "dbserver1.inventory.customers")).QueryRow(`SELECT string_agg(id || ':' || name, ',' ORDER BY id) FROM events`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "1:ann2,2:bob" || rows("dbserver1.inventory.orders") != 2 || rows("dbserver1.inventory.products") != 2 {
		t.Fatalf("customers %q, orders %d, products %d rows", got, rows("dbserver1.inventory.orders"), rows("dbserver1.inventory.products"))
	}
}
