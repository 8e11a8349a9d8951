package schema

import (
	"bytes"
	"fmt"
	"strconv"
	"unsafe"
)

// ParseDebeziumJSON splits a Debezium change event in JSON into c: the envelope
// (before, after, op, ts_ms, source), with or without the JsonConverter's
// schema/payload wrapper, or the flattened row of ExtractNewRecordState (__op,
// __deleted, __source_ts_ms). The rows are left encoded, as slices of msg. It returns
// a *SyntaxError or *FieldError for a message that is not one of these.
func ParseDebeziumJSON(msg []byte, c *Change) error {
	*c = Change{}
	var sc scanner
	sc.reset(msg)
	var schemaSeen, payloadSeen, opSeen, rowSeen bool
	var block, payload, source, op, ts, before, after []byte
	var flatOp, flatDeleted, flatTs []byte
	err := eachField(&sc, func(key []byte, raw []byte) {
		switch string(key) {
		case "schema":
			schemaSeen, block = true, raw
		case "payload":
			payloadSeen, payload = true, raw
		case "op":
			opSeen, op = true, raw
		case "before":
			rowSeen, before = true, raw
		case "after":
			rowSeen, after = true, raw
		case "source":
			source = raw
		case "ts_ms":
			ts = raw
		case "__op":
			flatOp = raw
		case "__deleted":
			flatDeleted = raw
		case "__source_ts_ms":
			flatTs = raw
		case "__ts_ms":
			if flatTs == nil {
				flatTs = raw
			}
		}
	})
	if err != nil {
		return err
	}
	if schemaSeen && payloadSeen && !opSeen {
		if isNull(payload) || len(payload) == 0 || payload[0] != '{' {
			return &FieldError{Field: "payload", Msg: "a Debezium event's payload must be an object"}
		}
		if err := ParseDebeziumJSON(payload, c); err != nil {
			return err
		}
		if !isNull(block) {
			c.Schema = block
		}
		return nil
	}
	if !opSeen || !rowSeen {
		return parseFlattened(msg, flatOp, flatDeleted, flatTs, c)
	}
	o, err := jsonString(op)
	if err != nil || len(o) != 1 || !opValid(o[0]) {
		return &FieldError{Field: "op", Msg: fmt.Sprintf("want one of c, u, d, r, t, found %s", op)}
	}
	c.Op = o[0]
	if !isNull(before) {
		if before[0] != '{' {
			return &FieldError{Field: "before", Msg: "want an object or null"}
		}
		c.Before = before
	}
	if !isNull(after) {
		if after[0] != '{' {
			return &FieldError{Field: "after", Msg: "want an object or null"}
		}
		c.After = after
	}
	if err := c.checkRows(); err != nil {
		return err
	}
	if source != nil && source[0] == '{' {
		if err := parseSource(source, c); err != nil {
			return err
		}
	}
	if !c.HasTs && ts != nil && !isNull(ts) {
		if c.TsMs, err = strconv.ParseInt(string(ts), 10, 64); err != nil {
			return &FieldError{Field: "ts_ms", Msg: "want whole milliseconds, found " + string(ts)}
		}
		c.HasTs = true
	}
	return nil
}

// checkRows refuses an event whose rows do not fit its operation.
func (c *Change) checkRows() error {
	switch c.Op {
	case OpCreate, OpRead, OpUpdate, OpUpsert:
		if c.After == nil {
			return &FieldError{Field: "after", Msg: fmt.Sprintf("op %q needs the row after the change, found null", c.Op)}
		}
	case OpDelete:
		if c.Before == nil {
			return &FieldError{Field: "before", Msg: "a delete needs the row (or at least its key) before the change, found null; set the source table's REPLICA IDENTITY (or equivalent) so that Debezium sends it"}
		}
	}
	return nil
}

// parseFlattened reads an ExtractNewRecordState row: the op from __op, else a delete
// when __deleted is "true", else an upsert.
func parseFlattened(msg, op, deleted, ts []byte, c *Change) error {
	if len(bytes.TrimSpace(msg)) == 0 || bytes.TrimSpace(msg)[0] != '{' {
		return &SyntaxError{Msg: "a change event must be a JSON object"}
	}
	c.Flattened = true
	c.Op = OpUpsert
	if op != nil && !isNull(op) {
		o, err := jsonString(op)
		if err != nil || len(o) != 1 || !opValid(o[0]) || o[0] == OpTruncate {
			return &FieldError{Field: "__op", Msg: fmt.Sprintf("want one of c, u, d, r, found %s", op)}
		}
		c.Op = o[0]
	}
	if deleted != nil {
		d, err := jsonString(deleted)
		if err != nil && (string(deleted) == "true" || string(deleted) == "false") {
			d, err = string(deleted), nil
		}
		switch {
		case err != nil || (d != "true" && d != "false"):
			return &FieldError{Field: "__deleted", Msg: "want \"true\" or \"false\", found " + string(deleted)}
		case d == "true":
			c.Op = OpDelete
		case c.Op == OpDelete:
			return &FieldError{Field: "__deleted", Msg: "__op is d but __deleted is false"}
		}
	}
	if c.Op == OpDelete {
		c.Before = msg
	} else {
		c.After = msg
	}
	if ts != nil && !isNull(ts) {
		v, err := strconv.ParseInt(string(ts), 10, 64)
		if err != nil {
			return &FieldError{Field: "__source_ts_ms", Msg: "want whole milliseconds, found " + string(ts)}
		}
		c.TsMs, c.HasTs = v, true
	}
	return nil
}

// parseSource takes the source's commit time and log position from a Debezium
// source block: lsn (PostgreSQL), change_lsn and commit_lsn (SQL Server), scn
// (Oracle), file and pos (MySQL), ord (MongoDB).
func parseSource(source []byte, c *Change) error {
	var sc scanner
	sc.reset(source)
	var file, pos, row []byte
	var position []byte
	rank := 0
	err := eachField(&sc, func(key, raw []byte) {
		if isNull(raw) {
			return
		}
		switch string(key) {
		case "ts_ms":
			if v, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
				c.TsMs, c.HasTs = v, true
			}
		case "file":
			file = raw
		case "pos":
			pos = raw
		case "row":
			row = raw
		}
		if r := positionRank(string(key)); r > rank {
			rank, position = r, raw
		}
	})
	if err != nil {
		return &FieldError{Field: "source", Msg: err.Error()}
	}
	switch {
	case position != nil:
		c.Position = unquote(position)
	case file != nil && pos != nil:
		rowText := ""
		if row != nil {
			rowText = unquote(row)
		}
		c.Position = binlogPosition(unquote(file), unquote(pos), rowText)
	}
	return nil
}

// eachField calls f with every top-level field of the object at sc, its value raw.
func eachField(sc *scanner, f func(key, raw []byte)) error {
	if err := sc.expect('{'); err != nil {
		return err
	}
	if sc.peek() == '}' {
		sc.pos++
		return sc.trailing()
	}
	for {
		if sc.peek() != '"' {
			return sc.errorf("want object key")
		}
		k, err := sc.str()
		if err != nil {
			return err
		}
		key := k
		if !within(k, sc.data) { // decoded escapes live in str's scratch, which the value's strings reuse
			key = append([]byte(nil), k...)
		}
		if err := sc.expect(':'); err != nil {
			return err
		}
		raw, err := sc.skipValue(0)
		if err != nil {
			return err
		}
		f(key, raw)
		switch sc.peek() {
		case ',':
			sc.pos++
		case '}':
			sc.pos++
			return sc.trailing()
		default:
			return sc.errorf("want ',' or '}'")
		}
	}
}

// within reports whether b is a slice of data.
func within(b, data []byte) bool {
	if len(b) == 0 || len(data) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= start && p < start+uintptr(len(data))
}

// trailing refuses anything but space after the value.
func (s *scanner) trailing() error {
	if s.peek() != 0 {
		return s.errorf("data after the JSON value")
	}
	return nil
}

func isNull(raw []byte) bool { return raw == nil || string(raw) == "null" }

// jsonString decodes a raw JSON string.
func jsonString(raw []byte) (string, error) {
	var sc scanner
	sc.reset(raw)
	if sc.peek() != '"' {
		return "", sc.errorf("want a string")
	}
	b, err := sc.str()
	return string(b), err
}

// unquote is a raw JSON value as text: a string's contents, anything else as it is.
func unquote(raw []byte) string {
	if s, err := jsonString(raw); err == nil {
		return s
	}
	return string(raw)
}

// JSONFieldNames returns the names of an object's top-level fields, in order; an
// object in the JsonConverter's {"schema", "payload"} wrapper gives its payload's.
func JSONFieldNames(obj []byte) ([]string, error) {
	var c Change
	if err := ParseDebeziumJSON(obj, &c); err == nil && c.Flattened && c.After != nil {
		obj = c.After
	}
	var names []string
	var sc scanner
	sc.reset(obj)
	err := eachField(&sc, func(key, _ []byte) { names = append(names, string(key)) })
	return names, err
}
