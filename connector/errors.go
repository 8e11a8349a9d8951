package connector

import (
	"errors"
	"fmt"
)

// MessageError is a message that could not be ingested under on_error: fail. Nothing at
// or after its offset in its partition is committed to the table.
type MessageError struct {
	Table     string
	Topic     string
	Partition int32
	Offset    int64
	Stage     string // decode, route, schema
	Err       error
}

func (e *MessageError) Error() string {
	return fmt.Sprintf("topic %s partition %d offset %d: table %s: %s: %v", e.Topic, e.Partition, e.Offset, e.Table, e.Stage, e.Err)
}

func (e *MessageError) Unwrap() error { return e.Err }

// StartupError is a peer (broker, registry, storage) that could not be reached within
// startup_timeout.
type StartupError struct {
	Peer string // "kafka", "schema registry", "table events (s3://…)"
	Err  error
}

func (e *StartupError) Error() string {
	return fmt.Sprintf("start-up: cannot reach %s: %v", e.Peer, e.Err)
}

func (e *StartupError) Unwrap() error { return e.Err }

// errShutdown ends internal loops when the connector stops.
var errShutdown = errors.New("connector shutting down")
