package writer_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// The test value model: nil; int64 (integers, dates as days, timestamps as micros,
// decimals ≤ 18 digits as unscaled); *big.Int (wider decimals, unscaled); float64;
// bool; string; []byte; listV; mapV; structV (one entry per field; absent leaves the
// field out so the writer must null it).
type (
	listV   []any
	mapV    [][2]any
	structV []any
	absentT struct{}
)

var absent = absentT{}

// fill writes one row into the buffer.
func fill(t testing.TB, buf *writer.Buffer, schema *table.StructType, row []any) {
	t.Helper()
	for i, f := range schema.Fields {
		v := row[i]
		if v == absent {
			continue
		}
		c := buf.Columns()[i]
		if c.Primitive() {
			switch v := v.(type) {
			case nil:
				buf.SetNull(i)
			case int64:
				buf.SetInt(i, v)
			case float64:
				buf.SetFloat(i, v)
			case bool:
				buf.SetBool(i, v)
			case string:
				buf.SetBytes(i, []byte(v))
			case []byte:
				buf.SetBytes(i, v)
			case *big.Int:
				buf.SetBytes(i, writer.TwosComplement(v))
			default:
				t.Fatalf("column %s: unexpected %T", f.Name, v)
			}
			continue
		}
		emit(t, buf.Nested(i), f.Type, v)
	}
}

func emit(t testing.TB, n *writer.Nest, typ table.DataType, v any) {
	switch v := v.(type) {
	case nil:
		n.Null()
	case int64:
		n.Int(v)
	case float64:
		n.Float(v)
	case bool:
		n.Bool(v)
	case string:
		n.Bytes([]byte(v))
	case []byte:
		n.Bytes(v)
	case *big.Int:
		n.Bytes(writer.TwosComplement(v))
	case structV:
		st := typ.(*table.StructType)
		n.BeginStruct()
		for i, fv := range v {
			if fv == absent {
				continue
			}
			n.Field(i)
			emit(t, n, st.Fields[i].Type, fv)
		}
		n.EndStruct()
	case listV:
		n.BeginList()
		for _, e := range v {
			emit(t, n, typ.(*table.ArrayType).ElementType, e)
		}
		n.EndList()
	case mapV:
		mt := typ.(*table.MapType)
		n.BeginMap()
		for _, kv := range v {
			emit(t, n, mt.KeyType, kv[0])
			emit(t, n, mt.ValueType, kv[1])
		}
		n.EndMap()
	default:
		t.Fatalf("unexpected %T", v)
	}
}

// normalize turns what DuckDB returns for a value of type typ into the test model.
func normalize(t testing.TB, typ table.DataType, v any) any {
	if v == nil {
		return nil
	}
	switch typ := typ.(type) {
	case *table.DecimalType:
		d := v.(duckdb.Decimal)
		if typ.Precision <= 18 {
			return d.Value.Int64()
		}
		return d.Value
	case table.PrimitiveType:
		switch x := v.(type) {
		case int8:
			return int64(x)
		case int16:
			return int64(x)
		case int32:
			return int64(x)
		case int64:
			return x
		case float32:
			return float64(x)
		case time.Time:
			if typ == table.Date {
				return x.Unix() / 86400
			}
			return x.UnixMicro()
		}
		return v
	case *table.StructType:
		m := v.(map[string]any)
		out := make(structV, len(typ.Fields))
		for i, f := range typ.Fields {
			out[i] = normalize(t, f.Type, m[f.Name])
		}
		return out
	case *table.ArrayType:
		l := v.([]any)
		out := make(listV, len(l))
		for i, e := range l {
			out[i] = normalize(t, typ.ElementType, e)
		}
		return out
	case *table.MapType:
		om := v.(duckdb.OrderedMap)
		out := make(mapV, 0, om.Len())
		for i, k := range om.Keys() {
			out = append(out, [2]any{normalize(t, typ.KeyType, k), normalize(t, typ.ValueType, om.Values()[i])})
		}
		return out
	}
	t.Fatalf("normalize %s: %T", typ, v)
	return nil
}

// expected is what the row must read back as: absent fields become nil.
func expected(v any) any {
	switch v := v.(type) {
	case absentT:
		return nil
	case structV:
		out := make(structV, len(v))
		for i, f := range v {
			out[i] = expected(f)
		}
		return out
	case listV:
		out := make(listV, len(v))
		for i, e := range v {
			out[i] = expected(e)
		}
		return out
	case mapV:
		out := make(mapV, len(v))
		for i, kv := range v {
			out[i] = [2]any{expected(kv[0]), expected(kv[1])}
		}
		return out
	case []byte:
		return v
	}
	return v
}

func equalValues(a, b any) bool {
	switch a := a.(type) {
	case *big.Int:
		bb, ok := b.(*big.Int)
		return ok && a.Cmp(bb) == 0
	case float64:
		bf, ok := b.(float64)
		return ok && (a == bf || (math.IsNaN(a) && math.IsNaN(bf)))
	case []byte:
		bb, ok := b.([]byte)
		return ok && bytes.Equal(a, bb)
	case string:
		if bb, ok := b.([]byte); ok {
			return a == string(bb)
		}
		return a == b
	case listV:
		bl, ok := b.(listV)
		return ok && slices.EqualFunc(a, bl, equalValues)
	case structV:
		bs, ok := b.(structV)
		return ok && slices.EqualFunc(a, bs, equalValues)
	case mapV:
		bm, ok := b.(mapV)
		return ok && slices.EqualFunc(a, bm, func(x, y [2]any) bool { return equalValues(x[0], y[0]) && equalValues(x[1], y[1]) })
	}
	return reflect.DeepEqual(a, b)
}

// writeFiles buffers rows and encodes every pending file into dir.
func writeFiles(t testing.TB, dir string, schema *table.StructType, cfg writer.Config, rows [][]any) ([]string, []writer.FileInfo) {
	t.Helper()
	return writeSpecFiles(t, dir, writer.Spec{Schema: schema}, cfg, rows)
}

// writeSpecFiles is writeFiles for a buffer of any spec.
func writeSpecFiles(t testing.TB, dir string, spec writer.Spec, cfg writer.Config, rows [][]any) ([]string, []writer.FileInfo) {
	t.Helper()
	buf, err := writer.NewBuffer(spec, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		fill(t, buf, spec.Schema, r)
		if err := buf.EndRow(); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
	}
	return writeFilesInto(t, dir, buf)
}

// writeFilesInto encodes every pending file of buf into dir.
func writeFilesInto(t testing.TB, dir string, buf *writer.Buffer) ([]string, []writer.FileInfo) {
	t.Helper()
	var paths []string
	var infos []writer.FileInfo
	for _, p := range buf.Take() {
		for !p.Done() {
			path := filepath.Join(dir, fmt.Sprintf("f%03d.parquet", len(paths)))
			paths, infos = append(paths, path), append(infos, encodeFile(t, p, path))
		}
	}
	return paths, infos
}

// encodeFile encodes the next file of p into path.
func encodeFile(t testing.TB, p *writer.Pending, path string) writer.FileInfo {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := p.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func openDuck(t testing.TB) *sql.DB {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Logf("duckdb: %v", err)
	}
	return db
}

func fileList(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + p + "'"
	}
	return "[" + strings.Join(q, ",") + "]"
}

// readBack reads all rows ordered by the first column (a row id).
func readBack(t testing.TB, db *sql.DB, paths []string, schema *table.StructType) [][]any {
	t.Helper()
	rows, err := db.Query(fmt.Sprintf("SELECT * FROM read_parquet(%s) ORDER BY 1", fileList(paths)))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(schema.Fields))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, f := range schema.Fields {
			vals[i] = normalize(t, f.Type, vals[i])
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkRoundTrip(t testing.TB, schema *table.StructType, rows [][]any, cfg writer.Config) ([]string, []writer.FileInfo) {
	t.Helper()
	paths, infos := writeFiles(t, t.TempDir(), schema, cfg, rows)
	got := readBack(t, openDuck(t), paths, schema)
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(rows))
	}
	for i, r := range rows {
		for j, f := range schema.Fields {
			want := expected(r[j])
			if !equalValues(want, got[i][j]) {
				t.Fatalf("row %d column %s (%s):\n got %#v\nwant %#v", i, f.Name, f.Type, got[i][j], want)
			}
		}
	}
	return paths, infos
}

func field(name string, typ table.DataType, nullable bool) *table.StructField {
	return &table.StructField{Name: name, Type: typ, Nullable: nullable}
}

// TestRoundTripEveryType writes every Delta type, nested at every level, with nulls at
// every level, extreme values, empty strings and lists, and unicode, and reads it back
// with DuckDB.
// everyType is a schema of every type, nested ones included, and rows with edge
// values, nulls and absent values of each.
func everyType() (*table.StructType, [][]any) {
	dec38 := &table.DecimalType{Precision: 38, Scale: 10}
	item := &table.StructType{Fields: []*table.StructField{
		field("sku", table.String, false),
		field("qty", table.Integer, true),
		field("tags", &table.ArrayType{ElementType: table.String, ContainsNull: true}, true),
	}}
	schema := &table.StructType{Fields: []*table.StructField{
		field("rid", table.Long, false),
		field("s", table.String, true),
		field("l", table.Long, true),
		field("i", table.Integer, true),
		field("sh", table.Short, true),
		field("by", table.Byte, true),
		field("f", table.Float, true),
		field("d", table.Double, true),
		field("b", table.Boolean, true),
		field("bin", table.Binary, true),
		field("dt", table.Date, true),
		field("ts", table.Timestamp, true),
		field("ntz", table.TimestampNTZ, true),
		field("d9", &table.DecimalType{Precision: 9, Scale: 2}, true),
		field("d18", &table.DecimalType{Precision: 18, Scale: 4}, true),
		field("d38", dec38, true),
		field("items", &table.ArrayType{ElementType: item, ContainsNull: true}, true),
		field("attrs", &table.MapType{KeyType: table.String, ValueType: table.Long, ValueContainsNull: true}, true),
		field("nested", &table.StructType{Fields: []*table.StructField{
			field("inner", &table.StructType{Fields: []*table.StructField{field("x", table.Double, true), field("when", table.Timestamp, true)}}, true),
			field("matrix", &table.ArrayType{ElementType: &table.ArrayType{ElementType: table.Integer, ContainsNull: true}, ContainsNull: true}, true),
			field("m", &table.MapType{KeyType: table.Integer, ValueType: &table.ArrayType{ElementType: table.Boolean, ContainsNull: false}, ValueContainsNull: true}, true),
		}}, true),
		field("req", &table.StructType{Fields: []*table.StructField{field("a", table.Long, false)}}, false),
	}}
	big38, _ := new(big.Int).SetString("99999999999999999999999999999999999999", 10)
	neg38 := new(big.Int).Neg(big38)
	ts := func(s string) int64 { v, _ := time.Parse(time.RFC3339Nano, s); return v.UnixMicro() }
	rows := [][]any{
		{int64(0), "hello", int64(math.MaxInt64), int64(math.MaxInt32), int64(math.MaxInt16), int64(math.MaxInt8),
			float64(math.MaxFloat32), math.MaxFloat64, true, []byte{0, 1, 2, 255}, int64(19723), ts("2024-01-01T12:34:56.789012Z"),
			ts("2024-01-01T12:34:56.789012Z"), int64(999999999), int64(999999999999999999), big38,
			listV{structV{"a", int64(1), listV{"x", nil, ""}}, nil, structV{"b", nil, nil}, structV{"c", int64(3), listV{}}},
			mapV{{"k1", int64(1)}, {"k2", nil}, {"", int64(-1)}},
			structV{structV{1.5, ts("1970-01-01T00:00:00Z")}, listV{listV{int64(1), nil}, nil, listV{}}, mapV{{int64(1), listV{true, false}}, {int64(2), nil}}},
			structV{int64(7)}},
		{int64(1), "", int64(math.MinInt64), int64(math.MinInt32), int64(math.MinInt16), int64(math.MinInt8),
			-float64(math.SmallestNonzeroFloat32), -math.SmallestNonzeroFloat64, false, []byte{}, int64(-719162), ts("0001-01-01T00:00:00Z"),
			ts("9999-12-31T23:59:59.999999Z"), int64(-999999999), int64(-999999999999999999), neg38,
			listV{}, mapV{}, structV{nil, nil, nil}, structV{int64(-7)}},
		{int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, structV{int64(0)}},
		{int64(3), absent, absent, absent, absent, absent, absent, absent, absent, absent, absent, absent, absent, absent, absent, absent,
			listV{nil, nil}, absent, structV{absent, absent, absent}, structV{int64(1)}},
		{int64(4), "ünïcödé ✓ 日本語 😀 \x00 \"quoted\" \\", int64(0), int64(0), int64(0), int64(0), 0.0, math.Inf(1), true,
			[]byte("\xff\xfe"), int64(0), int64(0), int64(-1), int64(0), int64(0), big.NewInt(0),
			listV{structV{"only", absent, absent}}, mapV{{"😀", int64(5)}},
			structV{structV{math.Inf(-1), nil}, listV{nil}, mapV{}}, structV{int64(2)}},
	}
	return schema, rows
}

func TestRoundTripEveryType(t *testing.T) {
	schema, rows := everyType()
	paths, infos := checkRoundTrip(t, schema, rows, writer.DefaultConfig())
	if len(paths) != 1 || infos[0].Rows != len(rows) {
		t.Fatalf("files %v infos %+v", paths, infos)
	}
	t.Logf("stats: %s", infos[0].Stats)
}

// TestRejectsBadRows: a bad value anywhere in a row fails EndRow, and the row leaves
// nothing behind.
func TestRejectsBadRows(t *testing.T) {
	schema := &table.StructType{Fields: []*table.StructField{
		field("id", table.Long, false),
		field("s", &table.StructType{Fields: []*table.StructField{field("a", table.Integer, false), field("b", table.String, true)}}, true),
		field("l", &table.ArrayType{ElementType: table.Short, ContainsNull: false}, true),
		field("m", &table.MapType{KeyType: table.String, ValueType: table.String, ValueContainsNull: false}, true),
	}}
	cases := []struct {
		name string
		row  []any
		want string
	}{
		{"missing required top-level", []any{absent, nil, nil, nil}, `column "id" is not nullable`},
		{"missing required struct field", []any{int64(1), structV{absent, "x"}, nil, nil}, `"s.a": missing value`},
		{"null required struct field", []any{int64(1), structV{nil, "x"}, nil, nil}, `"s.a": null in a non-nullable`},
		{"null list element", []any{int64(1), nil, listV{int64(1), nil}, nil}, `"l.element": null in a non-nullable`},
		{"short out of range", []any{int64(1), nil, listV{int64(1 << 20)}, nil}, `out of range for short`},
		{"null map value", []any{int64(1), nil, nil, mapV{{"k", nil}}}, `"m.value": null`},
		{"null map key", []any{int64(1), nil, nil, mapV{{nil, "v"}}}, `"m.key": null`},
		{"wrong kind", []any{int64(1), structV{"text", nil}, nil, nil}, `"s.a": a string or binary value cannot be stored`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf, err := writer.NewBuffer(writer.Spec{Schema: schema}, writer.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			fill(t, buf, schema, []any{int64(0), nil, listV{int64(1)}, mapV{{"a", "b"}}})
			if err := buf.EndRow(); err != nil {
				t.Fatal(err)
			}
			fill(t, buf, schema, c.row)
			err = buf.EndRow()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("EndRow = %v, want %q", err, c.want)
			}
			// The next good row still lands and the file reads back with 2 rows.
			fill(t, buf, schema, []any{int64(2), structV{int64(1), nil}, listV{}, mapV{}})
			if err := buf.EndRow(); err != nil {
				t.Fatal(err)
			}
			paths, _ := writeFilesFrom(t, buf)
			got := readBack(t, openDuck(t), paths, schema)
			if len(got) != 2 || got[1][0] != int64(2) {
				t.Fatalf("read back %v", got)
			}
		})
	}
}

func writeFilesFrom(t testing.TB, buf *writer.Buffer) ([]string, []writer.FileInfo) {
	return writeFilesInto(t, t.TempDir(), buf)
}

// TestStatsMatchDuckDB compares every file's statistics with min, max and null counts
// DuckDB computes over the same file.
func TestStatsMatchDuckDB(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	schema := &table.StructType{Fields: []*table.StructField{
		field("rid", table.Long, false),
		field("i", table.Integer, true),
		field("sh", table.Short, true),
		field("d", table.Double, true),
		field("s", table.String, true),
		field("dt", table.Date, true),
		field("ts", table.Timestamp, true),
		field("dec", &table.DecimalType{Precision: 12, Scale: 3}, true),
		field("st", &table.StructType{Fields: []*table.StructField{field("a", table.Long, true), field("b", table.String, true)}}, true),
		field("arr", &table.ArrayType{ElementType: table.Long, ContainsNull: true}, true),
		field("ok", table.Boolean, true),
	}}
	var rows [][]any
	maybe := func(v any) any {
		if rng.IntN(5) == 0 {
			return nil
		}
		return v
	}
	for i := range 5000 {
		rows = append(rows, []any{int64(i), maybe(int64(rng.Int32())), maybe(int64(int16(rng.Int32()))), maybe(rng.NormFloat64() * 1e6),
			maybe(fmt.Sprintf("s-%x", rng.Uint32())), maybe(int64(rng.IntN(40000) - 10000)), maybe(rng.Int64N(1 << 50)),
			maybe(rng.Int64N(1e12) - 5e11), maybe(structV{maybe(rng.Int64()), maybe(fmt.Sprint(rng.IntN(100)))}),
			maybe(listV{int64(1)}), maybe(rng.IntN(2) == 0)})
	}
	cfg := writer.DefaultConfig()
	cfg.TargetFileSize = 16 << 10 // several files, several row groups
	cfg.RowGroupSize = 16 << 10
	paths, infos := checkRoundTrip(t, schema, rows, cfg)
	if len(paths) < 3 {
		t.Fatalf("want several files, got %d", len(paths))
	}
	db := openDuck(t)
	total := 0
	for k, p := range paths {
		var st table.Stats
		if err := json.Unmarshal([]byte(infos[k].Stats), &st); err != nil {
			t.Fatalf("%s: %v", infos[k].Stats, err)
		}
		total += int(st.NumRecords)
		for _, col := range []string{"i", "sh", "d", "s", "dt", "ts", "dec", "st.a", "st.b"} {
			expr := col
			if strings.Contains(col, ".") {
				expr = strings.Replace(col, ".", "['", 1) + "']"
			}
			var lo, hi any
			var nulls, n int64
			q := fmt.Sprintf("SELECT min(%[1]s)::VARCHAR, max(%[1]s)::VARCHAR, count(*) - count(%[1]s), count(*) FROM read_parquet('%[2]s')", expr, p)
			if col == "ts" {
				q = fmt.Sprintf("SELECT strftime(date_trunc('millisecond', min(ts)), '%%Y-%%m-%%dT%%H:%%M:%%S.%%g'), strftime(date_trunc('millisecond', max(ts)), '%%Y-%%m-%%dT%%H:%%M:%%S.%%g'), count(*) - count(ts), count(*) FROM read_parquet('%s')", p)
			}
			if err := db.QueryRow(q).Scan(&lo, &hi, &nulls, &n); err != nil {
				t.Fatal(err)
			}
			if n != st.NumRecords {
				t.Fatalf("file %d: DuckDB counts %d rows, stats say %d", k, n, st.NumRecords)
			}
			if got := statAt(st.NullCount, col); got != fmt.Sprint(nulls) {
				t.Errorf("file %d %s: nullCount %s, DuckDB %d", k, col, got, nulls)
			}
			for _, mm := range []struct {
				name string
				m    map[string]json.RawMessage
				want any
			}{{"min", st.MinValues, lo}, {"max", st.MaxValues, hi}} {
				got := strings.Trim(statAt(mm.m, col), `"`)
				want := fmt.Sprint(mm.want)
				if col == "ts" {
					got = strings.TrimSuffix(got, "Z")
				}
				if col == "d" {
					gf, _ := strconvParse(got)
					wf, _ := strconvParse(want)
					if gf != wf {
						t.Errorf("file %d %s: %s %s, DuckDB %s", k, col, mm.name, got, want)
					}
					continue
				}
				if got != want {
					t.Errorf("file %d %s: %s %s, DuckDB %s", k, col, mm.name, got, want)
				}
			}
		}
		var arrNulls int64
		if err := db.QueryRow(fmt.Sprintf("SELECT count(*) - count(arr) FROM read_parquet('%s')", p)).Scan(&arrNulls); err != nil {
			t.Fatal(err)
		}
		if got := statAt(st.NullCount, "arr"); got != fmt.Sprint(arrNulls) {
			t.Errorf("file %d arr: nullCount %s, DuckDB %d", k, got, arrNulls)
		}
		if _, ok := st.MinValues["ok"]; ok {
			t.Errorf("boolean column has min/max stats")
		}
	}
	if total != len(rows) {
		t.Fatalf("stats count %d rows, wrote %d", total, len(rows))
	}
}

func strconvParse(s string) (float64, error) {
	var f float64
	_, err := fmt.Sscan(s, &f)
	return f, err
}

// statAt returns the JSON text of a (possibly nested, dotted) stats entry.
func statAt(m map[string]json.RawMessage, path string) string {
	head, rest, nested := strings.Cut(path, ".")
	raw, ok := m[head]
	if !ok {
		return "<absent>"
	}
	if !nested {
		return string(raw)
	}
	var inner map[string]json.RawMessage
	if err := json.Unmarshal(raw, &inner); err != nil {
		return "<not an object>"
	}
	return statAt(inner, rest)
}

type failingWriter struct{ left int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.left {
		return 0, fmt.Errorf("disk full")
	}
	f.left -= len(p)
	return len(p), nil
}

// TestEncodeRetry: a file whose write fails is encoded again whole by the next call.
func TestEncodeRetry(t *testing.T) {
	schema := &table.StructType{Fields: []*table.StructField{field("rid", table.Long, false), field("s", table.String, true)}}
	buf, err := writer.NewBuffer(writer.Spec{Schema: schema}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		fill(t, buf, schema, []any{int64(i), fmt.Sprint("v", i)})
		if err := buf.EndRow(); err != nil {
			t.Fatal(err)
		}
	}
	p := buf.Take()[0]
	if _, err := p.Encode(&failingWriter{left: 100}); err == nil {
		t.Fatal("want a write error")
	}
	if p.Done() {
		t.Fatal("a failed encode consumed the rows")
	}
	path := filepath.Join(t.TempDir(), "f.parquet")
	f, _ := os.Create(path)
	info, err := p.Encode(f)
	f.Close()
	if err != nil || info.Rows != 1000 || !p.Done() {
		t.Fatalf("retry: %+v %v", info, err)
	}
	if got := readBack(t, openDuck(t), []string{path}, schema); len(got) != 1000 {
		t.Fatalf("read %d rows", len(got))
	}
}

// TestReleaseFromAnotherGoroutine: the connector encodes and releases files on the
// committer goroutine while a worker keeps appending to the same Buffer. Run with
// -race (make test does).
func TestReleaseFromAnotherGoroutine(t *testing.T) {
	schema := &table.StructType{Fields: []*table.StructField{field("rid", table.Long, false), field("day", table.Integer, true)}}
	buf, err := writer.NewBuffer(writer.Spec{Schema: schema, PartitionColumns: []string{"day"}}, writer.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	taken := make(chan []*writer.Pending, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ps := range taken {
			for _, p := range ps {
				for !p.Done() {
					if _, err := p.Encode(io.Discard); err != nil {
						t.Error(err)
						return
					}
				}
				p.Release()
			}
		}
	}()
	for round := range 200 {
		for i := range 50 {
			fill(t, buf, schema, []any{int64(i), int64((round + i) % 7)})
			if err := buf.EndRow(); err != nil {
				t.Fatal(err)
			}
		}
		taken <- buf.Take()
	}
	close(taken)
	<-done
}
