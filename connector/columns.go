package connector

// The columns of a table: those messages carry (declared in the configuration, or mapped
// from a registry schema), the derived ones and the Kafka metadata ones, in that order.

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// Kafka metadata column names.
const (
	colKafkaTopic     = "_kafka_topic"
	colKafkaPartition = "_kafka_partition"
	colKafkaOffset    = "_kafka_offset"
	colKafkaTimestamp = "_kafka_timestamp"
	colKafkaKey       = "_kafka_key"
	colKafkaHeaders   = "_kafka_headers"
)

// Change columns of a changelog table.
const (
	colChangeType     = "_change_type"     // insert, update_preimage, update_postimage, update, delete, snapshot, upsert
	colChangeTS       = "_change_ts"       // when the source committed the change
	colChangePosition = "_change_position" // where the change is in the source's log
)

// changeColumns are the columns mode changelog adds, in order.
func changeColumns() []*table.StructField {
	return []*table.StructField{
		{Name: colChangeType, Type: table.String, Nullable: false},
		{Name: colChangeTS, Type: table.Timestamp, Nullable: true},
		{Name: colChangePosition, Type: table.String, Nullable: true},
	}
}

func isChangeColumn(name string) bool {
	return name == colChangeType || name == colChangeTS || name == colChangePosition
}

// tableSchema builds the Delta schema from the declared columns: declared, derived,
// then Kafka metadata columns.
func (t *TableConfig) tableSchema() (*table.StructType, error) {
	s := &table.StructType{}
	for _, c := range t.Schema {
		if c.Name == "" {
			return nil, errors.New("schema: a column has no name")
		}
		typ, err := table.ParsePrimitive(c.Type)
		if err != nil {
			return nil, fmt.Errorf("schema: column %q: %w", c.Name, err)
		}
		s.Fields = append(s.Fields, &table.StructField{Name: c.Name, Type: typ, Nullable: c.Nullable == nil || *c.Nullable})
	}
	return t.completeSchema(s)
}

// completeSchema adds the derived and Kafka metadata columns to the columns messages
// carry (declared, or mapped from a registry schema) and checks partition_by.
func (t *TableConfig) completeSchema(base *table.StructType) (*table.StructType, error) {
	s := &table.StructType{Fields: append([]*table.StructField{}, base.Fields...)}
	seen := map[string]bool{}
	for _, f := range s.Fields {
		k := strings.ToLower(f.Name)
		if seen[k] {
			return nil, fmt.Errorf("column %q is defined twice (names are case-insensitive)", f.Name)
		}
		seen[k] = true
	}
	add := func(f *table.StructField) error {
		k := strings.ToLower(f.Name)
		if seen[k] {
			return fmt.Errorf("column %q is defined twice (names are case-insensitive)", f.Name)
		}
		seen[k] = true
		s.Fields = append(s.Fields, f)
		return nil
	}
	derived, err := t.derivations()
	if err != nil {
		return nil, err
	}
	for _, item := range t.Columns {
		name := fmt.Sprint(item.Key)
		d := derived[name]
		src := s.Field(d.Source)
		if src == nil {
			return nil, fmt.Errorf("columns: %s: source column %q is not a column before it", name, d.Source)
		}
		rt, err := d.ResultType(src.Type)
		if err != nil {
			return nil, fmt.Errorf("columns: %s: %w", name, err)
		}
		if err := add(&table.StructField{Name: name, Type: rt, Nullable: true}); err != nil {
			return nil, err
		}
	}
	if t.Mode == ModeChangelog {
		for _, f := range changeColumns() {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range t.kafkaColumns() {
		if slices.Contains(t.KafkaColumns.Columns, strings.TrimPrefix(f.Name, "_kafka_")) {
			if err := add(f); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range t.PartitionBy {
		if s.Field(p) == nil {
			return nil, fmt.Errorf("partition_by: %q is not a declared or derived column", p)
		}
	}
	return s, nil
}

// kafkaColumns are the metadata columns kafka_columns can add, in the order they are added.
func (t *TableConfig) kafkaColumns() []*table.StructField {
	headerValue := table.Binary
	if t.HeadersAs == "string" {
		headerValue = table.String
	}
	key := table.Binary
	switch t.KeyFormat {
	case "string":
		key = table.String
	case "json", "avro", "json_schema", "protobuf":
		key = table.Variant
	}
	return []*table.StructField{
		{Name: colKafkaTopic, Type: table.String, Nullable: false},
		{Name: colKafkaPartition, Type: table.Integer, Nullable: false},
		{Name: colKafkaOffset, Type: table.Long, Nullable: false},
		{Name: colKafkaTimestamp, Type: table.Timestamp, Nullable: true},
		{Name: colKafkaKey, Type: key, Nullable: true},
		// A header key may repeat in Kafka; the map keeps the last value, as most
		// clients' header lookups return it.
		{Name: colKafkaHeaders, Type: &table.MapType{KeyType: table.String, ValueType: headerValue, ValueContainsNull: true}, Nullable: true},
	}
}

// derivations parses the derived columns.
func (t *TableConfig) derivations() (map[string]*writer.Derivation, error) {
	out := make(map[string]*writer.Derivation, len(t.Columns))
	for _, item := range t.Columns {
		name := fmt.Sprint(item.Key)
		expr, ok := item.Value.(string)
		if !ok {
			return nil, fmt.Errorf("columns: %s: want an expression string like \"date(ts)\"", name)
		}
		d, err := writer.ParseDerivation(expr)
		if err != nil {
			return nil, fmt.Errorf("columns: %s: %w", name, err)
		}
		out[name] = d
	}
	return out, nil
}
