package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/connector"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/storage"
)

// A table made as Spark makes one with CHECK constraints, a column invariant and a
// generated column: the connector computes the generated column, and messages that
// break a rule go to the dead-letter table with stage "constraint" and the rule's
// name; every other message lands once.
func TestConstraintsAndGeneratedColumns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := storage.NewLocal(dir + "/orders")
	if err != nil {
		t.Fatal(err)
	}
	meta := func(k, v string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{k: v})
		return b
	}
	schema := &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long},
		{Name: "amount", Type: &table.DecimalType{Precision: 10, Scale: 2}, Nullable: true},
		{Name: "ts", Type: table.Timestamp, Nullable: true},
		{Name: "sku", Type: table.String, Nullable: true,
			Metadata: meta("delta.invariants", `{"expression":{"expression":"sku IS NOT NULL AND length(sku) = 6"}}`)},
		{Name: "day", Type: table.Date, Nullable: true, Metadata: meta("delta.generationExpression", "CAST(ts AS DATE)")},
	}}
	if _, err := table.New(store).Create(ctx, table.CreateOptions{Name: "orders", Schema: schema, PartitionColumns: []string{"day"},
		Configuration: map[string]string{"delta.constraints.positive_amount": "amount > 0"}}); err != nil {
		t.Fatal(err)
	}
	cluster := newCluster(t, "orders", 2)
	var recs []*kgo.Record
	bad := map[int]string{}
	for i := range 40 {
		amount, sku := fmt.Sprintf("%d.50", i+1), fmt.Sprintf("SKU%03d", i)
		switch i % 10 {
		case 3:
			amount, bad[i] = "-1", "CHECK constraint positive_amount"
		case 7:
			sku, bad[i] = "X", "invariant of column sku"
		}
		v := fmt.Sprintf(`{"id":%d,"amount":%s,"ts":"2024-06-0%dT12:00:00Z","sku":%q}`, i, amount, 1+i%3, sku)
		recs = append(recs, &kgo.Record{Topic: "orders", Partition: int32(i % 2), Key: fmt.Appendf(nil, "k%d", i), Value: []byte(v),
			Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}})
	}
	produce(t, cluster, recs...)
	cfg := parseConfig(t, fmt.Sprintf(`
name: rules
kafka: {bootstrap_servers: %s}
tables:
  - name: orders
    topics: [orders]
    location: %s/orders
    format: json
    schema: [{name: id, type: long, nullable: false}, {name: amount, type: "decimal(10,2)"}, {name: ts, type: timestamp}, {name: sku, type: string}, {name: day, type: date}]
    partition_by: [day]
    on_error: dlq
    dlq: {location: %s/dlq}
`, cluster.ListenAddrs()[0], dir, dir))
	runCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := connector.New(runCtx, cfg, connector.Options{UntilCaughtUp: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(runCtx); err != nil {
		t.Fatal(err)
	}
	var rows, wrongDay int
	if err := duck(t, dir+"/orders").QueryRow(`SELECT count(*), count(*) FILTER (WHERE day IS DISTINCT FROM CAST(ts AS DATE)) FROM events`).Scan(&rows, &wrongDay); err != nil {
		t.Fatal(err)
	}
	if rows != 40-len(bad) || wrongDay != 0 {
		t.Fatalf("%d rows (want %d), %d with a day that is not the date of ts", rows, 40-len(bad), wrongDay)
	}
	store2, snap := loadTable(t, dir+"/dlq")
	dlq := duckNamed(t, store2, snap, "dlq")
	got, err := dlq.Query(`SELECT "offset", "partition", stage, "error" FROM dlq`)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	n := 0
	for got.Next() {
		var off, part int
		var stage, msg string
		if err := got.Scan(&off, &part, &stage, &msg); err != nil {
			t.Fatal(err)
		}
		i := off*2 + part
		if stage != "constraint" || !strings.Contains(msg, bad[i]) {
			t.Errorf("dead letter %d: stage %s, error %q; want stage constraint naming %q", i, stage, msg, bad[i])
		}
		n++
	}
	if n != len(bad) {
		t.Fatalf("%d dead letters, want %d", n, len(bad))
	}
}
