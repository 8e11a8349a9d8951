package writer_test

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
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
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		info, err := p.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
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
