package expr

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

type testCol struct {
	name string
	t    Type
	v    Value
}

func micros(s string) int64 {
	t, err := time.Parse("2006-01-02 15:04:05.999999", s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

func days(s string) int64 { return micros(s+" 00:00:00") / microsPerDay }

func bigDec(unscaled string) []byte {
	x, _ := new(big.Int).SetString(unscaled, 10)
	return bigToTwos(x)
}

var testCols = []testCol{
	{"i", Type{Kind: Int}, Value{Kind: Int, I: 5}},
	{"l", Type{Kind: Long}, Value{Kind: Long, I: 1234567890123}},
	{"s", Type{Kind: String}, Value{Kind: String, B: []byte("hello")}},
	{"d", Type{Kind: Date}, Value{Kind: Date, I: days("2024-03-15")}},
	{"ts", Type{Kind: Timestamp}, Value{Kind: Timestamp, I: micros("2024-03-15 13:45:30.123456")}},
	{"ntz", Type{Kind: TimestampNTZ}, Value{Kind: TimestampNTZ, I: micros("2024-03-15 13:45:30.123456")}},
	{"dec", Type{Kind: Decimal, Precision: 10, Scale: 2}, Value{Kind: Decimal, I: 12345}},
	{"big", Type{Kind: Decimal, Precision: 30, Scale: 5}, Value{Kind: Decimal, B: bigDec("1234567890123456789012345")}},
	{"f", Type{Kind: Double}, Value{Kind: Double, F: 2.5}},
	{"fl", Type{Kind: Float}, Value{Kind: Float, F: 1.5}},
	{"b", Type{Kind: Boolean}, Value{Kind: Boolean, I: 1}},
	{"bin", Type{Kind: Binary}, Value{Kind: Binary, B: []byte{1, 2}}},
	{"sh", Type{Kind: Short}, Value{Kind: Short, I: 7}},
	{"ty", Type{Kind: Byte}, Value{Kind: Byte, I: -3}},
	{"first", Type{Kind: String}, Value{Kind: String, B: []byte("Ada")}},
	{"last", Type{Kind: String}, Value{Kind: String, B: []byte("Lovelace")}},
	{"x", Type{Kind: Int}, Value{Kind: Int, I: 4}},
	{"birthDate", Type{Kind: Date}, Value{Kind: Date, I: days("1815-12-10")}},
	{"eventTime", Type{Kind: Timestamp}, Value{Kind: Timestamp, I: micros("2024-03-15 23:59:59")}},
	{"a b", Type{Kind: String}, Value{Kind: String, B: []byte("sp")}},
	{"n", Type{Kind: Int}, Value{Null: true}},
	{"ns", Type{Kind: String}, Value{Null: true}},
	{"date", Type{Kind: Date}, Value{Kind: Date, I: days("2000-01-01")}},
	{"nbig", Type{Kind: Decimal, Precision: 25, Scale: 0}, Value{Kind: Decimal, B: bigDec("-5")}},
}

func testResolve(name string) (int, Type, bool) {
	for i, c := range testCols {
		if strings.EqualFold(c.name, name) {
			return i, c.t, true
		}
	}
	return 0, Type{}, false
}

func testRow() Values {
	row := make(Values, len(testCols))
	for i, c := range testCols {
		row[i] = c.v
	}
	return row
}

func show(t Type, v Value) string { return t.String() + ":" + FormatValue(v, t) }

// evalCases are expressions and their results on testRow, as TYPE:value.
var evalCases = []struct{ src, want string }{
	// The examples of the Delta documentation.
	{"birthDate > '1900-01-01'", "BOOLEAN:false"},
	{"x > 3", "BOOLEAN:true"},
	{"CAST(eventTime AS DATE)", "DATE:2024-03-15"},
	{"YEAR(eventTime)", "INT:2024"},
	{"concat(first, ' ', last)", "STRING:Ada Lovelace"},

	// Literals.
	{"1", "INT:1"},
	{"2147483648", "BIGINT:2147483648"},
	{"9223372036854775808", "DECIMAL(19,0):9223372036854775808"},
	{"1L", "BIGINT:1"},
	{"1s", "SMALLINT:1"},
	{"1Y", "TINYINT:1"},
	{"1.5", "DECIMAL(2,1):1.5"},
	{"0.001", "DECIMAL(3,3):0.001"},
	{".5", "DECIMAL(1,1):0.5"},
	{"1.50", "DECIMAL(3,2):1.50"},
	{"1.5e3", "DOUBLE:1500.0"},
	{"1.5D", "DOUBLE:1.5"},
	{"1E10", "DOUBLE:1.0E10"},
	{"1.5F", "FLOAT:1.5"},
	{"1.5BD", "DECIMAL(2,1):1.5"},
	{"1e3BD", "DECIMAL(4,0):1000"},
	{"'it''s'", "STRING:its"},
	{`'a\tb'`, "STRING:a\tb"},
	{`"dq"`, "STRING:dq"},
	{`'\u0041\u00e9'`, "STRING:Aé"},
	{`'\uD83D\uDE00'`, "STRING:😀"},
	{`'\101\x'`, "STRING:Ax"},
	{`'a' 'b'`, "STRING:ab"},
	{"TRUE", "BOOLEAN:true"},
	{"false", "BOOLEAN:false"},
	{"NULL", "VOID:NULL"},
	{"DATE '2024-02-29'", "DATE:2024-02-29"},
	{"TIMESTAMP '2024-01-01 12:00:00.5'", "TIMESTAMP:2024-01-01 12:00:00.5"},
	{"TIMESTAMP '2024-01-01T12:00:00+02:00'", "TIMESTAMP:2024-01-01 10:00:00"},
	{"timestamp_ntz '2024-01-01 12:00:00'", "TIMESTAMP_NTZ:2024-01-01 12:00:00"},
	{"X'4142'", "BINARY:AB"},
	{"-- comment\n1 /* block /* nested */ */ + 1", "INT:2"},

	// Columns.
	{"i", "INT:5"},
	{"I", "INT:5"},
	{"`i`", "INT:5"},
	{"`a b`", "STRING:sp"},
	{"n", "INT:NULL"},
	{"date", "DATE:2000-01-01"},
	{"date > DATE '1999-12-31'", "BOOLEAN:true"},

	// Arithmetic.
	{"i + 1", "INT:6"},
	{"i + l", "BIGINT:1234567890128"},
	{"i - 7", "INT:-2"},
	{"i * sh", "INT:35"},
	{"i / 2", "DOUBLE:2.5"},
	{"i % 3", "INT:2"},
	{"-i % 3", "INT:-2"},
	{"- -i", "INT:5"},
	{"+i", "INT:5"},
	{"i DIV 2", "BIGINT:2"},
	{"7 / 0", "DOUBLE:NULL"},
	{"7.0D / 0", "DOUBLE:NULL"},
	{"i % 0", "INT:NULL"},
	{"i DIV 0", "BIGINT:NULL"},
	{"2147483647 + 1", "INT:-2147483648"},
	{"9223372036854775807L + 1", "BIGINT:-9223372036854775808"},
	{"CAST(100 AS TINYINT) + CAST(100 AS TINYINT)", "TINYINT:-56"},
	{"ty * 2", "INT:-6"},
	{"ty * ty", "TINYINT:9"},
	{"f * 2", "DOUBLE:5.0"},
	{"fl + 1", "FLOAT:2.5"},
	{"fl + 1.0D", "DOUBLE:2.5"},
	{"f % 1", "DOUBLE:0.5"},
	{"dec + 1", "DECIMAL(11,2):124.45"},
	{"dec + i", "DECIMAL(13,2):128.45"},
	{"dec - 0.45", "DECIMAL(11,2):123.00"},
	{"dec * 2", "DECIMAL(12,2):246.90"},
	{"dec / 4", "DECIMAL(14,6):30.862500"},
	{"dec % 10", "DECIMAL(4,2):3.45"},
	{"dec / 0", "DECIMAL(14,6):NULL"},
	{"dec + f", "DOUBLE:125.95"},
	{"dec DIV 2", "BIGINT:61"},
	{"big + 1", "DECIMAL(31,5):12345678901234567891.12345"},
	{"big - big", "DECIMAL(31,5):0.00000"},
	{"big * big", "DECIMAL(38,6):NULL"},
	{"big / 3", "DECIMAL(32,7):4115226300411522630.0411500"},
	{"big * 1.5", "DECIMAL(33,6):18518518351851851835.185175"},
	{"nbig * 2", "DECIMAL(27,0):-10"},
	{"-big", "DECIMAL(30,5):-12345678901234567890.12345"},
	{"abs(nbig)", "DECIMAL(25,0):5"},
	{"0.1 + 0.2", "DECIMAL(2,1):0.3"},
	{"1 / 3", "DOUBLE:0.3333333333333333"},
	{"1.0 / 3", "DECIMAL(7,6):0.333333"},
	{"2.0 / 3", "DECIMAL(7,6):0.666667"},
	{"-dec", "DECIMAL(10,2):-123.45"},
	{"'1' + 1", "DOUBLE:2.0"},
	{"'a' + 1", "DOUBLE:NULL"},
	{"d + 1", "DATE:2024-03-16"},
	{"d - 15", "DATE:2024-02-29"},
	{"1 + d", "DATE:2024-03-16"},
	{"abs(-5)", "INT:5"},
	{"abs(CAST(-128 AS TINYINT))", "TINYINT:-128"},
	{"abs(-1.5)", "DECIMAL(2,1):1.5"},
	{"abs(-2147483648)", "INT:-2147483648"},
	{"abs(-2147483649)", "BIGINT:2147483649"},
	{"-2147483648 - 1", "INT:2147483647"},
	{"- 128Y", "TINYINT:-128"},
	{"-9223372036854775808L", "BIGINT:-9223372036854775808"},
	{"-1.5", "DECIMAL(2,1):-1.5"},
	{"-1.5e3", "DOUBLE:-1500.0"},
	{"1 - -1", "INT:2"},
	{"i-1", "INT:4"},
	{"-i", "INT:-5"},
	{"abs('-2')", "DOUBLE:2.0"},
	{"NULL + 1", "INT:NULL"},
	{"n * 2", "INT:NULL"},

	// Comparisons.
	{"i = 5", "BOOLEAN:true"},
	{"i == 5", "BOOLEAN:true"},
	{"i <> 5", "BOOLEAN:false"},
	{"i != 4", "BOOLEAN:true"},
	{"i !< 5", "BOOLEAN:true"},
	{"i <=> NULL", "BOOLEAN:false"},
	{"n <=> NULL", "BOOLEAN:true"},
	{"n <=> n", "BOOLEAN:true"},
	{"n = NULL", "BOOLEAN:NULL"},
	{"n = 1", "BOOLEAN:NULL"},
	{"d > '2024-01-01'", "BOOLEAN:true"},
	{"d = '2024-03-15 10:00:00'", "BOOLEAN:true"},
	{"d = 'garbage'", "BOOLEAN:NULL"},
	{"ts > '2024-03-15'", "BOOLEAN:true"},
	{"ts = '2024-03-15 13:45:30.123456'", "BOOLEAN:true"},
	{"ntz = '2024-03-15 13:45:30.123456'", "BOOLEAN:true"},
	{"ts = ntz", "BOOLEAN:true"},
	{"d < ts", "BOOLEAN:true"},
	{"d = CAST(ts AS DATE)", "BOOLEAN:true"},
	{"'1.5' = 1", "BOOLEAN:true"},
	{"'1.5' = 1.5", "BOOLEAN:true"},
	{"'1.5' = 1.5D", "BOOLEAN:true"},
	{"s = 'hello'", "BOOLEAN:true"},
	{"s < 'help'", "BOOLEAN:true"},
	{"s > 1", "BOOLEAN:NULL"},
	{"f = 2.5", "BOOLEAN:true"},
	{"dec = 123.45", "BOOLEAN:true"},
	{"dec = 123.450", "BOOLEAN:true"},
	{"dec > 123", "BOOLEAN:true"},
	{"dec < 123.451", "BOOLEAN:true"},
	{"dec = i", "BOOLEAN:false"},
	{"big > 12345678901234567890", "BOOLEAN:true"},
	{"big < 12345678901234567891", "BOOLEAN:true"},
	{"nbig < 0", "BOOLEAN:true"},
	{"nbig = -5", "BOOLEAN:true"},
	{"l > 2147483647", "BOOLEAN:true"},
	{"fl = 1.5", "BOOLEAN:true"},
	{"b = 1", "BOOLEAN:true"},
	{"b = 0", "BOOLEAN:false"},
	{"b = 'true'", "BOOLEAN:true"},
	{"bin = X'0102'", "BOOLEAN:true"},
	{"bin < X'02'", "BOOLEAN:true"},
	{"CAST('NaN' AS DOUBLE) = CAST('nan' AS DOUBLE)", "BOOLEAN:true"},
	{"CAST('NaN' AS DOUBLE) > 1e308", "BOOLEAN:true"},
	{"0.0D = -0.0D", "BOOLEAN:true"},
	{"ty < sh", "BOOLEAN:true"},
	{"'b' > 'a' = true", "BOOLEAN:true"},

	// Boolean logic, three-valued.
	{"TRUE AND NULL", "BOOLEAN:NULL"},
	{"FALSE AND NULL", "BOOLEAN:false"},
	{"NULL AND FALSE", "BOOLEAN:false"},
	{"TRUE OR NULL", "BOOLEAN:true"},
	{"NULL OR TRUE", "BOOLEAN:true"},
	{"FALSE OR NULL", "BOOLEAN:NULL"},
	{"NOT NULL", "BOOLEAN:NULL"},
	{"NULL AND NULL", "BOOLEAN:NULL"},
	{"n > 1 AND x > 100", "BOOLEAN:false"},
	{"n > 1 AND x > 1", "BOOLEAN:NULL"},
	{"n > 1 OR x > 3", "BOOLEAN:true"},
	{"n > 1 OR x > 30", "BOOLEAN:NULL"},
	{"NOT x > 3", "BOOLEAN:false"},
	{"NOT n > 3", "BOOLEAN:NULL"},
	{"!b", "BOOLEAN:false"},
	{"x > 1 OR x > 2 AND x > 100", "BOOLEAN:true"},
	{"(x > 1 OR x > 2) AND x > 100", "BOOLEAN:false"},
	{"NOT x > 1 AND x > 100", "BOOLEAN:false"},
	{"n IS NULL", "BOOLEAN:true"},
	{"i IS NOT NULL", "BOOLEAN:true"},
	{"n > 1 IS UNKNOWN", "BOOLEAN:true"},
	{"b IS TRUE", "BOOLEAN:true"},
	{"n > 1 IS NOT TRUE", "BOOLEAN:true"},
	{"n > 1 IS FALSE", "BOOLEAN:false"},
	{"b IS NOT FALSE", "BOOLEAN:true"},
	{"i IS DISTINCT FROM NULL", "BOOLEAN:true"},
	{"n IS NOT DISTINCT FROM NULL", "BOOLEAN:true"},
	{"i IS DISTINCT FROM 5", "BOOLEAN:false"},

	// IN and BETWEEN.
	{"i IN (1, 5)", "BOOLEAN:true"},
	{"i IN (1, 2)", "BOOLEAN:false"},
	{"i IN (1, NULL)", "BOOLEAN:NULL"},
	{"i NOT IN (1, NULL)", "BOOLEAN:NULL"},
	{"i NOT IN (1, 2)", "BOOLEAN:true"},
	{"i IN (5, NULL)", "BOOLEAN:true"},
	{"n IN (1)", "BOOLEAN:NULL"},
	{"i IN ('5', 'x')", "BOOLEAN:true"},
	{"s IN ('hello')", "BOOLEAN:true"},
	{"dec IN (123.45, 1)", "BOOLEAN:true"},
	{"i IN (l, 5L)", "BOOLEAN:true"},
	{"i BETWEEN 1 AND 10", "BOOLEAN:true"},
	{"i NOT BETWEEN 1 AND 10", "BOOLEAN:false"},
	{"i BETWEEN 6 AND 10", "BOOLEAN:false"},
	{"d BETWEEN '2024-01-01' AND '2024-12-31'", "BOOLEAN:true"},
	{"i BETWEEN n AND 10", "BOOLEAN:NULL"},
	{"i BETWEEN n AND 1", "BOOLEAN:false"},
	{"i BETWEEN 1 AND 10 AND x = 4", "BOOLEAN:true"},

	// LIKE.
	{"s LIKE 'h%'", "BOOLEAN:true"},
	{"s LIKE 'h_llo'", "BOOLEAN:true"},
	{"s LIKE 'H%'", "BOOLEAN:false"},
	{"s ILIKE 'H%O'", "BOOLEAN:true"},
	{"s NOT LIKE '%x%'", "BOOLEAN:true"},
	{"s NOT ILIKE '%L%'", "BOOLEAN:false"},
	{`'a%b' LIKE 'a\%b'`, "BOOLEAN:true"},
	{`'axb' LIKE 'a\%b'`, "BOOLEAN:false"},
	{`'a\\b' LIKE 'a\\\\b'`, "BOOLEAN:true"},
	{"'a_b' LIKE 'a/_b' ESCAPE '/'", "BOOLEAN:true"},
	{"'é' LIKE '_'", "BOOLEAN:true"},
	{`'line1\nline2' LIKE 'line1%2'`, "BOOLEAN:true"},
	{"n LIKE 'x'", "BOOLEAN:NULL"},
	{"s LIKE NULL", "BOOLEAN:NULL"},
	{"s LIKE s", "BOOLEAN:true"},
	{"s LIKE ns", "BOOLEAN:NULL"},
	{"'abcabc' LIKE '%bc%bc'", "BOOLEAN:true"},
	{"'abcab' LIKE '%bc%bc'", "BOOLEAN:false"},
	{"'abc' LIKE '%%'", "BOOLEAN:true"},
	{"'' LIKE '%'", "BOOLEAN:true"},
	{"'' LIKE '_'", "BOOLEAN:false"},
	{"'aaa' LIKE 'a%a%a'", "BOOLEAN:true"},
	{"'aa' LIKE 'a%a%a'", "BOOLEAN:false"},
	{"i LIKE '5'", "BOOLEAN:true"},

	// CASE.
	{"CASE WHEN i > 3 THEN 'big' ELSE 'small' END", "STRING:big"},
	{"CASE WHEN i > 10 THEN 'big' END", "STRING:NULL"},
	{"CASE i WHEN 1 THEN 'one' WHEN 5 THEN 'five' END", "STRING:five"},
	{"CASE n WHEN 1 THEN 'one' ELSE 'other' END", "STRING:other"},
	{"CASE WHEN n > 1 THEN 1 ELSE 2 END", "INT:2"},
	{"CASE WHEN b THEN 1 ELSE 2.5 END", "DECIMAL(11,1):1.0"},
	{"CASE WHEN b THEN 1 ELSE 'x' END", "STRING:1"},
	{"CASE WHEN NULL THEN 1 ELSE 2 END", "INT:2"},

	// CAST.
	{"CAST('2024-02-30' AS DATE)", "DATE:NULL"},
	{"CAST('2024-1-5' AS DATE)", "DATE:2024-01-05"},
	{"CAST(' 2024-01-05 ' AS DATE)", "DATE:2024-01-05"},
	{"CAST('2024' AS DATE)", "DATE:2024-01-01"},
	{"CAST('2024-03' AS DATE)", "DATE:2024-03-01"},
	{"CAST('2024-01-05T10:00' AS DATE)", "DATE:2024-01-05"},
	{"CAST('2024-01 x' AS DATE)", "DATE:NULL"},
	{"CAST('24-01-05' AS DATE)", "DATE:NULL"},
	{"CAST('12' AS INT)", "INT:12"},
	{"CAST('1.9' AS INT)", "INT:1"},
	{"CAST('-1.9' AS INT)", "INT:-1"},
	{"CAST(' 7 ' AS INT)", "INT:7"},
	{"CAST('1e3' AS INT)", "INT:NULL"},
	{"CAST('2147483648' AS INT)", "INT:NULL"},
	{"CAST('2147483648' AS BIGINT)", "BIGINT:2147483648"},
	{"CAST('-9223372036854775808' AS BIGINT)", "BIGINT:-9223372036854775808"},
	{"CAST('9223372036854775808' AS BIGINT)", "BIGINT:NULL"},
	{"CAST('x' AS INT)", "INT:NULL"},
	{"CAST('' AS INT)", "INT:NULL"},
	{"CAST('128' AS TINYINT)", "TINYINT:NULL"},
	{"CAST(300 AS TINYINT)", "TINYINT:44"},
	{"CAST(3.99 AS INT)", "INT:3"},
	{"CAST(-3.99 AS INT)", "INT:-3"},
	{"CAST(1e20D AS INT)", "INT:2147483647"},
	{"CAST(-1e20D AS BIGINT)", "BIGINT:-9223372036854775808"},
	{"CAST(CAST('NaN' AS DOUBLE) AS INT)", "INT:0"},
	{"CAST(1e10D AS SMALLINT)", "SMALLINT:-1"},
	{"CAST(big AS BIGINT)", "BIGINT:-6101065172474983726"},
	{"CAST(i AS STRING)", "STRING:5"},
	{"CAST(f AS STRING)", "STRING:2.5"},
	{"CAST(1e10D AS STRING)", "STRING:1.0E10"},
	{"CAST(0.0001D AS STRING)", "STRING:1.0E-4"},
	{"CAST(0.001D AS STRING)", "STRING:0.001"},
	{"CAST(123456789.0D AS STRING)", "STRING:1.23456789E8"},
	{"CAST(1234567.0D AS STRING)", "STRING:1234567.0"},
	{"CAST(100D AS STRING)", "STRING:100.0"},
	{"CAST(-0.0D AS STRING)", "STRING:-0.0"},
	{"CAST(0.1F AS STRING)", "STRING:0.1"},
	{"CAST(CAST(0.1F AS DOUBLE) AS STRING)", "STRING:0.10000000149011612"},
	{"CAST(1e300D * 1e300D AS STRING)", "STRING:Infinity"},
	{"CAST(b AS STRING)", "STRING:true"},
	{"CAST(d AS STRING)", "STRING:2024-03-15"},
	{"CAST(ts AS STRING)", "STRING:2024-03-15 13:45:30.123456"},
	{"CAST(TIMESTAMP '2024-01-01 00:00:00.100' AS STRING)", "STRING:2024-01-01 00:00:00.1"},
	{"CAST(DATE '0099-01-01' AS STRING)", "STRING:0099-01-01"},
	{"CAST(dec AS STRING)", "STRING:123.45"},
	{"CAST(big AS STRING)", "STRING:12345678901234567890.12345"},
	{"CAST(0.0000001 AS STRING)", "STRING:1E-7"},
	{"CAST(0.00000010 AS STRING)", "STRING:1.0E-7"},
	{"CAST(0.000001 AS STRING)", "STRING:0.000001"},
	{"CAST(123.456 AS DECIMAL(5,2))", "DECIMAL(5,2):123.46"},
	{"CAST(123.455 AS DECIMAL(5,2))", "DECIMAL(5,2):123.46"},
	{"CAST(-123.455 AS DECIMAL(5,2))", "DECIMAL(5,2):-123.46"},
	{"CAST(1234.5 AS DECIMAL(5,2))", "DECIMAL(5,2):NULL"},
	{"CAST('1.005' AS DECIMAL(3,2))", "DECIMAL(3,2):1.01"},
	{"CAST(2.675D AS DECIMAL(3,2))", "DECIMAL(3,2):2.68"},
	{"CAST('abc' AS DECIMAL(5,2))", "DECIMAL(5,2):NULL"},
	{"CAST(' 1e2 ' AS DECIMAL(5,2))", "DECIMAL(5,2):100.00"},
	{"CAST('1e-100' AS DECIMAL(5,2))", "DECIMAL(5,2):0.00"},
	{"CAST('1e100' AS DECIMAL(5,2))", "DECIMAL(5,2):NULL"},
	{"CAST(i AS DECIMAL)", "DECIMAL(10,0):5"},
	{"CAST(l AS DECIMAL(25,3))", "DECIMAL(25,3):1234567890123.000"},
	{"CAST(big AS DECIMAL(10,2))", "DECIMAL(10,2):NULL"},
	{"CAST(dec AS DECIMAL(30,10))", "DECIMAL(30,10):123.4500000000"},
	{"CAST(CAST('NaN' AS DOUBLE) AS DECIMAL(5,2))", "DECIMAL(5,2):NULL"},
	{"CAST('true' AS BOOLEAN)", "BOOLEAN:true"},
	{"CAST(' Y ' AS BOOLEAN)", "BOOLEAN:true"},
	{"CAST('0' AS BOOLEAN)", "BOOLEAN:false"},
	{"CAST('maybe' AS BOOLEAN)", "BOOLEAN:NULL"},
	{"CAST(0 AS BOOLEAN)", "BOOLEAN:false"},
	{"CAST(2.5 AS BOOLEAN)", "BOOLEAN:true"},
	{"CAST(b AS INT)", "INT:1"},
	{"CAST('1.5' AS DOUBLE)", "DOUBLE:1.5"},
	{"CAST(' 1e3 ' AS DOUBLE)", "DOUBLE:1000.0"},
	{"CAST('1.5d' AS DOUBLE)", "DOUBLE:1.5"},
	{"CAST('-Infinity' AS DOUBLE)", "DOUBLE:-Infinity"},
	{"CAST('inf' AS DOUBLE)", "DOUBLE:Infinity"},
	{"CAST('1.5.5' AS DOUBLE)", "DOUBLE:NULL"},
	{"CAST('0x10' AS DOUBLE)", "DOUBLE:NULL"},
	{"CAST('1e400' AS DOUBLE)", "DOUBLE:Infinity"},
	{"CAST('3.4e39' AS FLOAT)", "FLOAT:Infinity"},
	{"CAST(dec AS DOUBLE)", "DOUBLE:123.45"},
	{"CAST(big AS DOUBLE)", "DOUBLE:1.2345678901234567E19"},
	{"CAST('2024-03-15 13:45:30' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 13:45:30"},
	{"CAST('2024-03-15 13:45' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 13:45:00"},
	{"CAST('2024-03-15 13' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 13:00:00"},
	{"CAST('2024-03-15T13:45:30Z' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 13:45:30"},
	{"CAST('2024-03-15T13:45:30.1234567Z' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 13:45:30.123456"},
	{"CAST('2024-03-15 13:45:30+05:30' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 08:15:30"},
	{"CAST('2024-03-15 13:45:30 UTC+1' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 12:45:30"},
	{"CAST('2024-03-15 13:45:30-8:00' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 21:45:30"},
	{"CAST('2024-03-15 13:45:30 EST' AS TIMESTAMP)", "TIMESTAMP:2024-03-15 18:45:30"},
	{"CAST('2024-03-15 13:45:30 Nowhere/Zone' AS TIMESTAMP)", "TIMESTAMP:NULL"},
	{"CAST('2024-03-15 13:45:30+05:30' AS TIMESTAMP_NTZ)", "TIMESTAMP_NTZ:2024-03-15 13:45:30"},
	{"CAST('2024-03-15 13:45Z' AS TIMESTAMP)", "TIMESTAMP:NULL"},
	{"CAST('13:45:00' AS TIMESTAMP)", "TIMESTAMP:NULL"},
	{"CAST('2024-03-15 25:00' AS TIMESTAMP)", "TIMESTAMP:NULL"},
	{"CAST('2024-03-15T' AS TIMESTAMP)", "TIMESTAMP:NULL"},
	{"CAST('1969-12-31 23:59:59.5' AS TIMESTAMP)", "TIMESTAMP:1969-12-31 23:59:59.5"},
	{"CAST(d AS TIMESTAMP)", "TIMESTAMP:2024-03-15 00:00:00"},
	{"CAST(d AS TIMESTAMP_NTZ)", "TIMESTAMP_NTZ:2024-03-15 00:00:00"},
	{"CAST(ntz AS TIMESTAMP)", "TIMESTAMP:2024-03-15 13:45:30.123456"},
	{"CAST(0 AS TIMESTAMP)", "TIMESTAMP:1970-01-01 00:00:00"},
	{"CAST(1.5D AS TIMESTAMP)", "TIMESTAMP:1970-01-01 00:00:01.5"},
	{"CAST(-1.5 AS TIMESTAMP)", "TIMESTAMP:1969-12-31 23:59:58.5"},
	{"CAST(ts AS BIGINT)", "BIGINT:1710510330"},
	{"CAST(TIMESTAMP '1969-12-31 23:59:59.5' AS BIGINT)", "BIGINT:-1"},
	{"CAST(ts AS DOUBLE)", "DOUBLE:1.710510330123456E9"},
	{"CAST(TIMESTAMP '1969-12-31 23:00:00' AS DATE)", "DATE:1969-12-31"},
	{"CAST(-1 AS BINARY)", "BINARY:\xff\xff\xff\xff"},
	{"CAST('abc' AS BINARY)", "BINARY:abc"},
	{"CAST(bin AS STRING)", "STRING:\x01\x02"},
	{"CAST(x AS VARCHAR(10))", "STRING:4"},
	{"CAST(NULL AS INT)", "INT:NULL"},
	{"TRY_CAST('x' AS INT)", "INT:NULL"},
	{"x::string", "STRING:4"},
	{"'5'::int + 1", "INT:6"},

	// Functions.
	{"month(eventTime)", "INT:3"},
	{"day(eventTime)", "INT:15"},
	{"dayofmonth(d)", "INT:15"},
	{"hour(ts)", "INT:13"},
	{"minute(ts)", "INT:45"},
	{"second(ts)", "INT:30"},
	{"year('2024-05-06')", "INT:2024"},
	{"hour('2024-05-06 07:08:09')", "INT:7"},
	{"year(d)", "INT:2024"},
	{"hour(d)", "INT:0"},
	{"year(ntz)", "INT:2024"},
	{"hour(ntz)", "INT:13"},
	{"year(NULL)", "INT:NULL"},
	{"year(TIMESTAMP '1969-12-31 23:00:00')", "INT:1969"},
	{"hour(TIMESTAMP '1969-12-31 23:00:00')", "INT:23"},
	{"year(DATE '-0044-03-15')", "INT:-44"},
	{"EXTRACT(YEAR FROM ts)", "INT:2024"},
	{"extract(month FROM d)", "INT:3"},
	{"extract(second FROM ts)", "DECIMAL(8,6):30.123456"},
	{"concat(first, n)", "STRING:NULL"},
	{"concat()", "STRING:"},
	{"concat(i, '-', d)", "STRING:5-2024-03-15"},
	{"concat(bin, bin)", "BINARY:\x01\x02\x01\x02"},
	{"first || ' ' || last", "STRING:Ada Lovelace"},
	{"1 || 2", "STRING:12"},
	{"concat_ws('-', first, n, last)", "STRING:Ada-Lovelace"},
	{"concat_ws(NULL, 'a')", "STRING:NULL"},
	{"concat_ws(',')", "STRING:"},
	{"substring(s, 2)", "STRING:ello"},
	{"substring(s, 2, 3)", "STRING:ell"},
	{"substring(s, -3)", "STRING:llo"},
	{"substring(s, -3, 2)", "STRING:ll"},
	{"substring(s, 0, 2)", "STRING:he"},
	{"substring(s, 10)", "STRING:"},
	{"substr(s, -10, 3)", "STRING:"},
	{"substr(s, -7, 4)", "STRING:he"},
	{"substring('héllo', 2, 2)", "STRING:él"},
	{"substring('héllo', -1)", "STRING:o"},
	{"substring(s FROM 2 FOR 3)", "STRING:ell"},
	{"substring(s, 2, -1)", "STRING:"},
	{"substring(bin, 2)", "BINARY:\x02"},
	{"substring(s, n)", "STRING:NULL"},
	{"substring(12345, 2, 2)", "STRING:23"},
	{"length(s)", "INT:5"},
	{"length('héllo')", "INT:5"},
	{"char_length(bin)", "INT:2"},
	{"character_length(123)", "INT:3"},
	{"lower('ÀBC')", "STRING:àbc"},
	{"upper(s)", "STRING:HELLO"},
	{"lcase('X')", "STRING:x"},
	{"ucase('x')", "STRING:X"},
	{"trim('  a b  ')", "STRING:a b"},
	{"ltrim('  a ')", "STRING:a "},
	{"rtrim(' a  ')", "STRING: a"},
	{`trim('\ta ')`, "STRING:\ta"},
	{"coalesce(n, 7)", "INT:7"},
	{"coalesce(n, NULL)", "INT:NULL"},
	{"coalesce(n, l)", "BIGINT:1234567890123"},
	{"coalesce(n, 'x')", "STRING:x"},
	{"coalesce(NULL)", "VOID:NULL"},
	{"coalesce(i, n)", "INT:5"},
	{"nvl(n, 1)", "INT:1"},
	{"ifnull(n, 2)", "INT:2"},
	{"if(i > 3, 'y', 'n')", "STRING:y"},
	{"IF(n > 3, 1, 2)", "INT:2"},
	{"if(b, 1, 2.5)", "DECIMAL(11,1):1.0"},
	{"nullif(i, 5)", "INT:NULL"},
	{"nullif(i, 4)", "INT:5"},
	{"nvl2(n, 1, 2)", "INT:2"},
	{"nvl2(i, 1, 2)", "INT:1"},
	{"isnull(n)", "BOOLEAN:true"},
	{"isnotnull(i)", "BOOLEAN:true"},
	{"date(eventTime)", "DATE:2024-03-15"},
	{"to_date('2024-01-02')", "DATE:2024-01-02"},
	{"to_date(ts)", "DATE:2024-03-15"},
	{"int('42')", "INT:42"},
	{"string(1.5)", "STRING:1.5"},
	{"decimal('3.7')", "DECIMAL(10,0):4"},
	{"timestamp(d)", "TIMESTAMP:2024-03-15 00:00:00"},
	{"date_format(ts, 'yyyy-MM')", "STRING:2024-03"},
	{"date_format(ts, 'yyyy-MM-dd-HH')", "STRING:2024-03-15-13"},
	{"date_format(ts, 'yyyy-MM-dd HH:mm:ss.SSS')", "STRING:2024-03-15 13:45:30.123"},
	{"date_format(d, 'dd/MM/yy')", "STRING:15/03/24"},
	{"date_format(ts, 'EEE, MMM d')", "STRING:Fri, Mar 15"},
	{"date_format(ts, 'EEEE MMMM')", "STRING:Friday March"},
	{"date_format(ts, 'hh a')", "STRING:01 PM"},
	{`date_format(ts, "'T'HH''mm")`, "STRING:T13'45"},
	{"date_format(ts, 'D')", "STRING:75"},
	{"date_format(NULL, 'yyyy')", "STRING:NULL"},
	{"date_format('2024-01-02 03:04:05', 'H:m:s')", "STRING:3:4:5"},
	{"date_trunc('MONTH', ts)", "TIMESTAMP:2024-03-01 00:00:00"},
	{"date_trunc('HOUR', ts)", "TIMESTAMP:2024-03-15 13:00:00"},
	{"date_trunc('week', ts)", "TIMESTAMP:2024-03-11 00:00:00"},
	{"date_trunc('QUARTER', ts)", "TIMESTAMP:2024-01-01 00:00:00"},
	{"date_trunc('yyyy', ts)", "TIMESTAMP:2024-01-01 00:00:00"},
	{"date_trunc('MILLISECOND', ts)", "TIMESTAMP:2024-03-15 13:45:30.123"},
	{"date_trunc('DAY', TIMESTAMP '1969-12-31 23:00:00')", "TIMESTAMP:1969-12-31 00:00:00"},
	{"date_trunc('bogus', ts)", "TIMESTAMP:NULL"},
	{"date_trunc(s, ts)", "TIMESTAMP:NULL"},
	{"trunc(d, 'YEAR')", "DATE:2024-01-01"},
	{"trunc(d, 'MM')", "DATE:2024-03-01"},
	{"trunc(ts, 'week')", "DATE:2024-03-11"},
	{"trunc(d, 'DAY')", "DATE:NULL"},
}

func TestEval(t *testing.T) {
	row := testRow()
	for _, c := range evalCases {
		p, err := Compile(c.src, testResolve)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.src, err)
			continue
		}
		v, err := p.Eval(row)
		if err != nil {
			t.Errorf("Eval(%q): %v", c.src, err)
			continue
		}
		if got := show(p.Type(), v); got != c.want {
			t.Errorf("%s\n got %q\nwant %q", c.src, got, c.want)
		}
		if v.Kind != p.Type().Kind {
			t.Errorf("%s: result kind %v, type %v", c.src, v.Kind, p.Type())
		}
	}
}

func TestRegionTimeZone(t *testing.T) {
	if _, err := time.LoadLocation("America/New_York"); err != nil {
		t.Skip("no time zone database:", err)
	}
	for src, want := range map[string]string{
		"CAST('2024-03-15 13:45:30 America/New_York' AS TIMESTAMP)": "TIMESTAMP:2024-03-15 17:45:30",
		"CAST('2024-01-15 13:45:30 America/New_York' AS TIMESTAMP)": "TIMESTAMP:2024-01-15 18:45:30",
		"CAST('2024-07-01T00:00:00 PST' AS TIMESTAMP)":              "TIMESTAMP:2024-07-01 07:00:00",
	} {
		p, err := Compile(src, nil)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := p.Eval(nil)
		if got := show(p.Type(), v); got != want {
			t.Errorf("%s: got %q, want %q", src, got, want)
		}
	}
}

func TestColumns(t *testing.T) {
	p, err := Compile("i + x > l AND i < 10 OR 1 = 2", testResolve)
	if err != nil {
		t.Fatal(err)
	}
	got := p.Columns()
	want := []int{0, 1, 16}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("Columns() = %v, want %v", got, want)
	}
	if p.Source() != "i + x > l AND i < 10 OR 1 = 2" {
		t.Errorf("Source() = %q", p.Source())
	}
	p, err = Compile("1 + 2 = 3", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Columns()) != 0 {
		t.Errorf("Columns() = %v, want none", p.Columns())
	}
	if v, err := p.Eval(nil); err != nil || v.I != 1 {
		t.Errorf("Eval(nil) = %v, %v", v, err)
	}
}

func TestErrors(t *testing.T) {
	type syntax struct {
		src string
		pos int
		msg string
	}
	for _, c := range []syntax{
		{"x >", 3, "unexpected end of expression"},
		{"(x > 1", 6, "expected ')'"},
		{"x > 1)", 5, "unexpected ')'"},
		{"'abc", 0, "unterminated string"},
		{"x # 1", 2, "unexpected character '#'"},
		{"", 0, "empty expression"},
		{"   ", 0, "empty expression"},
		{"CAST(x AS)", 9, "expected a type name"},
		{"CAST(x AS foo)", 10, "unknown type foo"},
		{"DATE '2024-13-01'", 5, "cannot parse the DATE value"},
		{"TIMESTAMP_NTZ '2024-01-01 00:00:00Z'", 14, "cannot parse the TIMESTAMP_NTZ value"},
		{"s LIKE 'a!' ESCAPE '!'", 7, "not allowed to end with the escape character"},
		{`s LIKE 'a\\b'`, 7, "not allowed to precede 'b'"},
		{"s LIKE 'a' ESCAPE 'xy'", 18, "single character"},
		{"1.5abc", 0, "invalid numeric literal"},
		{"128Y", 0, "out of range for TINYINT"},
		{"x + -129Y", 4, "out of range for TINYINT"},
		{"1e400", 0, "out of range for DOUBLE"},
		{"123456789012345678901234567890123456789", 0, "out of range for DECIMAL"},
		{"CAST(x AS DECIMAL(40,2))", 10, "invalid decimal type"},
		{"i BETWEEN 1", 11, "expected AND"},
		{"CASE WHEN x THEN 1", 18, "expected END"},
		{"CASE END", 5, "unexpected 'END'"},
		{"x IN ()", 6, "unexpected ')'"},
		{"a AND", 5, "unexpected end"},
		{"`abc", 0, "unterminated quoted identifier"},
		{"/* x", 0, "unterminated comment"},
		{"x NOT 1", 2, "unexpected 'NOT'"},
		{"x IS 1", 5, "expected NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM"},
		{"foo 'x'", 0, "literals of type FOO are not supported"},
		{"x > AND", 4, "unexpected 'AND'"},
		{"upper(DISTINCT s)", 6, "unexpected 'DISTINCT'"},
		{strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300), 200, "nested too deeply"},
		{strings.Repeat("- ", 300) + "1", 0, "nested too deeply"},
		{strings.Repeat("i + ", 1500) + "1", 0, "nested too deeply"},
		{strings.Repeat("(i + ", 150) + "1" + strings.Repeat(") + 1", 150) + strings.Repeat(" + 1", 900), 0, "nested too deeply"},
	} {
		_, err := Compile(c.src, testResolve)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Compile(%q) = %v, want a SyntaxError", c.src, err)
			continue
		}
		if se.Pos != c.pos && !strings.Contains(c.msg, "nested") || !strings.Contains(se.Msg, c.msg) || se.Expr != c.src {
			t.Errorf("Compile(%q) = %v (pos %d), want pos %d and %q", c.src, err, se.Pos, c.pos, c.msg)
		}
	}

	for src, what := range map[string]string{
		"a.b > 1":                     "nested field reference a.b",
		"s.`x y` = 1":                 "nested field reference s.`x y`",
		"foo(x) > 1":                  "function foo",
		"current_date()":              "function current_date",
		"x > current_date":            "function current_date",
		"ts < current_timestamp()":    "function current_timestamp",
		"rand() > 0.5":                "function rand",
		"(select 1)":                  "subquery",
		"x IN (SELECT a FROM t)":      "subquery",
		"EXISTS (SELECT 1)":           "subquery",
		"NOT EXISTS (SELECT 1)":       "subquery",
		"a[0]":                        "subscript [...]",
		"s RLIKE 'x'":                 "RLIKE",
		"s REGEXP 'x'":                "REGEXP",
		"x & 1":                       "operator &",
		"x | 1 = 1":                   "operator |",
		"~x":                          "operator ~",
		"x << 1":                      "operator <<",
		"INTERVAL 1 DAY":              "INTERVAL literal",
		"INTERVAL '1' DAY":            "INTERVAL literal",
		"count(*)":                    "function count",
		"sum(x) OVER ()":              "function sum",
		"db.f(x)":                     "function db.f",
		"CAST(x AS ARRAY<INT>)":       "type ARRAY",
		"to_date(s, 'yyyy')":          "to_date with a format",
		"date_format(ts, 'QQ')":       `date_format pattern "QQ"`,
		"date_format(ts, s)":          "date_format with a format that is not a constant",
		"s LIKE ANY ('a')":            "LIKE ANY",
		"transform(a, x -> x + 1)":    "function transform",
		"(x, s)":                      "struct constructor (a, b, ...)",
		"trim(BOTH 'x' FROM s)":       "trim(BOTH ... FROM ...)",
		"EXTRACT(DOW FROM d)":         "EXTRACT(DOW FROM ...)",
		"*":                           "star (*)",
		"upper(s).x":                  "field access .x",
		"`my udf`(x)":                 "function `my udf`",
		"named_struct('a', 1).a = 1":  "function named_struct",
		"x = 1 AND unknown_fn(s) = 2": "function unknown_fn",
		"d - DATE '2020-01-01' > 1":   "subtraction of DATE and DATE",
		"ts - ts":                     "subtraction of TIMESTAMP and TIMESTAMP",
	} {
		_, err := Compile(src, testResolve)
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.What != what || ue.Expr != src {
			t.Errorf("Compile(%q) = %v, want UnsupportedError %q", src, err, what)
		}
	}
	_, err := Compile("foo(x) > 1", testResolve)
	if want := `expression "foo(x) > 1": function foo is not supported (supported: abs, bigint, `; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want prefix %q", err, want)
	}
	_, err = Compile("current_date() > d", testResolve)
	if want := `expression "current_date() > d": function current_date is not supported (not deterministic)`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	for src, msg := range map[string]string{
		"'a' + true":                    "cannot apply + to STRING and BOOLEAN",
		"b + 1":                         "cannot apply + to BOOLEAN and INT",
		"d * 2":                         "cannot apply * to DATE and INT",
		"d + l":                         "cannot apply + to DATE and BIGINT",
		"x AND TRUE":                    "an operand of AND must be BOOLEAN, not INT",
		"NOT s":                         "the operand of NOT must be BOOLEAN, not STRING",
		"-b":                            "cannot apply unary - to BOOLEAN",
		"d < 1":                         "cannot compare DATE with INT",
		"b < 1":                         "cannot compare BOOLEAN with INT",
		"bin = 1":                       "cannot compare BINARY with INT",
		"CAST(d AS INT)":                "cannot cast DATE to INT",
		"CAST(1 AS DATE)":               "cannot cast INT to DATE",
		"date(1)":                       "cannot cast INT to DATE",
		"substring(s)":                  "function substring takes 2 to 3 argument(s), not 1",
		"coalesce()":                    "function coalesce takes at least 1 argument(s), not 0",
		"CASE WHEN x THEN 1 END":        "a WHEN condition must be BOOLEAN, not INT",
		"CASE WHEN b THEN b ELSE 1 END": "CASE branches have no common type: BOOLEAN, INT",
		"coalesce(b, 1)":                "the arguments of coalesce have no common type: BOOLEAN, INT",
		"abs(d)":                        "the argument of abs must be a number, not DATE",
		"year(i)":                       "the argument of year must be DATE, not INT",
		"hour(b)":                       "the argument of hour must be TIMESTAMP, not BOOLEAN",
		"x IN (d)":                      "IN needs values of a common type, not INT, DATE",
		"if(i, 1, 2)":                   "the condition of if must be BOOLEAN, not INT",
		"i IS TRUE":                     "the operand of IS TRUE/FALSE must be BOOLEAN, not INT",
		"to_date(i)":                    "the argument of to_date must be a STRING, DATE or TIMESTAMP, not INT",
		"s LIKE d":                      "",
		"i BETWEEN d AND 2":             "cannot compare INT with DATE",
	} {
		_, err := Compile(src, testResolve)
		if msg == "" {
			if err != nil {
				t.Errorf("Compile(%q) = %v, want no error", src, err)
			}
			continue
		}
		var te *TypeError
		if !errors.As(err, &te) || !strings.Contains(te.Msg, msg) {
			t.Errorf("Compile(%q) = %v, want TypeError %q", src, err, msg)
		}
	}
	_, err = Compile("'a' + true", testResolve)
	if want := `expression "'a' + true": type error at position 4: cannot apply + to STRING and BOOLEAN`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}

	_, err = Compile("x > 1 AND nope = 2", testResolve)
	var ce *UnknownColumnError
	if !errors.As(err, &ce) || ce.Name != "nope" || ce.Pos != 10 {
		t.Errorf("got %v, want UnknownColumnError nope at 10", err)
	}
	if want := `expression "x > 1 AND nope = 2": unknown column nope at position 10`; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestEvalErrors(t *testing.T) {
	p, err := Compile("i > 1", testResolve)
	if err != nil {
		t.Fatal(err)
	}
	row := testRow()
	row[0] = Value{Kind: String, B: []byte("5")}
	_, err = p.Eval(row)
	var ee *EvalError
	if !errors.As(err, &ee) || !strings.Contains(ee.Msg, "column i is INT but the row holds a STRING value") {
		t.Errorf("Eval = %v, want an EvalError", err)
	}
	if _, err := p.Eval(nil); !errors.As(err, &ee) {
		t.Errorf("Eval(nil) = %v, want an EvalError", err)
	}
	p, err = Compile("'x' LIKE s", testResolve)
	if err != nil {
		t.Fatal(err)
	}
	row = testRow()
	row[2] = Value{Kind: String, B: []byte(`a\`)}
	if _, err := p.Eval(row); !errors.As(err, &ee) || !strings.Contains(ee.Msg, "invalid LIKE pattern") {
		t.Errorf("Eval = %v, want an EvalError for the pattern", err)
	}
}

func TestDecimalRowRange(t *testing.T) {
	p, err := Compile("dec + 1", testResolve)
	if err != nil {
		t.Fatal(err)
	}
	row := testRow()
	row[6] = Value{Kind: Decimal, I: 1e12} // DECIMAL(10,2) holds less than 1e10
	var ee *EvalError
	if _, err := p.Eval(row); !errors.As(err, &ee) || !strings.Contains(ee.Msg, "unscaled value 1000000000000") {
		t.Errorf("Eval = %v, want an EvalError", err)
	}
}

// TestConcurrentEval evaluates one Program from several goroutines, for the
// race detector.
func TestConcurrentEval(t *testing.T) {
	p, err := Compile("concat(s, CAST(ts AS STRING)) LIKE 'hello2024%' AND dec * 2 > 100 AND YEAR(d) = 2024", testResolve)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			row := testRow()
			for i := 0; i < 200; i++ {
				if v, err := p.Eval(row); err != nil || v.I != 1 {
					done <- fmt.Errorf("Eval = %v, %v", v, err)
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestRowNormalization checks that out-of-range row values of narrow kinds
// are brought in range rather than trusted.
func TestRowNormalization(t *testing.T) {
	p, err := Compile("ty + 0", testResolve)
	if err != nil {
		t.Fatal(err)
	}
	row := testRow()
	row[13] = Value{Kind: Byte, I: 200}
	v, err := p.Eval(row)
	if err != nil || v.I != -56 {
		t.Errorf("got %v, %v; want -56", v, err)
	}
}

func TestCastValueAndFormat(t *testing.T) {
	v, err := CastValue(Value{Kind: String, B: []byte("2024-03-15 10:00:00")}, Type{Kind: String}, Type{Kind: Date})
	if err != nil || v.Kind != Date || v.I != days("2024-03-15") {
		t.Errorf("CastValue = %v, %v", v, err)
	}
	v, err = CastValue(Value{Null: true}, Type{Kind: Int}, Type{Kind: Long})
	if err != nil || !v.Null || v.Kind != Long {
		t.Errorf("CastValue(NULL) = %v, %v", v, err)
	}
	if _, err := CastValue(Value{Kind: Date}, Type{Kind: Date}, Type{Kind: Int}); err == nil {
		t.Error("CastValue(DATE to INT) succeeded")
	}
	v, err = CastValue(Value{Kind: Int, I: 7}, Type{Kind: Int}, Type{Kind: Decimal, Precision: 20, Scale: 2})
	if err != nil || FormatValue(v, Type{Kind: Decimal, Precision: 20, Scale: 2}) != "7.00" {
		t.Errorf("CastValue to DECIMAL(20,2) = %v, %v", v, err)
	}
	if s := FormatValue(Value{Null: true}, Type{Kind: Int}); s != "NULL" {
		t.Errorf("FormatValue(NULL) = %q", s)
	}
}

// TestNoAllocs checks that comparisons, logic, arithmetic and folded
// constants do not allocate per row.
func TestNoAllocs(t *testing.T) {
	var row Row = testRow() // converted once: a slice in an interface allocates
	for _, src := range []string{
		"x > 3 AND s = 'hello' AND i < 100",
		"birthDate > '1900-01-01'",
		"CAST(eventTime AS DATE) = d",
		"YEAR(eventTime) = 2024 AND i + 1 > 2",
		"s LIKE 'h%o' OR i IN (1, 2, 3)",
		"dec > 100.5 AND f * 2 < 10",
		"substring(s, 2, 3) = 'ell' AND trim(s) = s",
		"CASE WHEN i > 3 THEN 1 ELSE 2 END = 1",
		"coalesce(n, x) BETWEEN 1 AND 10",
	} {
		p, err := Compile(src, testResolve)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() { _, _ = p.Eval(row) })
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Eval", src, allocs)
		}
	}
}
