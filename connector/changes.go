package connector

import (
	"context"
	"errors"
	"fmt"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/writer"
)

// Modes changelog and upsert: a message is a change to a keyed row (a Debezium event,
// or with envelope none, the row itself), and may make several rows (an update's
// before and after) or none (a delete in an upsert table).

// keySlot is the last change of a key in a batch: its row, or a delete (live false).
type keySlot struct {
	ref  writer.RowRef
	live bool
}

// errTruncate refuses a Debezium truncate event: applying it would delete every row,
// including rows of other sources; dropping it would leave rows the source no longer has.
var errTruncate = errors.New("a truncate event (op t) is not applied: it would delete every row of the table; route it elsewhere (on_error: dlq) or drop Debezium's truncate events (skipped.operations=t)")

// changeType is the _change_type of a row of a changelog table.
func changeType(op byte) string {
	switch op {
	case schema.OpCreate:
		return "insert"
	case schema.OpRead:
		return "snapshot"
	case schema.OpDelete:
		return "delete"
	case schema.OpUpsert:
		return "upsert"
	}
	return "update"
}

// decodeChange turns one message of a changelog or upsert table into its rows, and
// in an upsert table records each key's last change. When it fails, rows it appended
// for the message are marked dead (written, and deleted by the same commit's
// deletion vectors), so that the message leaves nothing behind.
func (w *worker) decodeChange(ctx context.Context, m *kafka.Message, p tp, off int64) (stage string, err error) {
	var c schema.Change
	if stage, err := w.dec.change(ctx, m.Value, &c); err != nil {
		return stage, err
	}
	upsert := w.dest.cfg.Mode == ModeUpsert
	var refs []writer.RowRef
	defer func() {
		if err != nil {
			w.dead = append(w.dead, refs...)
			return
		}
		w.dest.metrics.changes.WithLabelValues(changeType(c.Op)).Inc()
	}()
	// emit decodes one row of the change and appends it (changelog: with its change
	// columns); in an upsert table a delete only records its key.
	emit := func(data []byte, typ string, del bool) (string, error) {
		if stage, err := w.dec.row(ctx, data); err != nil {
			return stage, err
		}
		if upsert {
			if err := w.dec.keys.ensure(ctx, m.Key); err != nil {
				return "key", err
			}
			key, err := w.dec.keys.rowKey(w.keyBuf[:0])
			w.keyBuf = key
			if err != nil {
				return "key", err
			}
			if del {
				w.buf.AbortRow()
				w.keyed(string(key), writer.RowRef{}, false)
				return "", nil
			}
		} else {
			w.setChangeColumns(&c, typ)
		}
		if stage, err := w.endRow(ctx, m, p, off); err != nil {
			return stage, err
		}
		ref := w.buf.LastRow()
		refs = append(refs, ref)
		if upsert { // an upsert's one row: nothing after it can fail
			w.keyed(string(w.keyBuf), ref, true)
		}
		return "", nil
	}
	switch c.Op {
	case schema.OpTruncate:
		return "decode", errTruncate
	case schema.OpDelete:
		stage, err = emit(c.Before, "delete", true)
	case schema.OpUpdate:
		if !upsert && c.Before != nil && w.dest.cfg.UpdateImages == "both" {
			if stage, err = emit(c.Before, "update_preimage", false); err != nil {
				return stage, err
			}
		}
		typ := "update"
		if w.dest.cfg.UpdateImages == "both" {
			typ = "update_postimage"
		}
		stage, err = emit(c.After, typ, false)
	default:
		stage, err = emit(c.After, changeType(c.Op), false)
	}
	return stage, err
}

// keyed records the last change of a key in the batch; the key's earlier row in the
// batch, if any, is dead.
func (w *worker) keyed(key string, ref writer.RowRef, live bool) {
	if w.keys == nil {
		w.keys = map[string]keySlot{}
	}
	if old, ok := w.keys[key]; ok && old.live {
		w.dead = append(w.dead, old.ref)
	}
	w.keys[key] = keySlot{ref: ref, live: live}
}

// setChangeColumns sets a changelog row's change columns.
func (w *worker) setChangeColumns(c *schema.Change, typ string) {
	cc := &w.changeCols
	b := w.buf
	if cc.typ >= 0 {
		b.SetBytes(cc.typ, []byte(typ))
	}
	if cc.ts >= 0 {
		if c.HasTs {
			b.SetInt(cc.ts, c.TsMs*1000)
		} else {
			b.SetNull(cc.ts)
		}
	}
	if cc.pos >= 0 {
		if c.Position != "" {
			b.SetBytes(cc.pos, []byte(c.Position))
		} else {
			b.SetNull(cc.pos)
		}
	}
}

// tombstoneDelete deletes the row of a tombstone's key (on_tombstone: delete).
func (w *worker) tombstoneDelete(ctx context.Context, m *kafka.Message) (string, error) {
	if w.spec == nil {
		return "", nil // the table does not exist yet: there is no row to delete
	}
	key, err := w.dec.keys.messageKey(ctx, m.Key, w.keyBuf[:0])
	w.keyBuf = key
	if err != nil {
		return "key", err
	}
	w.keyed(string(key), writer.RowRef{}, false)
	w.dest.metrics.changes.WithLabelValues("delete").Inc()
	return "", nil
}

// keyConflict is logged when two partitions change one key in a batch.
func keyConflict(table string) error {
	return fmt.Errorf("table %s: two partitions changed the same key in one batch; a key's changes must all go to one partition (key the topic by the key columns)", table)
}
