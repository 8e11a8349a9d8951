package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A JSON topic of mixed payloads lands in variant columns: one takes a field as it is,
// one the whole message (source: message). The table gets the variantType feature,
// and `sluice query` reads the values back (as JSON).
func TestVariantColumns(t *testing.T) {
	cluster := newCluster(t, "events", 1)
	docs := []string{
		`{"id":1,"kind":"click","payload":{"x":1,"tags":["a","b"]}}`,
		`{"id":2,"kind":"view","payload":"just text"}`,
		`{"id":3,"kind":"buy","payload":{"amount":12.50,"items":[{"sku":"A1","n":2}]}}`,
		`{"id":4,"kind":"none","payload":null}`,
	}
	var recs []*kgo.Record
	for _, d := range docs {
		recs = append(recs, &kgo.Record{Topic: "events", Value: []byte(d)})
	}
	produce(t, cluster, recs...)
	dir := t.TempDir()
	cfg := parseConfig(t, fmt.Sprintf(`
name: variant
kafka: {bootstrap_servers: %s}
tables:
  - name: events
    topics: [events]
    location: %s/events
    schema:
      - {name: id, type: long, nullable: false}
      - {name: payload, type: variant}
      - {name: raw, type: variant, source: message}
`, cluster.ListenAddrs()[0], dir))
	runUntilCaughtUp(t, cfg)
	store, snap := loadTable(t, dir+"/events")
	if p := snap.Protocol(); !slices.Contains(p.ReaderFeatures, "variantType") || !slices.Contains(p.WriterFeatures, "variantType") {
		t.Fatalf("protocol %+v lacks variantType", p)
	}
	rows, err := duckNamed(t, store, snap, "events").Query(
		`SELECT id, coalesce((payload->>'x')::INT, -1), coalesce(payload::VARCHAR, 'NULL'), raw->>'kind', (raw->'payload')::VARCHAR != 'null' FROM events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, x int
		var p, kind string
		var hasPayload bool
		if err := rows.Scan(&id, &x, &p, &kind, &hasPayload); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %d %s %s %v", id, x, p, kind, hasPayload))
	}
	want := []string{
		`1 1 {"tags":["a","b"],"x":1} click true`, // a variant object's fields are in key order
		`2 -1 "just text" view true`,
		`3 -1 {"amount":12.50,"items":[{"n":2,"sku":"A1"}]} buy true`,
		`4 -1 NULL none false`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
