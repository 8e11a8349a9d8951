// Package schema knows message formats: it decodes Kafka message values (JSON today)
// straight into the column buffers of a writer.Buffer through a plan compiled once per
// table schema, with no map[string]any and no allocation per message on the hot path.
package schema
