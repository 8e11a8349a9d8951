package connector

import (
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// consumer is what the runtime needs of a Kafka consumer-group client. The events it
// returns from Poll are confluent-kafka-go's (*kafka.Message, kafka.AssignedPartitions,
// kafka.RevokedPartitions, kafka.PartitionEOF, kafka.Error), and the rebalance callback
// runs inside Poll, on the polling goroutine, as librdkafka runs it.
//
// kafkaConsumer implements it over librdkafka; the simulation tests implement it over an
// in-memory log, so that they can drive assignments, revocations and seeks in an exact
// order without a broker.
type consumer interface {
	Poll(timeoutMs int) kafka.Event
	Subscribe(topics []string, onRebalance func(kafka.Event) error) error
	// Cooperative reports whether the group uses the incremental (cooperative) protocol.
	Cooperative() bool
	// AssignmentLost reports, inside a revocation, whether the session timed out.
	AssignmentLost() bool
	Assign(parts []kafka.TopicPartition) error
	Unassign(parts []kafka.TopicPartition) error
	Seek(p kafka.TopicPartition) error
	Pause(parts []kafka.TopicPartition) error
	Resume(parts []kafka.TopicPartition) error
	// StoreOffsets records offsets for the group, to be committed in the background (for
	// lag monitoring only); it never blocks on the broker, so a rebalance in progress
	// cannot stall the poll loop.
	StoreOffsets(offsets []kafka.TopicPartition) error
	// Watermarks returns the low and high watermarks of a partition: from the broker,
	// or from the last fetch when cached.
	Watermarks(topic string, partition int32, cached bool) (low, high int64, err error)
	// Topics lists every topic of the cluster with its partitions.
	Topics() (map[string][]int32, error)
	// Ping checks that the cluster answers within timeoutMs.
	Ping(timeoutMs int) error
	Close() error
}

// kafkaConsumer is the consumer over librdkafka.
type kafkaConsumer struct {
	consumer *kafka.Consumer
}

func (k *kafkaConsumer) Poll(timeoutMs int) kafka.Event { return k.consumer.Poll(timeoutMs) }

func (k *kafkaConsumer) Subscribe(topics []string, onRebalance func(kafka.Event) error) error {
	return k.consumer.SubscribeTopics(topics, func(_ *kafka.Consumer, ev kafka.Event) error { return onRebalance(ev) })
}

func (k *kafkaConsumer) Cooperative() bool    { return k.consumer.GetRebalanceProtocol() == "COOPERATIVE" }
func (k *kafkaConsumer) AssignmentLost() bool { return k.consumer.AssignmentLost() }

func (k *kafkaConsumer) Assign(parts []kafka.TopicPartition) error {
	if k.Cooperative() {
		return k.consumer.IncrementalAssign(parts)
	}
	return k.consumer.Assign(parts)
}

func (k *kafkaConsumer) Unassign(parts []kafka.TopicPartition) error {
	if k.Cooperative() {
		return k.consumer.IncrementalUnassign(parts)
	}
	return k.consumer.Unassign()
}

func (k *kafkaConsumer) Seek(p kafka.TopicPartition) error         { return k.consumer.Seek(p, 0) }
func (k *kafkaConsumer) Pause(parts []kafka.TopicPartition) error  { return k.consumer.Pause(parts) }
func (k *kafkaConsumer) Resume(parts []kafka.TopicPartition) error { return k.consumer.Resume(parts) }

func (k *kafkaConsumer) StoreOffsets(offsets []kafka.TopicPartition) error {
	_, err := k.consumer.StoreOffsets(offsets)
	return err
}

func (k *kafkaConsumer) Watermarks(topic string, partition int32, cached bool) (int64, int64, error) {
	if cached {
		return k.consumer.GetWatermarkOffsets(topic, partition)
	}
	return k.consumer.QueryWatermarkOffsets(topic, partition, 10_000)
}

func (k *kafkaConsumer) Topics() (map[string][]int32, error) {
	md, err := k.consumer.GetMetadata(nil, true, 10_000)
	if err != nil {
		return nil, fmt.Errorf("kafka: metadata: %w", err)
	}
	out := make(map[string][]int32, len(md.Topics))
	for name, tm := range md.Topics {
		if tm.Error.Code() != kafka.ErrNoError {
			continue
		}
		for _, pm := range tm.Partitions {
			out[name] = append(out[name], pm.ID)
		}
	}
	return out, nil
}

func (k *kafkaConsumer) Ping(timeoutMs int) error {
	_, err := k.consumer.GetMetadata(nil, false, timeoutMs)
	return err
}

// Close leaves the group, then closes. librdkafka can hang for good in Close when the
// group hands the member an incremental assignment while it closes (librdkafka issues
// 4527 and 4884; seen here when another instance left during our final commit, when
// nothing polls): so the member first unsubscribes and polls, serving its rebalance
// callbacks, until nothing is assigned (for at most closeDrain), and closes after. The
// messages polled meanwhile are dropped: their offsets are never committed, and the
// next owner reads them.
func (k *kafkaConsumer) Close() error {
	if err := k.consumer.Unsubscribe(); err == nil {
		for deadline := time.Now().Add(closeDrain); time.Now().Before(deadline); {
			if parts, err := k.consumer.Assignment(); err != nil || len(parts) == 0 {
				break
			}
			k.consumer.Poll(50)
		}
	}
	return k.consumer.Close()
}

// closeDrain bounds how long Close waits for the group to take the assignment back.
const closeDrain = 10 * time.Second
