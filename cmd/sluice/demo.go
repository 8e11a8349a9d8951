package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"log/slog"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicelake/sluice/connector"
)

const demoMarker = ".sluice-demo"

func demoCmd() *cobra.Command {
	var dir string
	var events int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Ingest sample events through a built-in Kafka broker into a local table, then query it",
		Long: `Demo starts an in-process Kafka broker (kfake) with a 3-partition topic "events",
produces sample JSON events, runs the connector until it has caught up, and queries the
resulting Delta table with DuckDB. The table stays in DIR/events for you to explore.`,
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

	fmt.Println("▸ starting an in-process Kafka broker (kfake) with topic \"events\" (3 partitions)")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "events"))
	if err != nil {
		return fmt.Errorf("demo: start broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	fmt.Printf("▸ producing %d JSON events\n", events)
	if err := produceDemoEvents(ctx, brokers, events); err != nil {
		return err
	}

	cfgText := fmt.Sprintf(`name: demo
kafka:
  bootstrap_servers: %s
  group_id: sluice-demo
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
`, brokers[0], location)
	cfg, err := connector.ParseConfig("demo.yaml", []byte(cfgText))
	if err != nil {
		return err
	}
	fmt.Printf("▸ ingesting into the Delta table %s (exactly once, one txn per Kafka partition)\n", location)
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
	fmt.Println("▸ DuckDB over the table's latest snapshot:")
	fmt.Println("  " + q)
	fmt.Println()
	if err := runQuery(ctx, os.Stdout, location, "events", q); err != nil {
		return err
	}
	fmt.Printf(`
Explore it further:
  sluice table inspect %[1]s
  sluice query %[1]s "SELECT * FROM events ORDER BY ts DESC LIMIT 5"
`, location)
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
