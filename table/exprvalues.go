package table

// Column values as table/expr reads them, from partition values and from statistics:
// for predicates on partition columns (optimize --where, query --where) and for
// skipping files by their min/max statistics.

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/sluicelake/sluice/table/expr"
)

// PartitionExprValue converts a serialized partition value of column f to an
// expression value (NULL for a null partition value).
func PartitionExprValue(f *StructField, raw *string) (expr.Value, error) {
	t, _ := ExprType(f.Type)
	v, err := ParsePartitionValue(f.Type, raw)
	if err != nil || v == nil {
		return expr.Value{Null: true, Kind: t.Kind}, err
	}
	out := expr.Value{Kind: t.Kind}
	switch v := v.(type) {
	case string:
		out.B = []byte(v)
	case []byte:
		out.B = v
	case int64:
		out.I = v
	case float64:
		out.F = v
	case bool:
		if v {
			out.I = 1
		}
	case time.Time:
		out.I = v.UnixMicro()
		if f.Type == Date {
			out.I = FloorDiv(v.Unix(), 86400)
		}
	case *big.Rat:
		return decimalExprValue(v, t)
	}
	return out, nil
}

// StatExprValue converts a minValues (upper false) or maxValues (upper true) entry of
// column f to an expression value; false when the type has no usable bound. Timestamp
// statistics are truncated to milliseconds, so an upper bound is moved to the end of
// its millisecond.
func StatExprValue(f *StructField, raw json.RawMessage, upper bool) (expr.Value, bool) {
	t, ok := ExprType(f.Type)
	if !ok || len(raw) == 0 {
		return expr.Value{}, false
	}
	out := expr.Value{Kind: t.Kind}
	var s string
	str := json.Unmarshal(raw, &s) == nil
	switch t.Kind {
	case expr.Byte, expr.Short, expr.Int, expr.Long:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return out, false
		}
		out.I = n
	case expr.Float, expr.Double:
		x, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return out, false
		}
		out.F = x
	case expr.String:
		if !str {
			return out, false
		}
		out.B = []byte(s)
	case expr.Date:
		d, err := time.Parse("2006-01-02", s)
		if !str || err != nil {
			return out, false
		}
		out.I = FloorDiv(d.Unix(), 86400)
	case expr.Timestamp, expr.TimestampNTZ:
		ts, err := parseStatTimestamp(s)
		if !str || err != nil {
			return out, false
		}
		out.I = ts.UnixMicro()
		if upper {
			out.I += 999
		}
	case expr.Decimal:
		r, ok := new(big.Rat).SetString(string(raw))
		if !ok {
			return out, false
		}
		v, err := decimalExprValue(r, t)
		return v, err == nil
	default:
		return out, false
	}
	return out, true
}

func parseStatTimestamp(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05.999999"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp statistic %q", s)
}

// decimalExprValue is a decimal as an expression value of type t: unscaled, in I for
// precisions up to 18, else in B as big-endian two's complement.
func decimalExprValue(r *big.Rat, t expr.Type) (expr.Value, error) {
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Scale)), nil)))
	if !scaled.IsInt() {
		return expr.Value{}, fmt.Errorf("decimal %s has more digits than scale %d", r.FloatString(t.Scale+4), t.Scale)
	}
	n := scaled.Num()
	if t.Precision <= 18 {
		return expr.Value{Kind: expr.Decimal, I: n.Int64()}, nil
	}
	return expr.Value{Kind: expr.Decimal, B: TwosComplement(n)}, nil
}

// TwosComplement renders n as a minimal big-endian two's complement integer, as
// Parquet stores a wide decimal's unscaled value.
func TwosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	if len(b) == 0 || b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	for i := range b {
		b[i] = ^b[i]
	}
	return b
}

// FloorDiv divides rounding toward negative infinity, as time arithmetic on pre-1970
// values needs.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
