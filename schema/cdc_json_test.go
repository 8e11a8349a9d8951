package schema

import (
	"errors"
	"testing"
)

func TestParseDebeziumJSON(t *testing.T) {
	envelope := `{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"source":{"version":"2.5.0","connector":"postgresql","ts_ms":1700000000000,"lsn":24023128,"txId":555},"op":"u","ts_ms":1700000000123}`
	cases := []struct {
		name          string
		msg           string
		op            byte
		before, after string
		ts            int64
		pos           string
		flat          bool
	}{
		{name: "envelope", msg: envelope, op: OpUpdate, before: `{"id":1,"name":"a"}`, after: `{"id":1,"name":"b"}`, ts: 1700000000000, pos: "24023128"},
		{name: "wrapped", msg: `{"schema":{"type":"struct","fields":[]},"payload":` + envelope + `}`, op: OpUpdate, before: `{"id":1,"name":"a"}`, after: `{"id":1,"name":"b"}`, ts: 1700000000000, pos: "24023128"},
		{name: "insert", msg: `{"before":null,"after":{"id":2},"op":"c","ts_ms":5}`, op: OpCreate, after: `{"id":2}`, ts: 5},
		{name: "snapshot read", msg: `{"before":null,"after":{"id":2},"op":"r","source":{"ts_ms":7,"snapshot":"true","file":"mysql-bin.000003","pos":154,"row":0}}`, op: OpRead, after: `{"id":2}`, ts: 7, pos: "mysql-bin.000003:154:0"},
		{name: "delete", msg: `{"before":{"id":3},"after":null,"op":"d","source":{"ts_ms":9,"change_lsn":"00000027:00000758:0003","commit_lsn":"00000027:00000758:0005"}}`, op: OpDelete, before: `{"id":3}`, ts: 9, pos: "00000027:00000758:0005"},
		{name: "truncate", msg: `{"before":null,"after":null,"op":"t","ts_ms":1}`, op: OpTruncate, ts: 1},
		{name: "flattened upsert", msg: `{"id":4,"name":"x"}`, op: OpUpsert, after: `{"id":4,"name":"x"}`, flat: true},
		{name: "flattened with op", msg: `{"id":4,"__op":"c","__source_ts_ms":11}`, op: OpCreate, after: `{"id":4,"__op":"c","__source_ts_ms":11}`, ts: 11, flat: true},
		{name: "flattened delete", msg: `{"id":4,"__deleted":"true"}`, op: OpDelete, before: `{"id":4,"__deleted":"true"}`, flat: true},
		{name: "flattened not deleted", msg: `{"id":4,"__deleted":"false","__op":"u"}`, op: OpUpdate, after: `{"id":4,"__deleted":"false","__op":"u"}`, flat: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Change
			if err := ParseDebeziumJSON([]byte(tc.msg), &c); err != nil {
				t.Fatal(err)
			}
			if c.Op != tc.op || string(c.Before) != tc.before || string(c.After) != tc.after || c.Flattened != tc.flat {
				t.Fatalf("got op %q before %s after %s flat %v", c.Op, c.Before, c.After, c.Flattened)
			}
			if (tc.ts != 0) != c.HasTs || c.TsMs != tc.ts || c.Position != tc.pos {
				t.Fatalf("got ts %d (%v) position %q, want %d %q", c.TsMs, c.HasTs, c.Position, tc.ts, tc.pos)
			}
		})
	}
}

func TestParseDebeziumJSONErrors(t *testing.T) {
	for _, msg := range []string{
		`{"before":null,"after":{"id":1},"op":"x"}`, // unknown op
		`{"before":null,"after":null,"op":"c"}`,     // insert without a row
		`{"before":null,"after":null,"op":"d"}`,     // delete without the old row
		`{"before":1,"after":{"id":1},"op":"u"}`,    // before not an object
		`{"schema":{},"payload":null}`,              // no payload
		`{"id":1,"__deleted":"maybe"}`,              // bad __deleted
		`{"id":1,"__op":"d","__deleted":"false"}`,   // contradiction
		`[1,2]`, // not an object
		`{"before":null,"after":{"id":1},"op":"c"} extra`, // trailing data
	} {
		var c Change
		err := ParseDebeziumJSON([]byte(msg), &c)
		var fe *FieldError
		var se *SyntaxError
		if !errors.As(err, &fe) && !errors.As(err, &se) {
			t.Errorf("%s: got %v, want a FieldError or SyntaxError", msg, err)
		}
	}
}

func FuzzParseDebeziumJSON(f *testing.F) {
	f.Add([]byte(`{"schema":{},"payload":{"before":{"id":1},"after":{"id":1},"op":"u","source":{"lsn":1,"ts_ms":2}}}`))
	f.Add([]byte(`{"id":1,"__deleted":"true"}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var c Change
		if ParseDebeziumJSON(msg, &c) != nil {
			return
		}
		if c.Op == OpDelete && c.Before == nil || (c.Op == OpCreate || c.Op == OpUpdate || c.Op == OpRead || c.Op == OpUpsert) && c.After == nil {
			t.Fatalf("accepted %q without its row: %+v", msg, c)
		}
	})
}

// Keys with escapes are decoded into the scanner's scratch, which later strings reuse:
// such keys are copied, others alias the message.
func TestParseDebeziumJSONEscapedKeys(t *testing.T) {
	var c Change
	msg := `{"be\u0066ore":{"id":1},"a\u0066ter":{"id":2},"\u006fp":"u","source":{"t\u0073_ms":5,"ls\u006e":"x"}}`
	if err := ParseDebeziumJSON([]byte(msg), &c); err != nil {
		t.Fatal(err)
	}
	if c.Op != OpUpdate || string(c.Before) != `{"id":1}` || string(c.After) != `{"id":2}` || c.TsMs != 5 || c.Position != "x" {
		t.Fatalf("%+v", c)
	}
}

func BenchmarkParseDebeziumJSON(b *testing.B) {
	msg := []byte(`{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"source":{"version":"2.5.0","connector":"postgresql","ts_ms":1700000000000,"lsn":24023128,"txId":555},"op":"u","ts_ms":1700000000123}`)
	b.ReportAllocs()
	var c Change
	for b.Loop() {
		if err := ParseDebeziumJSON(msg, &c); err != nil {
			b.Fatal(err)
		}
	}
}
