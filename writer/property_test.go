package writer_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// TestPropertyRoundTrip writes random schemas (every type, nested up to three levels)
// filled with random rows and checks DuckDB reads every value back.
func TestPropertyRoundTrip(t *testing.T) {
	seeds := 40
	if testing.Short() {
		seeds = 10
	}
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			g := &gen{rng: rand.New(rand.NewPCG(uint64(seed), 99))}
			schema := &table.StructType{Fields: []*table.StructField{field("rid", table.Long, false)}}
			for i := range 1 + g.rng.IntN(6) {
				schema.Fields = append(schema.Fields, field(fmt.Sprintf("c%d", i), g.typ(0), g.rng.IntN(4) > 0))
			}
			rows := make([][]any, 50+g.rng.IntN(150))
			for r := range rows {
				row := []any{int64(r)}
				for _, f := range schema.Fields[1:] {
					row = append(row, g.value(f.Type, f.Nullable, true))
				}
				rows[r] = row
			}
			cfg := writer.DefaultConfig()
			cfg.Compression = []string{"zstd", "snappy", "gzip", "none"}[seed%4]
			cfg.RowGroupSize = int64(1 + g.rng.IntN(64<<10))
			checkRoundTrip(t, schema, rows, cfg)
		})
	}
}

type gen struct{ rng *rand.Rand }

var primitiveTypes = []table.DataType{table.String, table.Long, table.Integer, table.Short, table.Byte, table.Float,
	table.Double, table.Boolean, table.Binary, table.Date, table.Timestamp, table.TimestampNTZ}

func (g *gen) typ(depth int) table.DataType {
	k := g.rng.IntN(10)
	if depth >= 3 {
		k = 0
	}
	switch {
	case k <= 5:
		if g.rng.IntN(6) == 0 {
			p := 1 + g.rng.IntN(38)
			return &table.DecimalType{Precision: p, Scale: g.rng.IntN(p + 1)}
		}
		return primitiveTypes[g.rng.IntN(len(primitiveTypes))]
	case k <= 7:
		st := &table.StructType{}
		for i := range 1 + g.rng.IntN(3) {
			st.Fields = append(st.Fields, field(fmt.Sprintf("f%d", i), g.typ(depth+1), g.rng.IntN(3) > 0))
		}
		return st
	case k == 8:
		return &table.ArrayType{ElementType: g.typ(depth + 1), ContainsNull: g.rng.IntN(2) == 0}
	default:
		keys := []table.DataType{table.String, table.Integer, table.Long}
		return &table.MapType{KeyType: keys[g.rng.IntN(len(keys))], ValueType: g.typ(depth + 1), ValueContainsNull: g.rng.IntN(2) == 0}
	}
}

func (g *gen) value(t table.DataType, nullable, canBeAbsent bool) any {
	if nullable && g.rng.IntN(7) == 0 {
		if canBeAbsent && g.rng.IntN(2) == 0 {
			return absent
		}
		return nil
	}
	switch t := t.(type) {
	case *table.DecimalType:
		digits := make([]byte, 1+g.rng.IntN(t.Precision))
		for i := range digits {
			digits[i] = byte('0' + g.rng.IntN(10))
		}
		if g.rng.IntN(8) == 0 {
			for i := range digits {
				digits[i] = '9'
			}
		}
		v, _ := new(big.Int).SetString(string(digits), 10)
		if g.rng.IntN(2) == 0 {
			v.Neg(v)
		}
		if t.Precision <= 18 {
			return v.Int64()
		}
		return v
	case table.PrimitiveType:
		switch t {
		case table.String:
			return g.str()
		case table.Binary:
			b := make([]byte, g.rng.IntN(12))
			for i := range b {
				b[i] = byte(g.rng.IntN(256))
			}
			return b
		case table.Long:
			return g.edge(math.MinInt64, math.MaxInt64)
		case table.Integer:
			return g.edge(math.MinInt32, math.MaxInt32)
		case table.Short:
			return g.edge(math.MinInt16, math.MaxInt16)
		case table.Byte:
			return g.edge(math.MinInt8, math.MaxInt8)
		case table.Float:
			return float64(float32(g.rng.NormFloat64() * math.Pow(10, float64(g.rng.IntN(30)-15))))
		case table.Double:
			return g.rng.NormFloat64() * math.Pow(10, float64(g.rng.IntN(200)-100))
		case table.Boolean:
			return g.rng.IntN(2) == 0
		case table.Date:
			return g.rng.Int64N(3_600_000) - 719_162 // 0001-01-01 … ~7800
		case table.Timestamp, table.TimestampNTZ:
			return g.rng.Int64N(250_000_000_000_000_000) - 62_135_596_800_000_000
		}
	case *table.StructType:
		v := make(structV, len(t.Fields))
		for i, f := range t.Fields {
			v[i] = g.value(f.Type, f.Nullable, true)
		}
		return v
	case *table.ArrayType:
		v := make(listV, g.rng.IntN(4))
		for i := range v {
			v[i] = g.value(t.ElementType, t.ContainsNull, false)
		}
		return v
	case *table.MapType:
		n := g.rng.IntN(4)
		seen := map[string]bool{}
		var v mapV
		for range n {
			k := g.value(t.KeyType, false, false)
			if seen[fmt.Sprint(k)] {
				continue
			}
			seen[fmt.Sprint(k)] = true
			v = append(v, [2]any{k, g.value(t.ValueType, t.ValueContainsNull, false)})
		}
		if v == nil {
			v = mapV{}
		}
		return v
	}
	panic(fmt.Sprint("unexpected type ", t))
}

func (g *gen) edge(lo, hi int64) int64 {
	switch g.rng.IntN(8) {
	case 0:
		return lo
	case 1:
		return hi
	case 2:
		return 0
	}
	return lo/2 + g.rng.Int64N(hi/2+1) + g.rng.Int64N(hi/2+1)
}

func (g *gen) str() string {
	alphabet := []rune("aZ09 _-é日本😀\"\\\n")
	r := make([]rune, g.rng.IntN(10))
	for i := range r {
		r[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(r)
}
