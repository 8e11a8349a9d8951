package connector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// dlqTarget receives the messages a table could not ingest. write must return only
// once the entries are durable: the table commit that moves past their offsets comes
// after it.
type dlqTarget interface {
	write(ctx context.Context, entries []dlqEntry) error
}

// DLQ header names added to a dead letter written to Kafka.
const (
	HeaderError     = "sluice.error"
	HeaderStage     = "sluice.stage"
	HeaderTable     = "sluice.table"
	HeaderTopic     = "sluice.topic"
	HeaderPartition = "sluice.partition"
	HeaderOffset    = "sluice.offset"
)

func (c *Connector) openDLQ(ctx context.Context, cfg *TableConfig) (dlqTarget, error) {
	if cfg.DLQ.Topic != "" {
		p, err := c.dlqProducer()
		if err != nil {
			return nil, err
		}
		return &kafkaDLQ{producer: p, topic: cfg.DLQ.Topic, headers: cfg.DLQ.Headers, connector: c.cfg.Name}, nil
	}
	return c.openTableDLQ(ctx, cfg)
}

// dlqProducer is the connector's one producer for dead letters, made on first use.
func (c *Connector) dlqProducer() (*kafka.Producer, error) {
	c.producerOnce.Do(func() {
		cm := kafka.ConfigMap{
			"bootstrap.servers":   c.cfg.Kafka.BootstrapServers,
			"client.id":           "sluice-" + c.cfg.Name + "-dlq",
			"enable.idempotence":  true,
			"acks":                "all",
			"enable.metrics.push": false,
			"linger.ms":           5,
		}
		for k, v := range c.cfg.Kafka.Properties {
			if isClientProperty(k) {
				cm[k] = v
			}
		}
		c.producer, c.producerErr = kafka.NewProducer(&cm)
		if c.producerErr == nil {
			go c.producerEvents(c.producer.Events())
		}
	})
	return c.producer, c.producerErr
}

// producerEvents drains the producer's event channel, where librdkafka reports errors
// (delivery reports go to each write's own channel). Left undrained it fills, and the
// producer's event loop then blocks, stalling dead-letter writes and the commits
// behind them. It ends when the producer is closed.
func (c *Connector) producerEvents(events chan kafka.Event) {
	for ev := range events {
		switch e := ev.(type) {
		case kafka.Error:
			c.log.Warn("dead-letter producer", "error", e.Error(), "code", e.Code().String())
		case *kafka.Message: // a late delivery report whose write gave up waiting
			if e.TopicPartition.Error != nil {
				c.log.Warn("dead-letter delivery failed after its write gave up", "error", e.TopicPartition.Error)
			}
		}
	}
}

// isClientProperty keeps the librdkafka properties a producer shares with the consumer
// (connection and security), not consumer-only ones.
func isClientProperty(k string) bool {
	for _, prefix := range []string{"security.", "sasl.", "ssl.", "client.dns", "socket.", "broker.", "api.version", "reconnect.", "metadata.", "connections.max"} {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

// kafkaDLQ produces dead letters to a topic: the original key, value, headers and
// timestamp, plus sluice.* headers saying why. Delivery is at least once: a crash after
// the produce and before the table commit writes a dead letter again on restart.
type kafkaDLQ struct {
	producer  *kafka.Producer
	topic     string
	headers   DLQHeaders
	connector string
}

// Kafka Connect's dead-letter context headers (KIP-298).
const (
	connectTopic        = "__connect.errors.topic"
	connectPartition    = "__connect.errors.partition"
	connectOffset       = "__connect.errors.offset"
	connectConnector    = "__connect.errors.connector.name"
	connectTask         = "__connect.errors.task.id"
	connectStage        = "__connect.errors.stage"
	connectClass        = "__connect.errors.class.name"
	connectExceptionCls = "__connect.errors.exception.class.name"
	connectMessage      = "__connect.errors.exception.message"
)

// connectStages maps Sluice's stages to Connect's: decoding and schema lookup are its
// converter's work, routing a transformation's, constraints the sink's put.
var connectStages = map[string]string{"decode": "VALUE_CONVERTER", "schema": "VALUE_CONVERTER", "route": "TRANSFORMATION", "constraint": "TASK_PUT"}

// connectHeaders are the Connect headers of a dead letter.
func (d *kafkaDLQ) connectHeaders(e dlqEntry) []kafka.Header {
	stage := connectStages[e.stage]
	if stage == "" {
		stage = "TASK_PUT"
	}
	return []kafka.Header{
		{Key: connectTopic, Value: []byte(e.topic)},
		{Key: connectPartition, Value: []byte(strconv.Itoa(int(e.partition)))},
		{Key: connectOffset, Value: []byte(strconv.FormatInt(e.offset, 10))},
		{Key: connectConnector, Value: []byte(d.connector)},
		{Key: connectTask, Value: []byte("0")},
		{Key: connectStage, Value: []byte(stage)},
		{Key: connectClass, Value: []byte("sluice." + e.table + "." + e.stage)},
		{Key: connectExceptionCls, Value: []byte(e.errClass)},
		{Key: connectMessage, Value: []byte(e.err)},
	}
}

func (d *kafkaDLQ) write(ctx context.Context, entries []dlqEntry) error {
	delivery := make(chan kafka.Event, len(entries))
	for _, e := range entries {
		headers := append([]kafka.Header{}, e.headers...)
		if d.headers != DLQHeadersConnect {
			headers = append(headers,
				kafka.Header{Key: HeaderError, Value: []byte(e.err)},
				kafka.Header{Key: HeaderStage, Value: []byte(e.stage)},
				kafka.Header{Key: HeaderTable, Value: []byte(e.table)},
				kafka.Header{Key: HeaderTopic, Value: []byte(e.topic)},
				kafka.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(e.partition)))},
				kafka.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(e.offset, 10))},
			)
		}
		if d.headers == DLQHeadersConnect || d.headers == DLQHeadersBoth {
			headers = append(headers, d.connectHeaders(e)...)
		}
		msg := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &d.topic, Partition: kafka.PartitionAny},
			Key: e.key, Value: e.value, Headers: headers}
		if e.hasTS {
			msg.Timestamp = e.timestamp
		}
		if err := d.producer.Produce(msg, delivery); err != nil {
			return fmt.Errorf("dead-letter topic %s: %w", d.topic, err)
		}
	}
	for range entries {
		select {
		case ev := <-delivery:
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				return fmt.Errorf("dead-letter topic %s: %w", d.topic, m.TopicPartition.Error)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// DLQTableSchema is the schema of a dead-letter table.
func DLQTableSchema() *table.StructType {
	return &table.StructType{Fields: []*table.StructField{
		{Name: "failed_at", Type: table.Timestamp, Nullable: false},
		{Name: "table", Type: table.String, Nullable: false},
		{Name: "stage", Type: table.String, Nullable: false},
		{Name: "error", Type: table.String, Nullable: false},
		{Name: "topic", Type: table.String, Nullable: false},
		{Name: "partition", Type: table.Integer, Nullable: false},
		{Name: "offset", Type: table.Long, Nullable: false},
		{Name: "timestamp", Type: table.Timestamp, Nullable: true},
		{Name: "key", Type: table.Binary, Nullable: true},
		{Name: "value", Type: table.Binary, Nullable: true},
		{Name: "headers", Type: &table.MapType{KeyType: table.String, ValueType: table.Binary, ValueContainsNull: true}, Nullable: true},
	}}
}

// tableDLQ writes dead letters to a Delta table, exactly once: each commit carries a
// txn per source partition (appId "<connector>:<table>:dlq:<topic>:<partition>",
// version = the last dead letter's offset), and letters at or below it are not
// written again after a restart.
type tableDLQ struct {
	conn   *Connector
	source string
	tbl    *table.Table
	mu     sync.Mutex // one write at a time
	book   *txnBook
}

func (c *Connector) openTableDLQ(ctx context.Context, cfg *TableConfig) (*tableDLQ, error) {
	store, err := c.openStore(ctx, cfg.DLQ.Location)
	if err != nil {
		return nil, err
	}
	d := &tableDLQ{conn: c, source: cfg.Name, tbl: table.New(store, table.EngineInfo("sluice/"+Version), table.ForAppending())}
	d.book = newTxnBook(d.appID)
	snap, err := d.tbl.Snapshot(ctx)
	switch {
	case errors.Is(err, table.ErrNotATable):
		if _, err := d.tbl.Create(ctx, table.CreateOptions{Name: cfg.Name + "_dlq", Schema: DLQTableSchema()}); err != nil && !errors.Is(err, table.ErrTableExists) {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if snap.Schema().SchemaString() != DLQTableSchema().SchemaString() {
			return nil, fmt.Errorf("%s exists and is not a dead-letter table", store.URI())
		}
	}
	return d, nil
}

func (d *tableDLQ) appID(p tp) string {
	return fmt.Sprintf("%s:%s:dlq:%s:%d", d.conn.cfg.Name, d.source, p.topic, p.partition)
}

func (d *tableDLQ) write(ctx context.Context, entries []dlqEntry) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for attempt := 0; ; attempt++ {
		err := d.writeOnce(ctx, entries)
		var conflict *table.TxnConflictError
		if errors.As(err, &conflict) && attempt < 3 {
			d.book.forget(nil) // another writer moved a txn: re-read them
			continue
		}
		return err
	}
}

func (d *tableDLQ) writeOnce(ctx context.Context, entries []dlqEntry) error {
	prev := map[tp]int64{}
	var unknown []tp
	for _, e := range entries {
		p := tp{e.topic, e.partition}
		if v, ok := d.book.get(p); ok {
			prev[p] = v
		} else if !slices.Contains(unknown, p) {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 { // read only for partitions not seen since the last conflict
		snap, err := d.tbl.Snapshot(ctx)
		if err != nil {
			return err
		}
		maps.Copy(prev, d.book.observe(snap, unknown))
	}
	cfg := writer.DefaultConfig()
	buf, err := writer.NewBuffer(writer.Spec{Schema: DLQTableSchema()}, cfg)
	if err != nil {
		return err
	}
	last := map[tp]int64{}
	for _, e := range entries {
		p := tp{e.topic, e.partition}
		if e.offset <= prev[p] {
			continue // written before a restart
		}
		buf.SetInt(0, e.failedAt.UnixMicro())
		buf.SetBytes(1, []byte(e.table))
		buf.SetBytes(2, []byte(e.stage))
		buf.SetBytes(3, []byte(e.err))
		buf.SetBytes(4, []byte(e.topic))
		buf.SetInt(5, int64(e.partition))
		buf.SetInt(6, e.offset)
		if e.hasTS {
			buf.SetInt(7, e.timestamp.UnixMicro())
		}
		if e.key != nil {
			buf.SetBytes(8, e.key)
		}
		if e.value != nil {
			buf.SetBytes(9, e.value)
		}
		n := buf.Nested(10)
		n.BeginMap()
		for _, h := range e.headers {
			n.Bytes([]byte(h.Key))
			if h.Value == nil {
				n.Null()
			} else {
				n.Bytes(h.Value)
			}
		}
		n.EndMap()
		if err := buf.EndRow(); err != nil {
			return err
		}
		last[p] = max(last[p], e.offset)
	}
	if len(last) == 0 {
		return nil
	}
	var adds []table.Add
	once := func(op func() error) error { return op() } // the caller retries the whole write
	for _, p := range buf.Take() {
		files, err := writeFiles(ctx, d.tbl.Store(), p, cfg.Compression, nil, once)
		if err != nil {
			return err
		}
		adds = append(adds, files...)
	}
	tx := &table.Transaction{Adds: adds, Operation: "WRITE", Parameters: map[string]string{"mode": "Append", "dead_letters_of": d.source}}
	for p, v := range last {
		tx.AppTxns = append(tx.AppTxns, table.AppTxn{AppID: d.appID(p), Prev: prev[p], Version: v})
	}
	res, err := d.tbl.Commit(ctx, tx)
	if err != nil {
		return err
	}
	d.book.committed(res.Version, last)
	return nil
}
