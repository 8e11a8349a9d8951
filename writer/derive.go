package writer

import (
	"fmt"
	"strings"

	"github.com/sluicelake/sluice/table"
)

// Derivation computes a column from another column of the same row, after the decoder
// has set the row's values: "date(ts)" is the UTC day of timestamp column ts.
type Derivation struct {
	Func   string // "date" or "hour"
	Source string // column name
	source int    // resolved column index
}

// ParseDerivation parses an expression "func(column)". The functions are:
//
//	date(c)  date of a timestamp, timestamp_ntz or date column (UTC for timestamp)
//	hour(c)  hour of the day, 0–23, of a timestamp or timestamp_ntz column (UTC)
func ParseDerivation(expr string) (*Derivation, error) {
	e := strings.TrimSpace(expr)
	open := strings.IndexByte(e, '(')
	if open <= 0 || !strings.HasSuffix(e, ")") {
		return nil, fmt.Errorf("derived column %q: want func(column), e.g. date(ts)", expr)
	}
	d := &Derivation{Func: strings.ToLower(strings.TrimSpace(e[:open])), Source: strings.TrimSpace(e[open+1 : len(e)-1])}
	if d.Source == "" {
		return nil, fmt.Errorf("derived column %q: no source column", expr)
	}
	switch d.Func {
	case "date", "hour":
	default:
		return nil, fmt.Errorf("derived column %q: unknown function %q (known: date, hour)", expr, d.Func)
	}
	return d, nil
}

// ResultType is the type of the derived column given the source column's type.
func (d *Derivation) ResultType(src table.DataType) (table.DataType, error) {
	switch d.Func {
	case "date":
		switch src {
		case table.Timestamp, table.TimestampNTZ, table.Date:
			return table.Date, nil
		}
	case "hour":
		switch src {
		case table.Timestamp, table.TimestampNTZ:
			return table.Integer, nil
		}
	}
	return nil, fmt.Errorf("%s(%s): source column has type %s; %s() needs a timestamp%s", d.Func, d.Source, src, d.Func, map[bool]string{true: " or date", false: ""}[d.Func == "date"])
}

const microsPerDay = 86_400_000_000
const microsPerHour = 3_600_000_000

// eval computes the derived value from the source value (micros or days).
func (d *Derivation) eval(srcType table.DataType, v int64) int64 {
	switch d.Func {
	case "date":
		if srcType == table.Date {
			return v
		}
		return FloorDiv(v, microsPerDay)
	case "hour":
		return FloorDiv(v, microsPerHour) - FloorDiv(v, microsPerDay)*24
	}
	return 0
}

// FloorDiv divides rounding toward negative infinity, as time arithmetic on
// pre-1970 values needs.
func FloorDiv(a, b int64) int64 { return table.FloorDiv(a, b) }
