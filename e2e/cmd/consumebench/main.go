// Command consumebench is the limit Sluice's ingestion rate is compared with:
// librdkafka (through confluent-kafka-go, as Sluice uses it) consuming a topic and
// discarding every message, with Sluice's fetch settings. With -group it joins a
// consumer group with Sluice's assignment strategy; without, it assigns every
// partition itself. It prints one JSON line: messages, bytes, milliseconds to the
// first message and to the last.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

type result struct {
	Messages int64 `json:"messages"`
	Bytes    int64 `json:"bytes"`
	FirstMS  int64 `json:"first_ms"`
	TotalMS  int64 `json:"total_ms"`
}

func main() {
	brokers := flag.String("brokers", "", "bootstrap servers")
	topic := flag.String("topic", "", "topic")
	n := flag.Int64("n", 0, "messages to consume")
	group := flag.Bool("group", false, "join a consumer group (cooperative-sticky) instead of assigning partitions")
	flag.Parse()
	start := time.Now()
	cm := kafka.ConfigMap{
		"bootstrap.servers": *brokers, "group.id": fmt.Sprintf("consumebench-%d", time.Now().UnixNano()),
		"enable.auto.commit": false, "auto.offset.reset": "earliest",
		// Sluice's fetch settings (connector.consumerConfig).
		"fetch.queue.backoff.ms": 10, "max.partition.fetch.bytes": 10 << 20, "queued.max.messages.kbytes": 32 << 10,
		"fetch.max.bytes": 16 << 20, "queued.min.messages": 10_000, // at the default memory_budget (512MiB)
		"enable.metrics.push": false, "partition.assignment.strategy": "cooperative-sticky",
	}
	c, err := kafka.NewConsumer(&cm)
	if err != nil {
		fail(err)
	}
	defer c.Close()
	if *group {
		err = c.Subscribe(*topic, nil)
	} else {
		var md *kafka.Metadata
		if md, err = c.GetMetadata(topic, false, 10000); err == nil {
			var parts []kafka.TopicPartition
			for _, p := range md.Topics[*topic].Partitions {
				parts = append(parts, kafka.TopicPartition{Topic: topic, Partition: p.ID, Offset: kafka.OffsetBeginning})
			}
			err = c.Assign(parts)
		}
	}
	if err != nil {
		fail(err)
	}
	var r result
	for r.Messages < *n {
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if r.Messages == 0 {
				r.FirstMS = time.Since(start).Milliseconds()
			}
			r.Messages++
			r.Bytes += int64(len(e.Value))
		case kafka.Error:
			if e.IsFatal() {
				fail(e)
			}
		}
	}
	r.TotalMS = time.Since(start).Milliseconds()
	json.NewEncoder(os.Stdout).Encode(r)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "consumebench:", err)
	os.Exit(1)
}
