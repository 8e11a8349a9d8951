package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicelake/sluice/table"
)

// Kafka Connect schemas, as the JsonConverter writes them beside each value
// (schemas.enable=true): {"schema": {...}, "payload": {...}}. For a Debezium event the
// table's columns come from the schema of its after (or before) field; for a
// flattened row (ExtractNewRecordState), from the row's own schema, less its
// __-prefixed fields.

// connectSchema is a Connect schema in the JsonConverter's JSON form.
type connectSchema struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name"`
	Field      string            `json:"field"`
	Fields     []connectSchema   `json:"fields"`
	Items      *connectSchema    `json:"items"`
	Keys       *connectSchema    `json:"keys"`
	Values     *connectSchema    `json:"values"`
	Parameters map[string]string `json:"parameters"`
}

// ConnectRowSchema returns the table columns of a JsonConverter message's schema
// block (the raw "schema" value): the row record of a Debezium envelope, or the row
// itself for a flattened one. It returns an *EvolutionError when the schema is not a
// struct, or holds a type with no Delta column type.
func ConnectRowSchema(block []byte) (*table.StructType, error) {
	var s connectSchema
	if err := json.Unmarshal(block, &s); err != nil {
		return nil, &EvolutionError{Msg: "the message's Connect schema is not valid JSON: " + err.Error()}
	}
	if s.Type != "struct" {
		return nil, &EvolutionError{Msg: fmt.Sprintf("the message's Connect schema is a %s, not a struct", s.Type)}
	}
	row := &s
	for _, name := range []string{"after", "before"} {
		for i := range s.Fields {
			if f := &s.Fields[i]; f.Field == name && f.Type == "struct" && row == &s {
				row = f
			}
		}
	}
	out := &table.StructType{}
	for _, f := range row.Fields {
		if strings.HasPrefix(f.Field, "__") && row == &s {
			continue // ExtractNewRecordState's fields
		}
		t, err := connectType(&f, f.Field)
		if err != nil {
			return nil, err
		}
		out.Fields = append(out.Fields, &table.StructField{Name: f.Field, Type: t, Nullable: f.Optional})
	}
	if len(out.Fields) == 0 {
		return nil, &EvolutionError{Msg: "the message's Connect schema has no row fields"}
	}
	return out, nil
}

// connectType maps a Connect type, logical types first (Debezium's and Connect's own),
// to a Delta type the JSON decoder fills from the JsonConverter's values.
func connectType(s *connectSchema, path string) (table.DataType, error) {
	switch s.Name {
	case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date":
		return table.Date, nil // days since the epoch
	case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
		return table.Timestamp, nil // milliseconds since the epoch (json.epoch_unit ms)
	case "io.debezium.time.ZonedTimestamp":
		return table.Timestamp, nil // ISO-8601 text
	case "io.debezium.data.VariableScaleDecimal":
		return nil, &EvolutionError{Msg: fmt.Sprintf("field %s: a variable-scale decimal has no Delta type; set Debezium's decimal.handling.mode to string or double", path)}
	case "org.apache.kafka.connect.data.Decimal":
		// The JsonConverter writes decimals as base64 of the unscaled bytes unless
		// decimal.format=NUMERIC; Debezium's decimal.handling.mode=string or double
		// avoids them.
		scale, err := strconv.Atoi(s.Parameters["scale"])
		if err != nil {
			return nil, &EvolutionError{Msg: fmt.Sprintf("field %s: a Connect decimal without a scale", path)}
		}
		p := 38
		if v, err := strconv.Atoi(s.Parameters["connect.decimal.precision"]); err == nil && v >= scale && v <= 38 {
			p = v
		}
		return &table.DecimalType{Precision: p, Scale: scale}, nil
	}
	switch s.Type {
	case "int8":
		return table.Byte, nil
	case "int16":
		return table.Short, nil
	case "int32":
		return table.Integer, nil
	case "int64":
		return table.Long, nil // MicroTimestamp, NanoTimestamp, MicroTime … stay numbers
	case "float", "float32":
		return table.Float, nil
	case "double", "float64":
		return table.Double, nil
	case "boolean":
		return table.Boolean, nil
	case "string":
		return table.String, nil
	case "bytes":
		return table.Binary, nil
	case "array":
		if s.Items == nil {
			return nil, &EvolutionError{Msg: fmt.Sprintf("field %s: an array without items", path)}
		}
		et, err := connectType(s.Items, path+".element")
		if err != nil {
			return nil, err
		}
		return &table.ArrayType{ElementType: et, ContainsNull: s.Items.Optional}, nil
	case "map":
		if s.Keys == nil || s.Values == nil {
			return nil, &EvolutionError{Msg: fmt.Sprintf("field %s: a map without keys or values", path)}
		}
		kt, err := connectType(s.Keys, path+".key")
		if err != nil {
			return nil, err
		}
		vt, err := connectType(s.Values, path+".value")
		if err != nil {
			return nil, err
		}
		return &table.MapType{KeyType: kt, ValueType: vt, ValueContainsNull: s.Values.Optional}, nil
	case "struct":
		st := &table.StructType{}
		for _, f := range s.Fields {
			t, err := connectType(&f, path+"."+f.Field)
			if err != nil {
				return nil, err
			}
			st.Fields = append(st.Fields, &table.StructField{Name: f.Field, Type: t, Nullable: f.Optional})
		}
		return st, nil
	}
	return nil, &EvolutionError{Msg: fmt.Sprintf("field %s: Connect type %q has no Delta column type", path, s.Type)}
}

// ConnectSchemaBlock returns the raw "schema" value of a JsonConverter message, nil
// when it has none.
func ConnectSchemaBlock(msg []byte) []byte {
	var sc scanner
	sc.reset(msg)
	var block []byte
	var payload bool
	if eachField(&sc, func(key, raw []byte) {
		switch string(key) {
		case "schema":
			block = raw
		case "payload":
			payload = true
		}
	}) != nil || !payload || isNull(block) {
		return nil
	}
	return block
}
