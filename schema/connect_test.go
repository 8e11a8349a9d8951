package schema

import (
	"errors"
	"testing"
)

func TestConnectRowSchema(t *testing.T) {
	cases := []struct{ name, block, want string }{
		{"envelope", `{"type":"struct","fields":[{"type":"struct","optional":true,"field":"before","fields":[{"type":"int64","field":"id"}]},
			{"type":"struct","optional":true,"field":"after","fields":[{"type":"int64","field":"id"},{"type":"string","field":"s","optional":true}]},
			{"type":"string","field":"op"}]}`, `{"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":{}},{"name":"s","type":"string","nullable":true,"metadata":{}}]}`},
		{"flattened", `{"type":"struct","fields":[{"type":"int32","field":"id"},{"type":"string","field":"__deleted","optional":true},{"type":"int64","field":"__source_ts_ms","optional":true}]}`,
			`{"type":"struct","fields":[{"name":"id","type":"integer","nullable":false,"metadata":{}}]}`},
		{"types", `{"type":"struct","fields":[{"type":"int8","field":"a"},{"type":"int16","field":"b"},{"type":"float","field":"c"},{"type":"double","field":"d"},
			{"type":"boolean","field":"e"},{"type":"bytes","field":"f"},{"type":"int64","name":"io.debezium.time.MicroTimestamp","field":"g"},
			{"type":"string","name":"io.debezium.time.ZonedTimestamp","field":"h"},{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"10"},"field":"i"},
			{"type":"array","items":{"type":"string","optional":true},"field":"j"},{"type":"map","keys":{"type":"string"},"values":{"type":"int32"},"field":"k"},
			{"type":"struct","fields":[{"type":"string","field":"x","optional":true}],"field":"l","optional":true}]}`,
			`{"type":"struct","fields":[{"name":"a","type":"byte","nullable":false,"metadata":{}},{"name":"b","type":"short","nullable":false,"metadata":{}},{"name":"c","type":"float","nullable":false,"metadata":{}},{"name":"d","type":"double","nullable":false,"metadata":{}},{"name":"e","type":"boolean","nullable":false,"metadata":{}},{"name":"f","type":"binary","nullable":false,"metadata":{}},{"name":"g","type":"long","nullable":false,"metadata":{}},{"name":"h","type":"timestamp","nullable":false,"metadata":{}},{"name":"i","type":"decimal(10,2)","nullable":false,"metadata":{}},{"name":"j","type":{"type":"array","elementType":"string","containsNull":true},"nullable":false,"metadata":{}},{"name":"k","type":{"type":"map","keyType":"string","valueType":"integer","valueContainsNull":false},"nullable":false,"metadata":{}},{"name":"l","type":{"type":"struct","fields":[{"name":"x","type":"string","nullable":true,"metadata":{}}]},"nullable":true,"metadata":{}}]}`},
	}
	for _, tc := range cases {
		got, err := ConnectRowSchema([]byte(tc.block))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if s := got.SchemaString(); s != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, s, tc.want)
		}
	}
	for _, bad := range []string{`[]`, `{"type":"string"}`, `{"type":"struct","fields":[]}`, `{"type":"struct","fields":[{"type":"array","field":"a"}]}`,
		`{"type":"struct","fields":[{"type":"bytes","name":"io.debezium.data.VariableScaleDecimal","field":"v"}]}`} {
		_, err := ConnectRowSchema([]byte(bad))
		var ee *EvolutionError
		if !errors.As(err, &ee) {
			t.Errorf("%s: got %v, want an EvolutionError", bad, err)
		}
	}
}
