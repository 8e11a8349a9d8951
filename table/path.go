package table

import (
	"fmt"
	"net/url"
	"strings"
)

// HiveDefaultPartition is the directory name Spark and Hive use for a null partition value.
const HiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// EscapePartitionValue escapes a partition value for use in a directory name, exactly as
// Spark's ExternalCatalogUtils.escapePathName does: control characters and
// "#%'*/:=?\{[]^ become %XX (upper-case hex).
func EscapePartitionValue(v string) string {
	if !strings.ContainsFunc(v, needsHiveEscape) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 8)
	for i := 0; i < len(v); i++ {
		c := v[i]
		if needsHiveEscape(rune(c)) {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsHiveEscape(r rune) bool {
	if r < 0x20 || r == 0x7f {
		return true
	}
	switch r {
	case '"', '#', '%', '\'', '*', '/', ':', '=', '?', '\\', '{', '[', ']', '^':
		return true
	}
	return false
}

// PartitionDir returns the Hive-style relative directory for partition values in
// column order ("day=2024-01-01/country=NL"). A nil value is the Hive default partition.
func PartitionDir(columns []string, values []*string) string {
	var b strings.Builder
	for i, c := range columns {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(EscapePartitionValue(c))
		b.WriteByte('=')
		if values[i] == nil {
			b.WriteString(HiveDefaultPartition)
		} else if *values[i] == "" {
			b.WriteString(HiveDefaultPartition) // Spark writes empty strings as null partitions
		} else {
			b.WriteString(EscapePartitionValue(*values[i]))
		}
	}
	return b.String()
}

// EncodePath percent-encodes a relative file path for add.path: every byte outside
// the URI unreserved set, '/', '=' and '+' is escaped, so a Hive escape "%3A" becomes
// "%253A" and no segment can be read as a URI scheme.
func EncodePath(p string) string {
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/', c == '=', c == '+':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// DecodePath turns an add/remove path URI into a canonical file key: the decoded path
// relative to the table root, or, for files outside it, an absolute URI with a decoded
// path ("/a%20b", "file:/a%20b" and "file:///a%20b" all become "file:///a b"). A
// relative path may hold a colon in its first segment (delta-rs writes timestamp
// partitions unescaped: "time=1971-07-22T03:06:40.000000Z/part-0.parquet"): only a
// valid URI scheme before the first colon (RFC 3986, 3.1) followed by a path from the
// root ("s3://…", "file:/…") makes it absolute. An opaque "a:b.parquet" names no file
// outside the table, so it is read as the relative path a writer meant.
func DecodePath(p string) (string, error) {
	if strings.HasPrefix(p, "/") {
		d, err := url.PathUnescape(p)
		if err != nil {
			return "", fmt.Errorf("file path %q: %w", p, err)
		}
		return "file://" + d, nil
	}
	if i := strings.IndexByte(p, ':'); i > 0 && isURIScheme(p[:i]) && strings.HasPrefix(p[i+1:], "/") {
		u, err := url.Parse(p)
		if err != nil {
			return "", fmt.Errorf("file path %q: %w", p, err)
		}
		return u.Scheme + "://" + u.Host + u.Path, nil
	}
	d, err := url.PathUnescape(p)
	if err != nil {
		return "", fmt.Errorf("file path %q: %w", p, err)
	}
	return d, nil
}

// isURIScheme reports whether s is a URI scheme: a letter, then letters, digits, "+",
// "-" or ".".
func isURIScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}
