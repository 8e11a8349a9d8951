package connector

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The upsert simulation runs the schedules of the simulation (sim_test.go) on an
// upsert table: messages change the rows of a few keys per partition (inserts,
// updates, deletes by tombstone or Debezium delete event), and after every step the
// table's live rows (deletion vectors applied) must be exactly the oracle's: per
// key, the row of its last change up to its partition's txn, unless that change
// deletes it (or a foreign DELETE removed that row). Crashes, lost puts, rebalances,
// zombies, foreign optimizes and rewrites run as in the append simulation. One seed
// in two writes Debezium envelopes (wrapped, plain and flattened), the rest plain
// rows with tombstones; one in four learns its key column from the message keys; one
// in three upserts copy-on-write.
//
//	go test ./connector -run TestSimulationUpsert -sim.seeds 2000
//	go test ./connector -run TestSimulationUpsert -sim.seed 1234 -v
func TestSimulationUpsert(t *testing.T) {
	if *simSeed != 0 {
		runSim(t, newUpsertSim(t, *simSeed), *simSteps, true)
		return
	}
	start := time.Now()
	for seed := *simFirst; seed < *simFirst+uint64(*simSeeds); seed++ {
		if !runSim(t, newUpsertSim(t, seed), *simSteps, false) {
			return
		}
	}
	t.Logf("%d seeds of %d steps in %s", *simSeeds, *simSteps, time.Since(start).Round(time.Millisecond))
}

const simUpsertYAML = `
name: sim
kafka: {bootstrap_servers: "sim:9092"}
shutdown_timeout: 200ms
memory_budget: 1GiB
decoders: 2
tables:
  - name: events
    topics: [events]
    location: /sim/events
    mode: upsert
    key: [id]
    schema: [{name: id, type: long}]
    json: {unknown_fields: evolve}
    evolution: add_columns
    kafka_columns: [partition, offset]
    flush: {max_rows: 100000000, max_latency: 24h}
`

// simKeys is how many keys each partition's changes touch: few, so that a batch
// often changes a key more than once.
const simKeys = 5

func newUpsertSim(t testing.TB, seed uint64) *sim {
	cfg := simUpsertYAML
	cdc := "none"
	if seed%2 == 1 {
		cdc = "debezium"
		cfg = strings.Replace(cfg, "mode: upsert\n", "mode: upsert\n    envelope: debezium\n", 1)
	}
	if seed%4 == 3 { // the key columns learnt from the message keys
		cfg = strings.Replace(cfg, "    key: [id]\n", "", 1)
	}
	if seed%3 == 2 { // the touched files rewritten instead of deletion vectors
		cfg = strings.Replace(cfg, "mode: upsert\n", "mode: upsert\n    upsert_strategy: copy_on_write\n", 1)
	}
	s := newSim(t, seed, cfg)
	s.cdc = cdc
	s.tableConf = map[string]string{"delta.enableDeletionVectors": "true"}
	return s
}

// produceChange appends a change of one of the partition's keys: an upsert of the
// row, or a delete (a tombstone; with Debezium, a delete event, sometimes followed by
// its tombstone).
func (s *sim) produceChange(p int, gap int64, field string) {
	k := int64(p) + int64(simPartitions)*int64(s.rng.IntN(simKeys))
	key := fmt.Appendf(nil, `{"id":%d}`, k)
	del := s.rng.IntN(5) == 0
	if s.cdc == "none" {
		s.broker.produceKeyed(p, gap, func(off int64) ([]byte, []byte) {
			if del {
				return key, nil
			}
			return key, s.message(off, fmt.Sprintf(`,"id":%d%s`, k, field))
		})
		return
	}
	style := s.rng.IntN(3)
	s.broker.produceKeyed(p, gap, func(off int64) ([]byte, []byte) {
		var v string
		switch {
		case style == 2 && del:
			v = fmt.Sprintf(`{"id":%d,"__deleted":"true","__op":"d","__lsn":%d}`, k, off)
		case style == 2:
			v = fmt.Sprintf(`{"id":%d%s,"__deleted":"false","__source_ts_ms":1700000000000,"__lsn":%d}`, k, field, off)
		case del:
			v = fmt.Sprintf(`{"before":{"id":%d},"after":null,"op":"d","ts_ms":1700000000000,"source":{"lsn":%d}}`, k, off)
		default:
			op := []string{"c", "u", "r"}[s.rng.IntN(3)]
			v = fmt.Sprintf(`{"before":{"id":%d},"after":{"id":%d%s},"op":"%s","ts_ms":1700000000000,"source":{"ts_ms":1700000000000,"lsn":%d}}`, k, k, field, op, off)
		}
		if style == 1 {
			v = `{"schema":{"type":"struct","optional":false},"payload":` + v + `}`
		}
		return key, []byte(v)
	})
	if del && s.rng.IntN(2) == 0 {
		s.broker.produceKeyed(p, 0, func(int64) ([]byte, []byte) { return key, nil }) // Debezium's tombstone after a delete
	}
}

// liveChanges is the oracle: the offsets of the rows an upsert table holds for
// partition p at txn, each key's last change that is not a delete.
func (s *sim) liveChanges(p int32, txn int64) []int64 {
	last := map[string]int64{} // key → offset of its row, -1 when deleted
	for _, m := range s.broker.messages(p, txn) {
		switch {
		case m.value == nil, strings.Contains(string(m.value), `"op":"d"`), strings.Contains(string(m.value), `"__deleted":"true"`):
			last[string(m.key)] = -1
		default:
			last[string(m.key)] = m.offset
		}
	}
	var out []int64
	for _, off := range last {
		if off >= 0 {
			out = append(out, off)
		}
	}
	slices.Sort(out)
	return out
}
