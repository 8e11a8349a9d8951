package table

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// ParsePartitionValue converts a serialized partition value (add.partitionValues) to a
// Go value of its column type: string, int64 (long, integer, short, byte), float64,
// bool, time.Time (date at UTC midnight; timestamp in UTC; timestamp_ntz as UTC wall
// time), []byte (binary), *big.Rat (decimal). A nil or empty value is null (nil): the
// protocol serializes nulls that way. The string "null" is a string like any other.
func ParsePartitionValue(t DataType, v *string) (any, error) {
	if v == nil {
		return nil, nil
	}
	s := *v
	if s == "" && t != String {
		return nil, nil
	}
	fail := func(err error) (any, error) {
		return nil, fmt.Errorf("partition value %q is not a valid %s: %v", s, t, err)
	}
	switch t := t.(type) {
	case *DecimalType:
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return fail(fmt.Errorf("not a number"))
		}
		return r, nil
	case PrimitiveType:
		switch t {
		case String:
			if s == "" {
				return nil, nil
			}
			return s, nil
		case Binary:
			return []byte(s), nil
		case Long, Integer, Short, Byte:
			bits := map[PrimitiveType]int{Long: 64, Integer: 32, Short: 16, Byte: 8}[t]
			n, err := strconv.ParseInt(s, 10, bits)
			if err != nil {
				return fail(err)
			}
			return n, nil
		case Float, Double:
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fail(err)
			}
			return f, nil
		case Boolean:
			b, err := strconv.ParseBool(strings.ToLower(s))
			if err != nil {
				return fail(err)
			}
			return b, nil
		case Date:
			d, err := time.Parse("2006-01-02", s)
			if err != nil {
				return fail(err)
			}
			return d, nil
		case Timestamp, TimestampNTZ:
			ts, err := parsePartitionTimestamp(s)
			if err != nil {
				return fail(err)
			}
			return ts, nil
		}
	}
	return nil, fmt.Errorf("partition value %q: type %s cannot be a partition column", s, t)
}

// parsePartitionTimestamp accepts the protocol's forms: "2021-09-08 11:11:11",
// "2021-09-08 11:11:11.123456" and ISO 8601 with a zone ("2021-09-08T11:11:11.123456Z").
func parsePartitionTimestamp(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("want yyyy-MM-dd HH:mm:ss[.ffffff] or ISO 8601")
}
