// Package expr parses, type-checks and evaluates the Spark SQL expressions
// that Delta tables store and writers must enforce: CHECK constraints (the
// delta.constraints.<name> table properties), column invariants (the
// delta.invariants field metadata, {"expression":{"expression":"x > 3"}})
// and generated columns (the delta.generationExpression field metadata, such
// as CAST(ts AS DATE), YEAR(ts) or concat(a, '-', b)). The connector compiles
// each expression once per table with Compile and evaluates it on every row
// it writes with Program.Eval, so that it enforces what Spark would.
//
// Only a subset of Spark SQL is implemented. Anything outside it is refused
// by Compile with an *UnsupportedError naming the construct, so that the
// table layer can refuse a table it cannot check rather than write rows that
// break its constraints. Malformed expressions give a *SyntaxError, operands
// of the wrong types a *TypeError, and unknown columns an
// *UnknownColumnError.
//
// Using the result: Delta fails a write when a CHECK constraint or an
// invariant evaluates to FALSE or to NULL (Delta's CheckDeltaInvariant), and
// requires a generated column to hold the expression's result cast to the
// column's type (see CastValue).
//
// # Supported subset
//
// Literals:
//   - integers: INT if the value fits, else BIGINT, else DECIMAL(n,0); the
//     suffixes Y, S, L and BD make a TINYINT, SMALLINT, BIGINT or DECIMAL
//     (1Y, 2S, 3L, 4BD), F and D a FLOAT or DOUBLE (1.5F, 1.5D);
//   - decimals: 1.5, .5 and 5. are DECIMALs whose precision is their number
//     of digits, as in Spark (1.5 is DECIMAL(2,1), 0.001 is DECIMAL(3,3));
//   - doubles: a number with an exponent (1.5e3, 1E10) or the D suffix;
//   - strings in single or double quotes with backslash escapes (\n, \t,
//     \', \", \\, \uXXXX, \ooo octal; \% and \_ keep their backslash for
//     LIKE); adjacent literals are concatenated, so that, as in Spark, a
//     doubled quote inside a literal ends it and starts another rather than
//     standing for a quote;
//   - TRUE, FALSE and NULL;
//   - DATE 'yyyy-mm-dd', TIMESTAMP 'yyyy-mm-dd hh:mm:ss[.ffffff][zone]' (UTC
//     unless the text names a zone), TIMESTAMP_LTZ '...', TIMESTAMP_NTZ '...'
//     and X'hex' binaries.
//
// Column references: identifiers (letters, digits and underscores) and
// `backquoted names` (a backquote doubled inside), which the Resolver maps,
// case-insensitively as Spark does. The keywords AND, OR, NOT, IS, IN,
// BETWEEN, LIKE, ILIKE, RLIKE, REGEXP, ESCAPE, CASE, WHEN, THEN, ELSE, END,
// NULL, TRUE, FALSE, DIV, AS, FROM and DISTINCT must be backquoted to name a
// column. CURRENT_DATE and the like written without parentheses name a column
// if the Resolver knows one, as in Spark, and are refused otherwise.
//
// Operators, from the tightest binding to the loosest, as in Spark:
//   - unary - and +;
//   - *, /, % and DIV (integral division);
//   - +, - and || (string concatenation);
//   - =, ==, <>, !=, <, <=, >, >=, !<, !> and <=> (null-safe equality);
//   - IS [NOT] NULL, IS [NOT] TRUE, IS [NOT] FALSE, IS [NOT] UNKNOWN,
//     IS [NOT] DISTINCT FROM, [NOT] IN (list), [NOT] BETWEEN a AND b,
//     [NOT] LIKE and [NOT] ILIKE 'pattern' [ESCAPE 'c'] (% any sequence, _ one
//     character, backslash escaping % _ and itself);
//   - NOT (also written !);
//   - AND;
//   - OR.
//
// Other forms: parentheses; CASE WHEN c THEN v ... [ELSE v] END and
// CASE x WHEN v THEN r ... [ELSE r] END; CAST(x AS type), TRY_CAST(x AS type)
// (the same, since casts give NULL on failure) and x::type; EXTRACT(field
// FROM x) with YEAR, MONTH, DAY, HOUR, MINUTE (INT) and SECOND
// (DECIMAL(8,6)); -- and /* */ comments.
//
// Types for CAST: BOOLEAN, TINYINT or BYTE, SMALLINT or SHORT, INT or
// INTEGER, BIGINT or LONG, FLOAT or REAL, DOUBLE, DECIMAL, DEC or NUMERIC
// [(p[,s])] (DECIMAL alone is DECIMAL(10,0)), STRING, VARCHAR(n) and CHAR(n)
// (read as STRING), BINARY, DATE, TIMESTAMP or TIMESTAMP_LTZ, TIMESTAMP_NTZ.
//
// Functions, by case-insensitive name:
//   - casts: boolean, tinyint, smallint, int, bigint, float, double, decimal,
//     string, binary, date and timestamp (x), to_date(x);
//   - dates and times: year, month, day and dayofmonth (of a DATE; a
//     TIMESTAMP or STRING argument is cast to DATE), hour, minute and second
//     (of a TIMESTAMP; a DATE or STRING argument is cast), date_format(ts,
//     'pattern') with a constant pattern of the letters y M L d D H h k K m s
//     S a E and quoted text (Delta's 'yyyy-MM', 'yyyy-MM-dd-HH'...),
//     date_trunc(unit, ts) with YEAR, YYYY, YY, QUARTER, MONTH, MON, MM,
//     WEEK, DAY, DD, HOUR, MINUTE, SECOND, MILLISECOND, MICROSECOND, and
//     trunc(date, unit) with YEAR, YYYY, YY, QUARTER, MONTH, MON, MM, WEEK (an
//     unknown unit gives NULL);
//   - strings: substring and substr(s, pos[, len]) (1-based, 0 is the start
//     too, a negative position counts from the end; SUBSTRING(s FROM pos
//     [FOR len]) too), concat(...) (NULL if any argument is NULL), concat_ws(
//     sep, ...) (NULL arguments skipped), length, char_length and
//     character_length (in characters; bytes for a BINARY), lower, lcase,
//     upper, ucase, trim, ltrim and rtrim (of spaces);
//   - numbers: abs;
//   - NULL handling and conditions: coalesce(...), nvl and ifnull(a, b),
//     nullif(a, b), nvl2(a, b, c), if(cond, a, b), isnull(x), isnotnull(x).
//
// # Types and coercions
//
// Operands are brought to a common type by Spark's rules with ANSI mode off
// (TypeCoercion):
//   - arithmetic: integral types widen to the wider of the two (TINYINT +
//     TINYINT stays TINYINT, INT + BIGINT is BIGINT), FLOAT and DOUBLE are
//     wider than any integral (INT + FLOAT is FLOAT), strings are cast to
//     DOUBLE ('1' + 1 is 2.0); / of non-decimals gives a DOUBLE and DIV a
//     BIGINT; DATE + or - an INT, SMALLINT or TINYINT adds days;
//   - decimals: integral operands become DECIMAL(3,0), (5,0), (10,0) or
//     (20,0), or for literals a DECIMAL of their digits; the result types of
//     the operators + - * / % are Spark's (with the default
//     spark.sql.decimalOperations.allowPrecisionLoss: 1.0 / 3 is
//     DECIMAL(7,6) 0.333333), and the arithmetic is exact, rounding half up
//     to the result scale; a decimal with a FLOAT or DOUBLE gives a DOUBLE;
//   - comparisons: numbers compare after widening, decimals exactly; a STRING
//     compared with a DATE or TIMESTAMP is cast to that type (birthDate >
//     '1900-01-01'), with a DECIMAL both sides are cast to DOUBLE, and with
//     any other type (INT, BIGINT, DOUBLE, BOOLEAN, BINARY) the string is cast
//     to that type, as Spark 3 does (so '1.5' = 1 is TRUE, the string being
//     cast to INT, and a non-numeric string gives NULL); a DATE compared with
//     a TIMESTAMP is cast to TIMESTAMP; BOOLEAN = number casts the boolean to
//     the number's type;
//   - CASE, if, coalesce, nvl, nvl2 and IN: the wider common type, where a
//     STRING wins over numbers and dates (coalesce(int_col, 'x') is a STRING)
//     as in Spark's findWiderCommonType;
//   - function arguments are cast implicitly as Spark's ImplicitTypeCasts do:
//     any value to STRING for string functions, strings and timestamps to DATE
//     for year(), numbers among themselves.
//
// # Evaluation
//
// Evaluation follows Spark with ANSI mode off (Spark 3's default):
//   - NULL: an operator or function with a NULL operand gives NULL, except
//     AND and OR (three-valued: FALSE AND NULL is FALSE, TRUE OR NULL is
//     TRUE), IS [NOT] NULL, IS [NOT] TRUE/FALSE, <=> and IS [NOT] DISTINCT
//     FROM (never NULL), IN (NULL when nothing matches and the list holds a
//     NULL), CASE, if, coalesce, nvl, nvl2 and concat_ws (which skip NULLs);
//   - division and remainder by zero give NULL, for DOUBLEs too;
//   - integral overflow wraps around as Java does (2147483647 + 1 is
//     -2147483648; abs and unary minus of the smallest value give it back);
//   - a DECIMAL result that does not fit its type is NULL;
//   - a cast that fails (an unparsable string, a decimal that does not fit)
//     gives NULL; narrowing casts among integral types wrap; DOUBLE to an
//     integral truncates toward zero and saturates (NaN gives 0);
//   - DOUBLEs order with NaN equal to NaN and above all numbers, and -0.0
//     equal to 0.0; strings and binaries compare bytewise.
//
// Dates are in the proleptic Gregorian calendar and timestamps in UTC, the
// session time zone the connector runs with: a TIMESTAMP and a
// TIMESTAMP_NTZ show the same wall-clock time, TIMESTAMP to DATE takes the
// UTC date, DATE to TIMESTAMP is midnight UTC, and hour(), date_format() and
// date_trunc() work in UTC.
//
// Casts from STRING trim white space and control characters, then:
//   - to integral types: an optional sign, digits and an optional fraction,
//     which is dropped ('1.9' is 1, '1e3' is NULL); out of range is NULL;
//   - to DOUBLE and FLOAT: Java's syntax (1e3, 1.5d), and inf, infinity and
//     nan in any case; to DECIMAL: Java's BigDecimal syntax, rounded half up;
//   - to BOOLEAN: t, true, y, yes, 1 and f, false, n, no, 0, in any case;
//   - to DATE: [+-]yyyy[-m[m][-d[d]]] with 4 to 7 year digits, anything after
//     a space or T being ignored ('2024-03-15 10:00' is 2024-03-15);
//   - to TIMESTAMP: a date, then a space or T and h[h][:m[m][:s[s][.fraction]]]
//     (digits beyond microseconds dropped), then after the seconds an
//     optional zone: Z, +hh:mm and similar offsets, UTC, GMT or UT with an
//     optional offset, Java's short ids (PST...) or a region id such as
//     Europe/Paris (from the system's time zone database; without it, such
//     strings give NULL). A time without a date gives NULL (Spark would use
//     the current date, which is not deterministic). TIMESTAMP_NTZ ignores the
//     zone.
//
// Casts to STRING write booleans as true and false, DOUBLEs and FLOATs as
// Java's toString does (1.0E10, 2.5, 1.0E-4, with the shortest digits that
// read back), DECIMALs as Java's BigDecimal.toString (123.45, and 1E-7 below
// 1e-6), DATEs as yyyy-MM-dd and TIMESTAMPs as yyyy-MM-dd HH:mm:ss with a
// fraction of up to 6 digits without trailing zeros. Between TIMESTAMP and
// numbers the unit is the second; integral types cast to BINARY as their
// big-endian bytes.
//
// # Not supported
//
// Compile refuses with an *UnsupportedError: other functions (user-defined
// functions and qualified names included), non-deterministic functions
// (current_date, current_timestamp, now, rand, uuid...), nested field
// references (a.b) and subscripts (a[0]), subqueries and EXISTS, RLIKE and
// REGEXP, LIKE ANY/ALL, bitwise operators, intervals (INTERVAL literals,
// subtracting dates or timestamps), aggregate and window functions, lambda
// functions, struct constructors, casts to complex types, to_date with a
// format, and date_format with a pattern that is not a constant or uses other
// letters. Casts between DATE and numbers, which Spark refuses or turns into
// NULL, are type errors.
//
// Known differences from Spark: decimal division is rounded once, half up,
// to the result scale (Spark first rounds to 38 digits, which may differ in
// the last digit in rare cases); lower and upper use Go's Unicode case
// mapping; DOUBLE to STRING prints the shortest digits, as Java 19 and later
// do; wall-clock times that a region's daylight saving transition skips or
// repeats resolve as Go's time package does.
package expr
