package writer_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// generated returns a field with a delta.generationExpression.
func generated(name string, typ table.DataType, src string) *table.StructField {
	meta, _ := json.Marshal(map[string]string{"delta.generationExpression": src})
	return &table.StructField{Name: name, Type: typ, Nullable: true, Metadata: meta}
}

func rulesSpec() writer.Spec {
	return writer.Spec{
		Schema: &table.StructType{Fields: []*table.StructField{
			field("id", table.Long, false),
			field("amount", table.Double, true),
			field("ts", table.Timestamp, true),
			field("first", table.String, true),
			field("last", table.String, true),
			generated("day", table.Date, "CAST(ts AS DATE)"),
			generated("full_name", table.String, "concat(first, ' ', upper(last))"),
		}},
		Rules: []table.Rule{
			{Name: "CHECK constraint positive", Expr: "amount > 0"},
			{Name: "invariant of column id", Expr: "id < 1000"},
		},
	}
}

// Generated columns are computed for rows without them, and checked for rows with
// them; CHECK constraints and invariants refuse rows whose expression is false or
// NULL, naming the rule and the values; the rows kept read back with the generated
// values.
func TestRules(t *testing.T) {
	ts := time.Date(2024, 6, 1, 23, 30, 0, 0, time.UTC).UnixMicro()
	day := int64(19875) // 2024-06-01
	cases := []struct {
		name string
		row  []any
		want string // "" = accepted; else a substring of the *RuleError
	}{
		{"computed", []any{int64(1), 2.5, ts, "ada", "lovelace", absent, absent}, ""},
		{"given and equal", []any{int64(2), 1.0, ts, "alan", "turing", day, "alan TURING"}, ""},
		{"given null: computed", []any{int64(3), 1.0, ts, "a", "b", nil, nil}, ""},
		{"given and different", []any{int64(4), 1.0, ts, "a", "b", day + 1, absent}, "generated column day (CAST(ts AS DATE)): the message gives 2024-06-02, the expression 2024-06-01"},
		{"check false", []any{int64(5), -1.0, ts, "a", "b", absent, absent}, "CHECK constraint positive (amount > 0) is violated by a row with values amount: -1.0"},
		{"check null", []any{int64(6), nil, ts, "a", "b", absent, absent}, "amount: NULL"},
		{"invariant false", []any{int64(1000), 1.0, ts, "a", "b", absent, absent}, "invariant of column id (id < 1000)"},
	}
	buf, err := writer.NewBuffer(rulesSpec(), writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	schema := rulesSpec().Schema
	for _, c := range cases {
		fill(t, buf, schema, c.row)
		err := buf.EndRow()
		var re *writer.RuleError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &re) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want a RuleError with %q", c.name, err, c.want)
		}
	}
	if buf.Rows() != 3 {
		t.Fatalf("%d rows kept, want 3", buf.Rows())
	}
	paths, _ := writeFilesFrom(t, buf)
	db := openDuck(t)
	got, err := db.Query("SELECT id, day::VARCHAR, full_name FROM read_parquet(" + fileList(paths) + ") ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	var rows []string
	for got.Next() {
		var id int
		var d, name string
		if err := got.Scan(&id, &d, &name); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, d+" "+name)
	}
	if want := "2024-06-01 ada LOVELACE|2024-06-01 alan TURING|2024-06-01 a B"; strings.Join(rows, "|") != want {
		t.Fatalf("rows %q, want %q", strings.Join(rows, "|"), want)
	}
}

// Rules outside the expression subset, or not boolean, are refused when the buffer
// is made, by name.
func TestRulesRefusedByName(t *testing.T) {
	for _, c := range []struct {
		rule table.Rule
		want string
	}{
		{table.Rule{Name: "CHECK constraint c", Expr: "my_udf(amount) > 0"}, "CHECK constraint c"},
		{table.Rule{Name: "CHECK constraint d", Expr: "amount + 1"}, "not a boolean"},
		{table.Rule{Name: "CHECK constraint e", Expr: "nope > 1"}, "nope"},
	} {
		spec := rulesSpec()
		spec.Rules = []table.Rule{c.rule}
		if _, err := writer.NewBuffer(spec, writer.DefaultConfig()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", c.rule.Expr, err, c.want)
		}
	}
}
