package expr

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Dates are days since 1970-01-01 and timestamps microseconds since
// 1970-01-01T00:00:00Z, in the proleptic Gregorian calendar (Spark 3). The
// session time zone is UTC: a TIMESTAMP and a TIMESTAMP_NTZ with the same
// microseconds show the same wall-clock time.

const (
	microsPerSecond = 1_000_000
	microsPerMinute = 60 * microsPerSecond
	microsPerHour   = 60 * microsPerMinute
	microsPerDay    = 24 * microsPerHour
	// Spark's dates are ints.
	minDays = math.MinInt32
	maxDays = math.MaxInt32
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// daysFromCivil returns the days since 1970-01-01 of y-m-d (after Howard
// Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays returns the year, month and day of days since 1970-01-01.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y, m int64) int64 {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func validDate(y, m, d int64) bool {
	return m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m)
}

// trimSpaceControl trims white space and control characters (bytes up to
// 0x20, and 0x7f) from both ends, as Spark's UTF8String.trimAll does before
// casting a string.
func trimSpaceControl(s []byte) []byte {
	i, j := 0, len(s)
	for i < j && (s[i] <= ' ' || s[i] == 0x7f) {
		i++
	}
	for j > i && (s[j-1] <= ' ' || s[j-1] == 0x7f) {
		j--
	}
	return s[i:j]
}

// parseDate parses a date as Spark's stringToDate does: [+-]yyyy,
// yyyy-[m]m, yyyy-[m]m-[d]d, optionally followed by ' ' or 'T' and anything.
// The year has 4 to 7 digits.
func parseDate(s []byte) (int64, bool) {
	s = trimSpaceControl(s)
	if len(s) == 0 {
		return 0, false
	}
	var seg [3]int64
	seg[1], seg[2] = 1, 1
	sign := int64(1)
	j := 0
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		j++
	}
	i, val, digits := 0, int64(0), 0
	valid := func(i, digits int) bool {
		if i == 0 {
			return digits >= 4 && digits <= 7
		}
		return digits > 0 && digits <= 2
	}
	for ; j < len(s) && s[j] != ' ' && s[j] != 'T'; j++ {
		c := s[j]
		if i < 2 && c == '-' {
			if !valid(i, digits) {
				return 0, false
			}
			seg[i] = val
			i, val, digits = i+1, 0, 0
			continue
		}
		if !isDigit(c) {
			return 0, false
		}
		val = val*10 + int64(c-'0')
		digits++
		if digits > 7 {
			return 0, false
		}
	}
	if !valid(i, digits) || i < 2 && j < len(s) {
		return 0, false
	}
	seg[i] = val
	y := sign * seg[0]
	if !validDate(y, seg[1], seg[2]) {
		return 0, false
	}
	d := daysFromCivil(y, seg[1], seg[2])
	if d < minDays || d > maxDays {
		return 0, false
	}
	return d, true
}

// parseTimestamp parses a timestamp as Spark's parseTimestampString and
// stringToTimestamp do: [+-]yyyy[-[m]m[-[d]d]], then optionally ' ' or 'T'
// and [h]h[:[m]m[:[s]s[.fraction]]], a zone id being allowed after the
// seconds (Z, +hh:mm, UTC+h, GMT, a region such as Europe/Paris, a Java short
// id such as PST). The year has 4 to 6 digits; fraction digits beyond
// microseconds are dropped. Without a zone the time is in UTC, the session
// time zone. With ntz a valid zone is ignored, as Spark's cast to
// TIMESTAMP_NTZ does; hasZone tells whether there was one. Time-only strings,
// which Spark reads on the current date, are refused as not deterministic.
func parseTimestamp(s []byte, ntz bool) (micros int64, hasZone bool, ok bool) {
	s = trimSpaceControl(s)
	if len(s) == 0 {
		return 0, false, false
	}
	seg := [9]int64{1, 1, 1, 0, 0, 0, 0, 0, 0}
	valid := func(seg, digits int) bool {
		return seg == 6 || seg == 0 && digits >= 4 && digits <= 6 || seg == 7 && digits <= 2 ||
			seg != 0 && seg != 6 && seg != 7 && digits > 0 && digits <= 2
	}
	i, val, digits, digitsMilli := 0, int64(0), 0, 0
	justTime := false
	sign := 0
	zone := ""
	j := 0
	if s[0] == '-' || s[0] == '+' {
		sign = 1
		if s[0] == '-' {
			sign = -1
		}
		j++
	}
	next := func() bool { // closes segment i
		if !valid(i, digits) {
			return false
		}
		seg[i] = val
		val, digits = 0, 0
		i++
		return true
	}
	for ; j < len(s); j++ {
		b := s[j]
		if isDigit(b) {
			if i == 6 {
				digitsMilli++
			}
			if i != 6 || digits < 6 {
				val = val*10 + int64(b-'0')
			}
			digits++
			if digits > 9 && i != 6 {
				return 0, false, false
			}
			continue
		}
		switch {
		case j == 0 && b == 'T':
			justTime = true
			i += 3
		case i < 2:
			if b == '-' {
				if !next() {
					return 0, false, false
				}
			} else if i == 0 && b == ':' && sign == 0 {
				justTime = true
				if !valid(3, digits) {
					return 0, false, false
				}
				seg[3] = val
				val, digits, i = 0, 0, 4
			} else {
				return 0, false, false
			}
		case i == 2:
			if (b != ' ' && b != 'T') || !next() {
				return 0, false, false
			}
		case i == 3 || i == 4:
			if b != ':' || !next() {
				return 0, false, false
			}
		case i == 5 || i == 6:
			if b == '.' && i == 5 {
				if !next() {
					return 0, false, false
				}
			} else {
				if !next() {
					return 0, false, false
				}
				zone = string(s[j:])
				hasZone = true
				j = len(s) - 1
			}
			if i == 6 && b != '.' {
				i++
			}
		default:
			if i >= len(seg)-1 || (b != ':' && b != ' ') || !next() {
				return 0, false, false
			}
		}
	}
	if i >= len(seg) || !valid(i, digits) {
		return 0, false, false
	}
	seg[i] = val
	for ; digitsMilli < 6; digitsMilli++ {
		seg[6] *= 10
	}
	if justTime {
		return 0, hasZone, false
	}
	y := seg[0]
	if sign < 0 {
		y = -y
	}
	if seg[3] > 23 || seg[4] > 59 || seg[5] > 59 || !validDate(y, seg[1], seg[2]) {
		return 0, false, false
	}
	days := daysFromCivil(y, seg[1], seg[2])
	tod := seg[3]*microsPerHour + seg[4]*microsPerMinute + seg[5]*microsPerSecond + seg[6]
	if days > math.MaxInt64/microsPerDay-1 || days < math.MinInt64/microsPerDay+1 {
		return 0, false, false
	}
	local := days*microsPerDay + tod
	if !hasZone {
		return local, false, true
	}
	off, loc, okz := zoneOffset(strings.TrimFunc(zone, func(r rune) bool { return r <= ' ' }))
	if !okz {
		return 0, true, false
	}
	if ntz {
		return local, true, true
	}
	if loc != nil {
		t := time.Date(int(y), time.Month(seg[1]), int(seg[2]), int(seg[3]), int(seg[4]), int(seg[5]), int(seg[6])*1000, loc)
		return t.UnixMicro(), true, true
	}
	return local - off*microsPerSecond, true, true
}

// zoneCache maps region ids to *time.Location, or to nil for unknown ids;
// unknown ids, which rows may hold in any number, are cached up to a bound.
var (
	zoneCache        sync.Map
	zoneCacheUnknown atomic.Int32
)

const maxUnknownZones = 1024

// shortZoneIDs is Java's ZoneId.SHORT_IDS, which Spark passes to ZoneId.of.
var shortZoneIDs = map[string]string{
	"ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires",
	"ART": "Africa/Cairo", "AST": "America/Anchorage", "BET": "America/Sao_Paulo",
	"BST": "Asia/Dhaka", "CAT": "Africa/Harare", "CNT": "America/St_Johns",
	"CST": "America/Chicago", "CTT": "Asia/Shanghai", "EAT": "Africa/Addis_Ababa",
	"ECT": "Europe/Paris", "IET": "America/Indiana/Indianapolis", "IST": "Asia/Kolkata",
	"JST": "Asia/Tokyo", "MIT": "Pacific/Apia", "NET": "Asia/Yerevan", "NST": "Pacific/Auckland",
	"PLT": "Asia/Karachi", "PNT": "America/Phoenix", "PRT": "America/Puerto_Rico",
	"PST": "America/Los_Angeles", "SST": "Pacific/Guadalcanal", "VST": "Asia/Ho_Chi_Minh",
	"EST": "-05:00", "MST": "-07:00", "HST": "-10:00",
}

// zoneOffset interprets a zone id as Spark's getZoneId does (Java's
// ZoneId.of with the short ids): Z, an offset +h, +hh, +hh:mm, +hhmm,
// +hh:mm:ss, +hhmmss (and +h:mm), UTC, GMT or UT optionally followed by an
// offset, or a region id from the system's time zone database. It returns the
// offset in seconds, or a location for region ids.
func zoneOffset(z string) (int64, *time.Location, bool) {
	if z == "" {
		return 0, nil, false
	}
	if id, ok := shortZoneIDs[z]; ok {
		z = id
	}
	if z == "Z" {
		return 0, nil, true
	}
	for _, prefix := range []string{"UTC", "GMT", "UT"} {
		if strings.HasPrefix(z, prefix) {
			rest := z[len(prefix):]
			if rest == "" {
				return 0, nil, true
			}
			if rest[0] == '+' || rest[0] == '-' {
				off, ok := parseOffset(rest)
				return off, nil, ok
			}
			break
		}
	}
	if z[0] == '+' || z[0] == '-' {
		off, ok := parseOffset(z)
		return off, nil, ok
	}
	if v, ok := zoneCache.Load(z); ok {
		loc, _ := v.(*time.Location)
		return 0, loc, loc != nil
	}
	var loc *time.Location
	if validRegionID(z) {
		if l, err := time.LoadLocation(z); err == nil {
			loc = l
		}
	}
	if loc != nil || zoneCacheUnknown.Add(1) <= maxUnknownZones {
		zoneCache.Store(z, loc)
	}
	return 0, loc, loc != nil
}

// validRegionID checks the syntax Java requires of region ids,
// [A-Za-z][A-Za-z0-9~/._+-]+, and refuses Go's special name Local.
func validRegionID(z string) bool {
	if len(z) < 2 || len(z) > 64 || !isLetter(z[0]) || z == "Local" || strings.Contains(z, "..") {
		return false
	}
	for i := 1; i < len(z); i++ {
		c := z[i]
		if !(isLetter(c) || isDigit(c) || strings.IndexByte("~/._+-", c) >= 0) {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parseOffset parses +h, +hh, +h:mm, +hh:mm, +hhmm, +hh:mm:ss, +hhmmss.
func parseOffset(s string) (int64, bool) {
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	s = s[1:]
	var parts []string
	if strings.Contains(s, ":") {
		parts = strings.Split(s, ":")
	} else {
		switch len(s) {
		case 1, 2:
			parts = []string{s}
		case 4:
			parts = []string{s[:2], s[2:]}
		case 6:
			parts = []string{s[:2], s[2:4], s[4:]}
		default:
			return 0, false
		}
	}
	if len(parts) > 3 {
		return 0, false
	}
	var v [3]int64
	for i, p := range parts {
		if len(p) == 0 || len(p) > 2 || i > 0 && len(p) != 2 {
			return 0, false
		}
		for j := 0; j < len(p); j++ {
			if !isDigit(p[j]) {
				return 0, false
			}
		}
		n, _ := strconv.Atoi(p)
		v[i] = int64(n)
	}
	if v[0] > 18 || v[1] > 59 || v[2] > 59 {
		return 0, false
	}
	off := v[0]*3600 + v[1]*60 + v[2]
	if off > 18*3600 {
		return 0, false
	}
	return sign * off, true
}

// appendYear formats a year as Spark does: at least 4 digits, with a sign
// beyond 9999 or before year 0.
func appendYear(b []byte, y int64) []byte {
	switch {
	case y > 9999:
		b = append(b, '+')
	case y < 0:
		b = append(b, '-')
		y = -y
	}
	return appendPadded(b, y, 4)
}

func appendPadded(b []byte, v int64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// appendDate formats days as yyyy-MM-dd.
func appendDate(b []byte, days int64) []byte {
	y, m, d := civilFromDays(days)
	b = appendYear(b, y)
	b = append(b, '-')
	b = appendPadded(b, m, 2)
	b = append(b, '-')
	return appendPadded(b, d, 2)
}

// appendTimestamp formats micros as Spark casts a timestamp to string:
// yyyy-MM-dd HH:mm:ss, then a fraction of up to 6 digits without trailing
// zeros, if not zero.
func appendTimestamp(b []byte, micros int64) []byte {
	days := floorDiv(micros, microsPerDay)
	tod := micros - days*microsPerDay
	b = appendDate(b, days)
	b = append(b, ' ')
	b = appendPadded(b, tod/microsPerHour, 2)
	b = append(b, ':')
	b = appendPadded(b, tod/microsPerMinute%60, 2)
	b = append(b, ':')
	b = appendPadded(b, tod/microsPerSecond%60, 2)
	if frac := tod % microsPerSecond; frac != 0 {
		b = append(b, '.')
		n := len(b)
		b = appendPadded(b, frac, 6)
		for len(b) > n && b[len(b)-1] == '0' {
			b = b[:len(b)-1]
		}
	}
	return b
}

// daysToMicros converts a date to a timestamp at midnight UTC.
func daysToMicros(days int64) (int64, bool) {
	if days > math.MaxInt64/microsPerDay || days < math.MinInt64/microsPerDay {
		return 0, false
	}
	return days * microsPerDay, true
}

// Date and time fields.
const (
	fYear = iota
	fMonth
	fDay
	fHour
	fMinute
	fSecond
)

func dateField(days int64, f int) int64 {
	y, m, d := civilFromDays(days)
	switch f {
	case fYear:
		return y
	case fMonth:
		return m
	}
	return d
}

func timeField(micros int64, f int) int64 {
	tod := floorMod(micros, microsPerDay)
	switch f {
	case fHour:
		return tod / microsPerHour
	case fMinute:
		return tod / microsPerMinute % 60
	}
	return tod / microsPerSecond % 60
}

// Truncation units of date_trunc and trunc.
const (
	truncInvalid = iota
	truncMicrosecond
	truncMillisecond
	truncSecond
	truncMinute
	truncHour
	truncDay
	truncWeek
	truncMonth
	truncQuarter
	truncYear
)

// truncUnit parses a unit of date_trunc (forDate false) or trunc (forDate
// true) case-insensitively, as Spark does; an unknown unit gives NULL.
func truncUnit(s []byte, forDate bool) int {
	u := strings.ToUpper(string(s))
	switch u {
	case "YEAR", "YYYY", "YY":
		return truncYear
	case "QUARTER":
		return truncQuarter
	case "MONTH", "MON", "MM":
		return truncMonth
	case "WEEK":
		return truncWeek
	}
	if forDate {
		return truncInvalid
	}
	switch u {
	case "DAY", "DD":
		return truncDay
	case "HOUR":
		return truncHour
	case "MINUTE":
		return truncMinute
	case "SECOND":
		return truncSecond
	case "MILLISECOND":
		return truncMillisecond
	case "MICROSECOND":
		return truncMicrosecond
	}
	return truncInvalid
}

// truncDays truncates a date to a unit of week or coarser.
func truncDays(days int64, unit int) int64 {
	switch unit {
	case truncWeek:
		return days - floorMod(days+3, 7) // Monday
	case truncMonth, truncQuarter, truncYear:
		y, m, _ := civilFromDays(days)
		switch unit {
		case truncQuarter:
			m = (m-1)/3*3 + 1
		case truncYear:
			m = 1
		}
		return daysFromCivil(y, m, 1)
	}
	return days
}

// truncMicros truncates a timestamp (UTC) to a unit.
func truncMicros(micros int64, unit int) int64 {
	switch unit {
	case truncMicrosecond:
		return micros
	case truncMillisecond:
		return micros - floorMod(micros, 1000)
	case truncSecond:
		return micros - floorMod(micros, microsPerSecond)
	case truncMinute:
		return micros - floorMod(micros, microsPerMinute)
	case truncHour:
		return micros - floorMod(micros, microsPerHour)
	}
	days := floorDiv(micros, microsPerDay)
	if unit != truncDay {
		days = truncDays(days, unit)
	}
	return days * microsPerDay
}

// A dateFormat is a compiled date_format pattern (Spark's datetime patterns,
// a subset).
type dateFormat []fmtItem

type fmtItem struct {
	letter byte // 0 for a literal
	n      int
	lit    string
}

var monthNames = [...]string{"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}
var dayNames = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// compileDateFormat compiles the pattern letters y, M, L, d, D, H, h, k, K,
// m, s, S, a and E, quoted literals ('...', ” for a quote) and other
// non-letter characters. Other letters (zones, weeks, eras...) are refused.
func compileDateFormat(p string) (dateFormat, string) {
	var f dateFormat
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			var lit strings.Builder
			for {
				if j >= len(p) {
					return nil, "unterminated quote"
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						lit.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				lit.WriteByte(p[j])
				j++
			}
			if j == i+1 {
				lit.WriteByte('\'') // '' is a quote
			}
			f = append(f, fmtItem{lit: lit.String()})
			i = j + 1
		case isLetter(c):
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			n := j - i
			max := 0
			switch c {
			case 'y', 'S':
				max = 9
			case 'M', 'L':
				max = 5
			case 'd', 'H', 'h', 'k', 'K', 'm', 's':
				max = 2
			case 'D':
				max = 3
			case 'a':
				max = 1
			case 'E':
				max = 4
			default:
				return nil, "pattern letter " + string(c)
			}
			if n > max {
				return nil, "pattern " + p[i:j]
			}
			f = append(f, fmtItem{letter: c, n: n})
			i = j
		default:
			f = append(f, fmtItem{lit: string(c)})
			i++
		}
	}
	return f, ""
}

func (f dateFormat) format(b []byte, micros int64) []byte {
	days := floorDiv(micros, microsPerDay)
	tod := micros - days*microsPerDay
	y, m, d := civilFromDays(days)
	hour := tod / microsPerHour
	for _, it := range f {
		n := it.n
		switch it.letter {
		case 0:
			b = append(b, it.lit...)
		case 'y':
			switch {
			case n == 2:
				b = appendPadded(b, floorMod(y, 100), 2)
			case y < 0:
				b = append(b, '-')
				b = appendPadded(b, -y, n)
			case n == 4 && y > 9999:
				b = append(b, '+')
				b = appendPadded(b, y, n)
			default:
				b = appendPadded(b, y, n)
			}
		case 'M', 'L':
			switch n {
			case 1, 2:
				b = appendPadded(b, m, n)
			case 3:
				b = append(b, monthNames[m-1][:3]...)
			case 4:
				b = append(b, monthNames[m-1]...)
			default:
				b = append(b, monthNames[m-1][0])
			}
		case 'd':
			b = appendPadded(b, d, n)
		case 'D':
			b = appendPadded(b, days-daysFromCivil(y, 1, 1)+1, n)
		case 'H':
			b = appendPadded(b, hour, n)
		case 'k':
			h := hour
			if h == 0 {
				h = 24
			}
			b = appendPadded(b, h, n)
		case 'h':
			h := hour % 12
			if h == 0 {
				h = 12
			}
			b = appendPadded(b, h, n)
		case 'K':
			b = appendPadded(b, hour%12, n)
		case 'm':
			b = appendPadded(b, tod/microsPerMinute%60, n)
		case 's':
			b = appendPadded(b, tod/microsPerSecond%60, n)
		case 'S':
			frac := appendPadded(nil, (tod%microsPerSecond)*1000, 9)
			b = append(b, frac[:n]...)
		case 'a':
			if hour < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'E':
			name := dayNames[floorMod(days+3, 7)]
			if n == 4 {
				b = append(b, name...)
			} else {
				b = append(b, name[:3]...)
			}
		}
	}
	return b
}
