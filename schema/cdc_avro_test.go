package schema

import (
	"errors"
	"testing"

	"github.com/hamba/avro/v2"
)

const testEnvelope = `{"type":"record","name":"Envelope","namespace":"db.t","fields":[
 {"name":"before","type":["null",{"type":"record","name":"Value","fields":[{"name":"id","type":"long"},{"name":"tags","type":{"type":"array","items":"string"}},{"name":"m","type":{"type":"map","values":"int"}}]}],"default":null},
 {"name":"after","type":["null","Value"],"default":null},
 {"name":"source","type":{"type":"record","name":"Source","fields":[{"name":"ts_ms","type":"long"},{"name":"file","type":"string"},{"name":"pos","type":"long"},{"name":"row","type":"int"},{"name":"snapshot","type":["null","string"]}]}},
 {"name":"op","type":"string"},
 {"name":"ts_ms","type":["null","long"],"default":null}]}`

func TestAvroEnvelopeSplit(t *testing.T) {
	s, err := avro.ParseWithCache(testEnvelope, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewAvroEnvelope(s, 7)
	if err != nil {
		t.Fatal(err)
	}
	row := func(id int64) any {
		return map[string]any{"db.t.Value": map[string]any{"id": id, "tags": []string{"a", "b"}, "m": map[string]int{"x": 1}}}
	}
	api := avro.Config{}.Freeze()
	data, err := api.Marshal(s, map[string]any{"before": row(1), "after": row(2),
		"source": map[string]any{"ts_ms": int64(99), "file": "bin.000003", "pos": int64(154), "row": int32(2), "snapshot": nil},
		"op":     "u", "ts_ms": map[string]any{"long": int64(100)}})
	if err != nil {
		t.Fatal(err)
	}
	var c Change
	if err := env.Split(data, &c); err != nil {
		t.Fatal(err)
	}
	if c.Op != OpUpdate || c.TsMs != 99 || !c.HasTs || c.Position != "bin.000003:154:2" {
		t.Fatalf("change %+v", c)
	}
	rowSchema := env.RowSchema()
	for _, part := range []struct {
		raw []byte
		id  int64
	}{{c.Before, 1}, {c.After, 2}} {
		var v map[string]any
		if err := api.Unmarshal(rowSchema, part.raw, &v); err != nil || v["id"] != part.id {
			t.Fatalf("row %x: %v %v", part.raw, v, err)
		}
	}
	// Truncated data and a wrong op are AvroErrors.
	for _, bad := range [][]byte{data[:len(data)-3], append(append([]byte{}, data...), 0)} {
		var ae *AvroError
		if err := env.Split(bad, &c); !errors.As(err, &ae) {
			t.Errorf("%x: got %v, want an AvroError", bad, err)
		}
	}
	if _, err := NewAvroEnvelope(avro.MustParse(`{"type":"record","name":"X","fields":[{"name":"a","type":"long"}]}`), 1); err == nil {
		t.Fatal("a record that is not an envelope was accepted")
	}
}

func FuzzAvroEnvelopeSplit(f *testing.F) {
	s, err := avro.ParseWithCache(testEnvelope, "", &avro.SchemaCache{})
	if err != nil {
		f.Fatal(err)
	}
	env, err := NewAvroEnvelope(s, 7)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{2, 2, 2, 2, 'a', 0, 0, 0, 0, 0, 0, 2, 'u', 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Change
		if env.Split(data, &c) != nil {
			return
		}
		if c.Op == OpDelete && c.Before == nil || (c.Op == OpCreate || c.Op == OpUpdate || c.Op == OpRead) && c.After == nil {
			t.Fatalf("accepted %x without its row: %+v", data, c)
		}
	})
}
