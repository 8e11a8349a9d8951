package table

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicelake/sluice/table/storage"
)

// TestEvolutionUpgradesProtocol: a schema change that adds a timestamp_ntz column
// commits, in the same version, the protocol the type needs: reader 3 / writer 7 with
// the feature, the features a legacy writer version implied, and the features the table
// already lists. A protocol that already has the feature is left alone.
func TestEvolutionUpgradesProtocol(t *testing.T) {
	cases := []struct {
		name   string
		before Protocol
		typ    DataType
		want   Protocol // zero: refused
	}{
		{"legacy 1,2", Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, TimestampNTZ,
			Protocol{3, 7, []string{"timestampNtz"}, []string{"appendOnly", "invariants", "timestampNtz"}}},
		{"legacy 1,4", Protocol{MinReaderVersion: 1, MinWriterVersion: 4}, TimestampNTZ,
			Protocol{3, 7, []string{"timestampNtz"}, []string{"appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns", "timestampNtz"}}},
		{"reader 3", Protocol{3, 7, []string{"deletionVectors"}, []string{"deletionVectors", "appendOnly"}}, TimestampNTZ,
			Protocol{3, 7, []string{"deletionVectors", "timestampNtz"}, []string{"deletionVectors", "appendOnly", "timestampNtz"}}},
		{"writer features only", Protocol{1, 7, nil, []string{"appendOnly"}}, TimestampNTZ,
			Protocol{3, 7, []string{"timestampNtz"}, []string{"appendOnly", "timestampNtz"}}},
		{"has the feature", Protocol{3, 7, []string{"timestampNtz"}, []string{"timestampNtz"}}, TimestampNTZ,
			Protocol{3, 7, []string{"timestampNtz"}, []string{"timestampNtz"}}},
		{"no new type", Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, String,
			Protocol{MinReaderVersion: 1, MinWriterVersion: 2}},
		// Reader 2 and writer 5 imply column mapping, which is then listed (the table has
		// no mapping mode, so appends are allowed).
		{"legacy 2,5", Protocol{MinReaderVersion: 2, MinWriterVersion: 5}, TimestampNTZ,
			Protocol{3, 7, []string{"columnMapping", "timestampNtz"}, []string{"appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns", "columnMapping", "timestampNtz"}}},
		// Writer 6 implies identity columns, listed then; the table has none, so appends
		// are allowed (TestConformance's checkpoint-v2-table has one and is refused).
		{"legacy 1,6", Protocol{MinReaderVersion: 1, MinWriterVersion: 6}, TimestampNTZ,
			Protocol{3, 7, []string{"timestampNtz"}, []string{"appendOnly", "invariants", "checkConstraints", "changeDataFeed", "generatedColumns", "columnMapping", "identityColumns", "timestampNtz"}}},
		// Variant columns bring variantType, a reader-writer feature.
		{"variant", Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, Variant,
			Protocol{3, 7, []string{"variantType"}, []string{"appendOnly", "invariants", "variantType"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			store := storage.NewMemory(t.Name())
			writeVersion0(t, store, c.before, testSchema())
			tbl := New(store)
			snap, err := tbl.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			meta := snap.Metadata()
			meta.SchemaString = withColumn(t, snap.Schema(), "seen", c.typ).SchemaString()
			_, err = tbl.Commit(ctx, &Transaction{Metadata: &meta, BaseSchemaString: snap.Metadata().SchemaString,
				Adds: []Add{add("day=2024-01-01/a.parquet")}})
			if c.want.MinReaderVersion == 0 {
				var ue *UnsupportedFeatureError
				if !errors.As(err, &ue) {
					t.Fatalf("got %v, want *UnsupportedFeatureError", err)
				}
				if _, err := store.Get(ctx, CommitKey(1)); !errors.Is(err, storage.ErrNotFound) {
					t.Fatal("a refused commit was written")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := Load(ctx, store)
			if err != nil {
				t.Fatal(err)
			}
			if got := loaded.Protocol(); !reflect.DeepEqual(got, c.want) {
				t.Errorf("protocol after evolution = %+v, want %+v", got, c.want)
			}
			if cur, err := tbl.Snapshot(ctx); err != nil || !reflect.DeepEqual(cur.Protocol(), c.want) {
				t.Errorf("the handle's snapshot: %+v, %v; want %+v", cur.Protocol(), err, c.want)
			}
			commit, _ := store.Get(ctx, CommitKey(1))
			if upgraded := !reflect.DeepEqual(c.before, c.want); strings.Contains(string(commit), `"protocol"`) != upgraded {
				t.Errorf("commit 1 has a protocol action: %v, want %v:\n%s", !upgraded, upgraded, commit)
			}
		})
	}
}

// writeVersion0 writes a table's first commit with the given protocol.
func writeVersion0(t *testing.T, store storage.Storage, p Protocol, schema *StructType) {
	t.Helper()
	data, err := encodeActions([]Action{{Protocol: &p}, {MetaData: &Metadata{ID: "id", Format: Format{Provider: "parquet"},
		SchemaString: schema.SchemaString(), PartitionColumns: []string{"day"}, Configuration: map[string]string{}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.PutIfAbsent(context.Background(), CommitKey(0), data); err != nil {
		t.Fatal(err)
	}
}
