package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var envRef = regexp.MustCompile(`\$\{(?:file:([^}]+)|([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?)\}`)

// interpolate replaces ${VAR} and ${VAR:-default} with environment values, and
// ${file:/path} with a file's content (a mounted secret; one trailing newline dropped),
// before the YAML is parsed; "$${" escapes a literal "${". Values are quoted as their
// position needs, so a secret containing ": ", "#" or quotes cannot change the
// document's structure. An unset variable without a default, or a file that cannot be
// read, is an error naming the line (and the path), never the value of anything.
func interpolate(file string, data []byte, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) ([]byte, error) {
	var out bytes.Buffer
	var missing []error
	line := 1
	last := 0
	lineStart := 0
	for _, m := range envRef.FindAllSubmatchIndex(data, -1) {
		start, end := m[0], m[1]
		if n := bytes.Count(data[last:start], []byte("\n")); n > 0 {
			line += n
			lineStart = bytes.LastIndexByte(data[:start], '\n') + 1
		}
		if start > 0 && data[start-1] == '$' { // $${…}: literal
			out.Write(data[last : start-1])
			out.Write(data[start:end])
			last = end
			continue
		}
		ctx := quoteContext(data[lineStart:start])
		if ctx == '#' { // inside a comment: leave it alone
			out.Write(data[last:end])
			last = end
			continue
		}
		out.Write(data[last:start])
		last = end
		if m[2] >= 0 { // ${file:/path}
			path := string(data[m[2]:m[3]])
			content, err := readFile(path)
			if err != nil {
				missing = append(missing, &ConfigError{File: file, Line: line,
					Msg: fmt.Sprintf("${file:%s}: cannot read the file: %v", path, errors.Unwrap(err))})
				continue
			}
			out.WriteString(quoteFor(ctx, strings.TrimSuffix(strings.TrimSuffix(string(content), "\n"), "\r")))
			continue
		}
		name := string(data[m[4]:m[5]])
		value, ok := lookup(name)
		if (!ok || value == "") && m[6] >= 0 { // as in the shell, ":-" also replaces an empty value
			value, ok = string(data[m[8]:m[9]]), true
		}
		if !ok {
			missing = append(missing, &ConfigError{File: file, Line: line,
				Msg: fmt.Sprintf("${%s} is not set and has no default (write ${%s:-default})", name, name)})
			continue
		}
		out.WriteString(quoteFor(ctx, value))
	}
	out.Write(data[last:])
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	return out.Bytes(), nil
}

// quoteContext reports the quote the text before a placeholder on its line leaves
// open: '"', '\”, '#' (a comment) or 0 (plain).
func quoteContext(prefix []byte) byte {
	var open byte
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		switch {
		case open == 0 && c == '#' && (i == 0 || prefix[i-1] == ' '):
			return '#'
		case open == 0 && (c == '"' || c == '\''):
			open = c
		case open == '"' && c == '\\':
			i++
		case open == c:
			if c == '\'' && i+1 < len(prefix) && prefix[i+1] == '\'' {
				i++
				continue
			}
			open = 0
		}
	}
	return open
}

var plainSafe = regexp.MustCompile(`^[A-Za-z0-9_./@+=,%~-][A-Za-z0-9_./@+=,%~:-]*$`)

// quoteFor renders value for insertion in a scalar of the given quoting.
func quoteFor(ctx byte, value string) string {
	switch ctx {
	case '"':
		q, _ := json.Marshal(value)
		return string(q[1 : len(q)-1])
	case '\'':
		return strings.ReplaceAll(value, "'", "''")
	}
	if value == "" || plainSafe.MatchString(value) {
		return value
	}
	q, _ := json.Marshal(value)
	return string(q)
}
