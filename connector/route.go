package connector

import (
	"errors"

	"github.com/sluicelake/sluice/schema"
)

// routeDecision says what a table does with a message of one of its topics.
type routeDecision uint8

const (
	routeHere      routeDecision = iota // ingest it
	routeElsewhere                      // another table's: only advance the offset
	routeNowhere                        // no table selects it: an error under on_error
)

var errUnrouted = errors.New("no table's route_by selects this message")

// router selects the messages of a table by the value of a top-level field (route_by).
type router struct {
	field  string
	values map[string]bool
	wire   bool // json_schema: skip the Confluent header first
}

func newRouter(cfg *TableConfig) *router {
	if cfg.RouteBy == nil {
		return nil
	}
	r := &router{field: cfg.RouteBy.Field, values: map[string]bool{}, wire: cfg.Format == FormatJSONSchema}
	for _, v := range cfg.RouteBy.Values {
		r.values[v] = true
	}
	return r
}

// match reports whether the message belongs to the table. A message without the field,
// or one that cannot be read, does not match; a table reading every message of the
// topic (no route_by) decides what a malformed message is.
func (r *router) match(value []byte) bool {
	if r.wire {
		_, payload, err := schema.ParseWire(value)
		if err != nil {
			return false
		}
		value = payload
	}
	v, found, err := schema.JSONField(value, r.field)
	return err == nil && found && r.values[string(v)]
}
