package writer_test

import (
	"database/sql"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

func flatSchema() *table.StructType {
	return &table.StructType{Fields: []*table.StructField{
		{Name: "id", Type: table.Long, Nullable: false},
		{Name: "user", Type: table.String, Nullable: true},
		{Name: "amount", Type: table.Double, Nullable: true},
		{Name: "ok", Type: table.Boolean, Nullable: true},
		{Name: "ts", Type: table.Timestamp, Nullable: true},
		{Name: "day", Type: table.Date, Nullable: true},
	}}
}

func TestFlatRoundTripDuckDB(t *testing.T) {
	d, err := writer.ParseDerivation("date(ts)")
	if err != nil {
		t.Fatal(err)
	}
	buf, err := writer.NewBuffer(writer.Spec{
		Schema:           flatSchema(),
		PartitionColumns: []string{"day"},
		Derived:          map[string]*writer.Derivation{"day": d},
	}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 3, 1, 23, 0, 0, 0, time.UTC)
	const n = 1000
	for i := range n {
		buf.SetInt(0, int64(i))
		if i%10 == 0 {
			buf.SetNull(1)
		} else {
			buf.SetBytes(1, []byte("user-"+string(rune('a'+i%26))))
		}
		buf.SetFloat(2, float64(i)*1.5)
		buf.SetBool(3, i%2 == 0)
		buf.SetInt(4, base.Add(time.Duration(i)*time.Minute).UnixMicro())
		if err := buf.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	// A row without the non-nullable id is refused and leaves nothing behind.
	buf.SetBytes(1, []byte("nobody"))
	if err := buf.EndRow(); err == nil {
		t.Fatal("EndRow without id: want error")
	}
	if buf.Rows() != n {
		t.Fatalf("Rows = %d, want %d", buf.Rows(), n)
	}
	pending := buf.Take()
	if len(pending) != 2 {
		t.Fatalf("got %d partitions, want 2 (Mar 1 and Mar 2)", len(pending))
	}
	dir := t.TempDir()
	total := 0
	var files []string
	for _, p := range pending {
		if p.Dir != "day=2024-03-01" && p.Dir != "day=2024-03-02" {
			t.Fatalf("unexpected partition dir %q", p.Dir)
		}
		if got := *p.PartitionValues["day"]; "day="+got != p.Dir {
			t.Fatalf("partition value %q vs dir %q", got, p.Dir)
		}
		path := filepath.Join(dir, p.Dir+".parquet")
		info := encodeFile(t, p, path)
		st, _ := os.Stat(path)
		if st.Size() != info.Size {
			t.Fatalf("reported size %d, file has %d", info.Size, st.Size())
		}
		var stats table.Stats
		if err := json.Unmarshal([]byte(info.Stats), &stats); err != nil {
			t.Fatalf("stats %s: %v", info.Stats, err)
		}
		if stats.NumRecords != int64(p.Rows) {
			t.Fatalf("stats numRecords %d, rows %d", stats.NumRecords, p.Rows)
		}
		if _, ok := stats.MinValues["day"]; ok {
			t.Fatalf("partition column in stats: %s", info.Stats)
		}
		total += p.Rows
		files = append(files, path)
	}
	if total != n {
		t.Fatalf("total rows %d", total)
	}

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var count, distinct, nullUsers int
	var sum float64
	q := `SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE "user" IS NULL), sum(amount) FROM read_parquet(['` + files[0] + `','` + files[1] + `'])`
	if err := db.QueryRow(q).Scan(&count, &distinct, &nullUsers, &sum); err != nil {
		t.Fatal(err)
	}
	if count != n || distinct != n || nullUsers != n/10 || sum != 1.5*float64(n*(n-1)/2) {
		t.Fatalf("duckdb: count=%d distinct=%d nullUsers=%d sum=%v", count, distinct, nullUsers, sum)
	}
	var cols string
	if err := db.QueryRow(`SELECT string_agg(name, ',' ORDER BY column_id) FROM (SELECT name, row_number() OVER () AS column_id FROM parquet_schema('` + files[0] + `') WHERE num_children IS NULL)`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if cols != "id,user,amount,ok,ts" {
		t.Fatalf("column order %q", cols)
	}
}

// TestDecimalPartitionValues: a decimal partition column's value is the decimal's text,
// whether the decimal is set as an unscaled int (precision ≤ 18) or as two's complement
// bytes (wider). Wide decimals once all came out "0.00".
func TestDecimalPartitionValues(t *testing.T) {
	for _, tc := range []struct {
		typ    *table.DecimalType
		values []string // also the expected partition values
	}{
		{&table.DecimalType{Precision: 38, Scale: 2}, []string{
			"12345678901234567890123456.78", "-0.05", "0.00", "0.05", "-1.00",
			"999999999999999999999999999999999999.99", "-999999999999999999999999999999999999.99",
		}},
		{&table.DecimalType{Precision: 20, Scale: 0}, []string{"0", "-1", "12345678901234567890", "-99999999999999999999"}},
		{&table.DecimalType{Precision: 19, Scale: 19}, []string{"0.0000000000000000001", "-0.9999999999999999999"}},
		{&table.DecimalType{Precision: 18, Scale: 4}, []string{"12345678901234.5678", "-0.0005", "0.0000"}},
		{&table.DecimalType{Precision: 9, Scale: 2}, []string{"1234567.89", "-0.05", "0.00"}},
	} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			schema := &table.StructType{Fields: []*table.StructField{field("id", table.Long, false), field("d", tc.typ, true)}}
			buf, err := writer.NewBuffer(writer.Spec{Schema: schema, PartitionColumns: []string{"d"}}, writer.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.values {
				unscaled, ok := new(big.Int).SetString(strings.Replace(s, ".", "", 1), 10)
				if !ok {
					t.Fatalf("bad test value %q", s)
				}
				var v any = unscaled
				if tc.typ.Precision <= 18 {
					v = unscaled.Int64()
				}
				fill(t, buf, schema, []any{int64(i), v})
				if err := buf.EndRow(); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
			}
			var got []string
			for _, p := range buf.Take() {
				v := p.PartitionValues["d"]
				if v == nil {
					t.Fatalf("partition %q: null value", p.Dir)
				}
				if p.Dir != "d="+*v {
					t.Errorf("partition value %q in dir %q", *v, p.Dir)
				}
				if p.Rows != 1 {
					t.Errorf("partition %q has %d rows, want 1", p.Dir, p.Rows)
				}
				got = append(got, *v)
			}
			if !slices.Equal(got, tc.values) {
				t.Fatalf("partition values\n got %q\nwant %q", got, tc.values)
			}
		})
	}
}

// A top-level column whose name has a dot keeps its whole name in the statistics (it
// once became the part after the last dot).
func TestStatsKeepDottedNames(t *testing.T) {
	schema := &table.StructType{Fields: []*table.StructField{field("a.b", table.Long, false)}}
	_, infos := writeFiles(t, t.TempDir(), schema, writer.DefaultConfig(), [][]any{{int64(1)}})
	var stats struct{ MinValues map[string]any }
	if err := json.Unmarshal([]byte(infos[0].Stats), &stats); err != nil {
		t.Fatal(err)
	}
	if _, ok := stats.MinValues["a.b"]; !ok || len(stats.MinValues) != 1 {
		t.Fatalf("stats %s, want minValues keyed a.b", infos[0].Stats)
	}
}
