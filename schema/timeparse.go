package schema

import (
	"errors"
	"time"
)

var errBadTime = errors.New("not an ISO-8601 date or timestamp")

// parseISOTime parses an ISO-8601 / RFC 3339 timestamp without allocating:
// YYYY-MM-DD[(T| )hh:mm[:ss[.fraction]]][Z|±hh[:mm]]. A value without a zone is UTC.
// It returns microseconds since the epoch (fractions beyond microseconds are truncated).
func parseISOTime(b []byte) (int64, error) {
	days, n, ok := parseDate(b)
	if !ok {
		return 0, errBadTime
	}
	micros := days * 86_400_000_000
	if n == len(b) {
		return micros, nil
	}
	if b[n] != 'T' && b[n] != 't' && b[n] != ' ' {
		return 0, errBadTime
	}
	i := n + 1
	hh, ok1 := digits(b, i, 2)
	if !ok1 || i+5 > len(b) || b[i+2] != ':' {
		return 0, errBadTime
	}
	mm, ok2 := digits(b, i+3, 2)
	if !ok2 || hh > 23 || mm > 59 {
		return 0, errBadTime
	}
	i += 5
	var ss, frac int64
	if i < len(b) && b[i] == ':' {
		s, ok := digits(b, i+1, 2)
		if !ok || s > 60 {
			return 0, errBadTime
		}
		ss = s
		i += 3
		if i < len(b) && (b[i] == '.' || b[i] == ',') {
			i++
			start := i
			scale := int64(100_000)
			for i < len(b) && b[i] >= '0' && b[i] <= '9' {
				frac += int64(b[i]-'0') * scale
				scale /= 10
				i++
			}
			if i == start {
				return 0, errBadTime
			}
		}
	}
	micros += (hh*3600+mm*60+ss)*1_000_000 + frac
	if i == len(b) {
		return micros, nil
	}
	switch b[i] {
	case 'Z', 'z':
		if i+1 != len(b) {
			return 0, errBadTime
		}
		return micros, nil
	case '+', '-':
		sign := int64(1)
		if b[i] == '-' {
			sign = -1
		}
		oh, ok := digits(b, i+1, 2)
		if !ok {
			return 0, errBadTime
		}
		j := i + 3
		var om int64
		if j < len(b) {
			if b[j] == ':' {
				j++
			}
			m, ok := digits(b, j, 2)
			if !ok {
				return 0, errBadTime
			}
			om = m
			j += 2
		}
		if j != len(b) || oh > 23 || om > 59 {
			return 0, errBadTime
		}
		return micros - sign*(oh*3600+om*60)*1_000_000, nil
	}
	return 0, errBadTime
}

// parseDate parses YYYY-MM-DD at the start of b and returns days since the epoch and
// the bytes consumed.
func parseDate(b []byte) (int64, int, bool) {
	if len(b) < 10 || b[4] != '-' || b[7] != '-' {
		return 0, 0, false
	}
	y, ok1 := digits(b, 0, 4)
	m, ok2 := digits(b, 5, 2)
	d, ok3 := digits(b, 8, 2)
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > int64(daysIn(time.Month(m), int(y))) {
		return 0, 0, false
	}
	return daysFromCivil(y, m, d), 10, true
}

func digits(b []byte, i, n int) (int64, bool) {
	if i+n > len(b) {
		return 0, false
	}
	var v int64
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int((m-1)%7%2)
}

// daysFromCivil converts a proleptic Gregorian date to days since 1970-01-01
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
