package connector

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// simBroker is the simulation's Kafka log: partitions of one topic, with offsets that
// skip now and then (compacted and transactional topics do).
type simBroker struct {
	mu    sync.Mutex
	topic string
	logs  [][]simMsg // per partition, in offset order
	high  []int64    // next offset per partition
}

type simMsg struct {
	offset int64
	key    []byte
	value  []byte
}

func newSimBroker(topic string, partitions int) *simBroker {
	return &simBroker{topic: topic, logs: make([][]simMsg, partitions), high: make([]int64, partitions)}
}

// produce appends a message at the partition's high watermark plus gap.
func (b *simBroker) produce(partition int, gap int64, value func(offset int64) []byte) int64 {
	return b.produceKeyed(partition, gap, func(off int64) ([]byte, []byte) { return nil, value(off) })
}

// produceKeyed appends a keyed message (a nil value is a tombstone) at the partition's
// high watermark plus gap.
func (b *simBroker) produceKeyed(partition int, gap int64, msg func(offset int64) (key, value []byte)) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	off := b.high[partition] + gap
	k, v := msg(off)
	b.logs[partition] = append(b.logs[partition], simMsg{offset: off, key: k, value: v})
	b.high[partition] = off + 1
	return off
}

// messages returns the messages of a partition up to and including last.
func (b *simBroker) messages(partition int32, last int64) []simMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []simMsg
	for _, m := range b.logs[partition] {
		if m.offset > last {
			break
		}
		out = append(out, m)
	}
	return out
}

// next returns the first message at or after offset.
func (b *simBroker) next(partition int32, offset int64) (simMsg, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	log := b.logs[partition]
	i, _ := slices.BinarySearchFunc(log, offset, func(m simMsg, o int64) int { return int(m.offset - o) })
	if i < len(log) {
		return log[i], true
	}
	return simMsg{}, false
}

func (b *simBroker) watermarks(partition int32) (int64, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return 0, b.high[partition]
}

// offsets returns the offsets of a partition up to and including last.
func (b *simBroker) offsets(partition int32, last int64) []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []int64
	for _, m := range b.logs[partition] {
		if m.offset > last {
			break
		}
		out = append(out, m.offset)
	}
	return out
}

// simCmd is one thing the scheduler has the consumer's Poll do.
type simCmd struct {
	deliver bool        // return the next message of the assignment
	event   kafka.Event // a rebalance event: run the callback inside Poll
	lost    bool        // with a revocation: the assignment was lost
	stop    func()      // run inside Poll, then idle (cancels the run)
}

// simConsumer is the consumer interface over a simBroker, driven step by step: Poll
// parks until the scheduler sends a command, and the scheduler knows a command is
// fully handled when the loop comes back to Poll.
type simConsumer struct {
	b     *simBroker
	ready chan struct{}
	cmds  chan simCmd

	mu        sync.Mutex // the fields below: the scheduler reads them
	onRebal   func(kafka.Event) error
	pos       map[int32]int64 // assigned partitions and their fetch positions
	paused    map[int32]bool
	lost      bool
	rr        int
	closed    bool
	committed map[int32]int64
}

func newSimConsumer(b *simBroker) *simConsumer {
	return &simConsumer{b: b, ready: make(chan struct{}), cmds: make(chan simCmd), pos: map[int32]int64{},
		paused: map[int32]bool{}, committed: map[int32]int64{}}
}

func (s *simConsumer) Poll(int) kafka.Event {
	s.ready <- struct{}{}
	cmd := <-s.cmds
	switch {
	case cmd.stop != nil:
		cmd.stop()
		return nil
	case cmd.event != nil:
		s.mu.Lock()
		s.lost = cmd.lost
		cb := s.onRebal
		s.mu.Unlock()
		if err := cb(cmd.event); err != nil {
			return kafka.NewError(kafka.ErrFail, err.Error(), false)
		}
		return nil
	case cmd.deliver:
		return s.deliver()
	}
	return nil
}

// deliver returns the next message, round robin over the unpaused assigned partitions.
func (s *simConsumer) deliver() kafka.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := make([]int32, 0, len(s.pos))
	for p := range s.pos {
		if !s.paused[p] {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	for i := range parts {
		p := parts[(s.rr+i)%len(parts)]
		m, ok := s.b.next(p, s.pos[p])
		if !ok {
			continue
		}
		s.rr = (s.rr + i + 1) % len(parts)
		s.pos[p] = m.offset + 1
		topic := s.b.topic
		return &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: p, Offset: kafka.Offset(m.offset)},
			Key: m.key, Value: m.value, TimestampType: kafka.TimestampNotAvailable}
	}
	return nil
}

func (s *simConsumer) Subscribe(topics []string, cb func(kafka.Event) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRebal = cb
	return nil
}

func (s *simConsumer) Cooperative() bool { return true }

func (s *simConsumer) AssignmentLost() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lost
}

func (s *simConsumer) Assign(parts []kafka.TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		s.pos[p.Partition] = s.position(p)
	}
	return nil
}

// position is the fetch position an Assign or Seek names: an offset, or the start or
// end of the partition. Other logical offsets are not simulated.
func (s *simConsumer) position(p kafka.TopicPartition) int64 {
	low, high := s.b.watermarks(p.Partition)
	switch {
	case p.Offset == kafka.OffsetBeginning:
		return low
	case p.Offset == kafka.OffsetEnd:
		return high
	case p.Offset < 0:
		panic(fmt.Sprintf("sim consumer: logical offset %v is not simulated", p.Offset))
	}
	return int64(p.Offset)
}

func (s *simConsumer) Unassign(parts []kafka.TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		delete(s.pos, p.Partition)
		delete(s.paused, p.Partition)
	}
	return nil
}

func (s *simConsumer) Seek(p kafka.TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pos[p.Partition]; !ok {
		return errors.New("seek: partition not assigned")
	}
	s.pos[p.Partition] = s.position(p)
	return nil
}

func (s *simConsumer) Pause(parts []kafka.TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		s.paused[p.Partition] = true
	}
	return nil
}

func (s *simConsumer) Resume(parts []kafka.TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		delete(s.paused, p.Partition)
	}
	return nil
}

func (s *simConsumer) StoreOffsets(offsets []kafka.TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range offsets {
		s.committed[o.Partition] = int64(o.Offset)
	}
	return nil
}

func (s *simConsumer) Watermarks(topic string, partition int32, cached bool) (int64, int64, error) {
	if topic != s.b.topic || int(partition) >= len(s.b.logs) {
		return 0, 0, fmt.Errorf("unknown partition %s[%d]", topic, partition)
	}
	low, high := s.b.watermarks(partition)
	return low, high, nil
}

func (s *simConsumer) Topics() (map[string][]int32, error) {
	var parts []int32
	for i := range s.b.logs {
		parts = append(parts, int32(i))
	}
	return map[string][]int32{s.b.topic: parts}, nil
}

func (s *simConsumer) Ping(int) error { return nil }

func (s *simConsumer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *simConsumer) assigned() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int32, 0, len(s.pos))
	for p := range s.pos {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (s *simConsumer) isPaused(p int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused[p]
}
