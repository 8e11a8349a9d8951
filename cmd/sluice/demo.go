package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"log/slog"

	"github.com/hamba/avro/v2"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/connector"
	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/schema/registrytest"
)

const demoMarker = ".sluice-demo"

func demoCmd() *cobra.Command {
	var dir string
	var events int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Ingest sample events through a built-in Kafka broker into local tables, then query them",
		Long: `Demo starts an in-process Kafka broker (kfake) and schema registry, produces JSON
events to "events" and Avro orders to "orders" (two versions of their schema), runs the
connector until it has caught up, and queries the resulting Delta tables with DuckDB. The
tables stay in DIR/events and DIR/orders for you to explore.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log, err := logger(cmd)
			if err != nil {
				return err
			}
			return runDemo(cmd.Context(), dir, events, log)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "sluice-demo", "directory for the demo table")
	cmd.Flags().IntVar(&events, "events", 5000, "number of sample events to produce")
	return cmd
}

func runDemo(ctx context.Context, dir string, events int, log *slog.Logger) error {
	if err := prepareDemoDir(dir); err != nil {
		return err
	}
	location := filepath.Join(dir, "events")
	ordersLocation := filepath.Join(dir, "orders")
	orders := max(events/5, 10)

	fmt.Println("▸ starting an in-process Kafka broker (kfake) and schema registry")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "events"), kfake.SeedTopics(2, "orders"))
	if err != nil {
		return fmt.Errorf("demo: start broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	registry := registrytest.NewServer()
	defer registry.Close()

	fmt.Printf("▸ producing %d JSON events to \"events\" and %d Avro orders to \"orders\" (half with a v2 schema that adds a field)\n", events, orders)
	if err := produceDemoEvents(ctx, brokers, events); err != nil {
		return err
	}
	if err := produceDemoOrders(ctx, brokers, registry, orders); err != nil {
		return err
	}

	cfgText := fmt.Sprintf(`name: demo
kafka:
  bootstrap_servers: %s
  group_id: sluice-demo
schema_registry:
  url: %s
tables:
  - name: events
    topics: [events]
    location: %q
    format: json
    schema:
      - {name: id, type: long, nullable: false}
      - {name: user, type: string}
      - {name: amount, type: double}
      - {name: ok, type: boolean}
      - {name: ts, type: timestamp}
    partition_by: [day]
    columns:
      day: "date(ts)"
    kafka_columns: true
    flush:
      max_rows: 2000
      max_latency: 5s
  - name: orders
    topics: [orders]
    location: %q
    format: avro          # no schema: the table is created from the registry schema
    kafka_columns: true
`, brokers[0], registry.URL(), location, ordersLocation)
	cfg, err := connector.ParseConfig("demo.yaml", []byte(cfgText))
	if err != nil {
		return err
	}
	fmt.Printf("▸ ingesting into the Delta tables %s and %s (exactly once, one txn per Kafka partition)\n", location, ordersLocation)
	// Keep the Go heap near what the memory budget allows, so garbage does not pile up
	// past it. It is process-wide, so the process sets it, not the connector.
	debug.SetMemoryLimit(cfg.MemoryLimit())
	c, err := connector.New(ctx, cfg, connector.Options{UntilCaughtUp: true, Logger: log})
	if err != nil {
		return err
	}
	sum, err := c.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("▸ committed %d rows in %d commits (%d files, %s) in %s\n\n",
		sum.Rows, sum.Commits, sum.Files, humanBytes(sum.Bytes), sum.Duration.Round(time.Millisecond))

	q := `SELECT day, count(*) AS events, count(DISTINCT "user") AS users, round(sum(amount), 2) AS amount,
       count(DISTINCT (_kafka_partition, _kafka_offset)) AS kafka_messages
FROM events GROUP BY day ORDER BY day`
	fmt.Println("▸ DuckDB over the tables' latest snapshots:")
	fmt.Println("  " + q)
	fmt.Println()
	if err := runQuery(ctx, os.Stdout, location, "events", q); err != nil {
		return err
	}
	q = `SELECT count(*) AS orders, count(coupon) AS with_coupon, sum(amount) AS revenue,
       sum(len(items)) AS items FROM orders`
	fmt.Println()
	fmt.Println("  " + q)
	fmt.Println()
	if err := runQuery(ctx, os.Stdout, ordersLocation, "orders", q); err != nil {
		return err
	}
	fmt.Printf(`
Explore them further:
  sluice table inspect %[1]s
  sluice query %[1]s "SELECT * FROM events ORDER BY ts DESC LIMIT 5"
  sluice query %[2]s "SELECT id, customer, amount, coupon, items FROM orders LIMIT 5"
`, location, ordersLocation)
	return nil
}

const demoOrderV1 = `{"type":"record","name":"Order","namespace":"demo","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":"string"},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}}]}`

// v2 adds a nullable field: the connector evolves the table.
const demoOrderV2 = `{"type":"record","name":"Order","namespace":"demo","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":"string"},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
   {"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},
 {"name":"coupon","type":["null","string"],"default":null}]}`

func produceDemoOrders(ctx context.Context, brokers []string, registry *registrytest.Server, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("orders"))
	if err != nil {
		return fmt.Errorf("demo: producer: %w", err)
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(7, 42))
	var records []*kgo.Record
	for version, text := range []string{demoOrderV1, demoOrderV2} {
		id, err := registry.Register("orders-value", "AVRO", text)
		if err != nil {
			return fmt.Errorf("demo: register schema: %w", err)
		}
		s, err := avro.Parse(text)
		if err != nil {
			return err
		}
		for i := version * n / 2; i < (version+1)*n/2; i++ {
			items := make([]any, 1+rng.IntN(3))
			for j := range items {
				items[j] = map[string]any{"sku": fmt.Sprintf("sku-%03d", rng.IntN(50)), "qty": int32(1 + rng.IntN(4))}
			}
			order := map[string]any{"id": int64(i), "customer": fmt.Sprintf("c%04d", rng.IntN(500)),
				"amount": big.NewRat(int64(500+rng.IntN(50_000)), 100), "ts": time.Now().UTC(), "items": items}
			if version == 1 && rng.IntN(3) == 0 {
				order["coupon"] = "WELCOME10"
			}
			payload, err := avro.Marshal(s, order)
			if err != nil {
				return err
			}
			records = append(records, &kgo.Record{Key: fmt.Appendf(nil, "%d", i), Value: schema.AppendWire(nil, int32(id), payload)})
		}
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("demo: produce: %w", err)
	}
	return nil
}

// prepareDemoDir empties the demo directory of an earlier demo (each demo's broker
// starts from offset 0, so an old table's txn versions would skip the new events),
// and refuses to touch a directory the demo did not create.
func prepareDemoDir(dir string) error {
	_, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return fmt.Errorf("demo: %s exists and was not made by sluice demo; choose another --dir", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("created by sluice demo; safe to delete\n"), 0o644)
}

func produceDemoEvents(ctx context.Context, brokers []string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("events"))
	if err != nil {
		return fmt.Errorf("demo: producer: %w", err)
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(42, 7))
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	users := []string{"ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "radia"}
	records := make([]*kgo.Record, 0, n)
	for i := range n {
		ts := start.Add(time.Duration(rng.Int64N(int64(72 * time.Hour))))
		user := users[rng.IntN(len(users))]
		v := fmt.Sprintf(`{"id":%d,"user":%q,"amount":%.2f,"ok":%t,"ts":%q}`,
			i, user, rng.Float64()*100, rng.IntN(10) > 0, ts.Format(time.RFC3339Nano))
		records = append(records, &kgo.Record{Key: []byte(user), Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		return fmt.Errorf("demo: produce: %w", err)
	}
	return nil
}
