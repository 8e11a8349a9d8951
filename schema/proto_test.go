package schema

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicelake/sluice/schema/registrytest"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// eventProto has a field of every kind the mapping knows, one message type nested in
// another, and a second top-level message (index 1) to address by message indexes.
const eventProto = `syntax = "proto3";
package test.v1;

import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";
import "google/type/date.proto";

enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }

message Addr { string city = 1; int32 zip = 2; }

message Event {
  int64 id = 1;
  string user = 2;
  double amount = 3;
  bool ok = 4;
  google.protobuf.Timestamp ts = 5;
  int32 small = 6;
  uint64 big = 7;
  bytes blob = 8;
  Color color = 9;
  optional string note = 10;
  Addr addr = 11;
  repeated int32 nums = 12;
  repeated Addr addrs = 13;
  map<string, int64> counts = 14;
  oneof choice {
    string text = 15;
    Addr place = 16;
  }
  google.protobuf.Duration took = 17;
  google.protobuf.Int32Value maybe = 18;
  google.protobuf.Struct attrs = 19;
  google.type.Date day = 20;
  sint64 delta = 21;
  fixed32 f32 = 22;
  sfixed64 sf64 = 23;
  float ratio = 24;
  uint32 u32 = 25;
  message Inner { string k = 1; }
  Inner inner = 26;
}
`

const eventType = "struct<id:long?,user:string?,amount:double?,ok:boolean?,ts:timestamp?,small:integer?,big:decimal(20,0)?," +
	"blob:binary?,color:string?,note:string?,addr:struct<city:string?,zip:integer?>?,nums:array<integer>?," +
	"addrs:array<struct<city:string?,zip:integer?>>?,counts:map<string,long>?,choice:struct<text:string?,place:struct<city:string?,zip:integer?>?>?," +
	"took:long?,maybe:integer?,attrs:string?,day:date?,delta:long?,f32:long?,sf64:long?,ratio:float?,u32:long?,inner:struct<k:string?>?>"

// nullableColumns builds a table schema of nullable columns from name, type pairs.
func nullableColumns(pairs ...any) *table.StructType {
	st := &table.StructType{}
	for i := 0; i < len(pairs); i += 2 {
		st.Fields = append(st.Fields, &table.StructField{Name: pairs[i].(string), Type: pairs[i+1].(table.DataType), Nullable: true})
	}
	return st
}

func parseProto(t testing.TB, id int32, text string) protoreflect.FileDescriptor {
	t.Helper()
	fd, err := ParseProtobuf(&Schema{ID: id, Type: TypeProtobuf, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func protoMessage(t testing.TB, fd protoreflect.FileDescriptor, indexes ...int) protoreflect.MessageDescriptor {
	t.Helper()
	md, err := ProtoMessage(fd, indexes)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// protoFromJSON builds a message with the Go protobuf runtime from its JSON form.
func protoFromJSON(t testing.TB, md protoreflect.MessageDescriptor, text string) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(md)
	if err := protojson.Unmarshal([]byte(text), m); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newProtoDecoder(t testing.TB, md protoreflect.MessageDescriptor) (*writer.Buffer, *ProtoDecoder) {
	t.Helper()
	ts, err := ProtoTableSchema(md)
	if err != nil {
		t.Fatal(err)
	}
	buf := newAvroBuffer(t, ts)
	dec, err := NewProtoDecoder(md, 7, buf, buf.Columns(), ProtoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return buf, dec
}

func decodeProtoRows(t testing.TB, buf *writer.Buffer, dec *ProtoDecoder, msgs ...[]byte) {
	t.Helper()
	for i, msg := range msgs {
		if err := dec.Decode(msg); err != nil {
			buf.AbortRow()
			t.Fatalf("message %d: decode % x: %v", i, msg, err)
		}
		if err := buf.EndRow(); err != nil {
			t.Fatalf("message %d: EndRow: %v", i, err)
		}
	}
}

func TestProtoGolden(t *testing.T) {
	fd := parseProto(t, 7, eventProto)
	md := protoMessage(t, fd, 1)
	ts, err := ProtoTableSchema(md)
	if err != nil {
		t.Fatal(err)
	}
	if got := compactType(ts); got != eventType {
		t.Fatalf("table schema\n got %s\nwant %s", got, eventType)
	}
	buf, dec := newProtoDecoder(t, md)
	full := `{"id":"9223372036854775807","user":"héllo","amount":-2.25,"ok":true,"ts":"2024-05-06T07:08:09.123456789Z",
		"small":-7,"big":"18446744073709551615","blob":"AP8=","color":"GREEN","note":"n","addr":{"city":"Oslo","zip":150},
		"nums":[1,-2,3],"addrs":[{"city":"a"},{"zip":2}],"counts":{"k":"5"},"place":{"city":"Rome"},
		"took":"-1.5s","maybe":0,"attrs":{"a":[1,"x",null,true],"b":{"c":2.5}},"day":{"year":1969,"month":12,"day":31},
		"delta":"-3","f32":4294967295,"sf64":"-9","ratio":0.5,"u32":4000000000,"inner":{"k":"v"}}`
	decodeProtoRows(t, buf, dec,
		protoFromJSON(t, md, full),
		protoFromJSON(t, md, `{}`),
		protoFromJSON(t, md, `{"text":"t","color":7,"ts":"1969-12-31T23:59:59.999999999Z"}`),
	)
	checkRows(t, readBackJSON(t, buf), []string{
		`{"id":9223372036854775807,"user":"héllo","amount":-2.25,"ok":true,"ts":"2024-05-06 07:08:09.123456+00","small":-7,"big":18446744073709551615,` +
			`"blob":"\\x00\\xFF","color":"GREEN","note":"n","addr":{"city":"Oslo","zip":150},"nums":[1,-2,3],"addrs":[{"city":"a","zip":0},{"city":"","zip":2}],` +
			`"counts":{"k":5},"choice":{"text":null,"place":{"city":"Rome","zip":0}},"took":-1500000,"maybe":0,"attrs":"{\"a\":[1,\"x\",null,true],\"b\":{\"c\":2.5}}",` +
			`"day":"1969-12-31","delta":-3,"f32":4294967295,"sf64":-9,"ratio":0.5,"u32":4000000000,"inner":{"k":"v"}}`,
		// Absent: proto3 scalars are their zero values, lists and maps empty, fields
		// with presence null.
		`{"id":0,"user":"","amount":0.0,"ok":false,"ts":null,"small":0,"big":0,"blob":"","color":"COLOR_UNSPECIFIED","note":null,"addr":null,` +
			`"nums":[],"addrs":[],"counts":{},"choice":null,"took":null,"maybe":null,"attrs":null,"day":null,"delta":0,"f32":0,"sf64":0,"ratio":0.0,"u32":0,"inner":null}`,
		// An open enum's undeclared number is its digits; a timestamp before the epoch
		// truncates toward the past.
		`{"id":0,"user":"","amount":0.0,"ok":false,"ts":"1969-12-31 23:59:59.999999+00","small":0,"big":0,"blob":"","color":"7","note":null,"addr":null,` +
			`"nums":[],"addrs":[],"counts":{},"choice":{"text":"t","place":null},"took":null,"maybe":null,"attrs":null,"day":null,"delta":0,"f32":0,"sf64":0,"ratio":0.0,"u32":0,"inner":null}`,
	})
}

// TestProtoWireVariants decodes encodings a serializer may legally produce besides the
// canonical one: they must give the canonical message's row.
func TestProtoWireVariants(t *testing.T) {
	fd := parseProto(t, 7, eventProto)
	md := protoMessage(t, fd, 1)
	tag := func(b []byte, num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag(b, num, typ)
	}
	varint := func(b []byte, num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(tag(b, num, protowire.VarintType), v)
	}
	bytesField := func(b []byte, num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(tag(b, num, protowire.BytesType), v)
	}
	addr := func(city string, zip uint64) []byte {
		return varint(bytesField(nil, 1, []byte(city)), 2, zip)
	}
	cases := []struct {
		name      string
		canonical string
		variant   []byte
	}{
		{"a scalar set twice keeps the last", `{"id":"2","user":"b"}`,
			bytesField(varint(bytesField(varint(nil, 1, 1), 2, []byte("a")), 1, 2), 2, []byte("b"))},
		{"a message set twice merges", `{"addr":{"city":"x","zip":9}}`,
			bytesField(bytesField(nil, 11, bytesField(nil, 1, []byte("x"))), 11, varint(nil, 2, 9))},
		{"repeated elements spread, packed and not", `{"nums":[1,2,3,4],"id":"5"}`,
			bytesField(varint(varint(varint(nil, 12, 1), 1, 5), 12, 2), 12, protowire.AppendVarint(protowire.AppendVarint(nil, 3), 4))},
		{"list of messages interleaved", `{"addrs":[{"city":"a"},{"zip":2}],"user":"u"}`,
			bytesField(bytesField(bytesField(nil, 13, addr("a", 0)), 2, []byte("u")), 13, varint(nil, 2, 2))},
		{"the oneof member set last wins", `{"place":{"city":"p"}}`,
			bytesField(bytesField(nil, 15, []byte("text")), 16, bytesField(nil, 1, []byte("p")))},
		{"a oneof member set again after another", `{"text":"2"}`,
			bytesField(bytesField(bytesField(nil, 15, []byte("1")), 16, addr("p", 1)), 15, []byte("2"))},
		{"map entries without key or value, and a repeated key field", `{"counts":{"":"3","b":"0"}}`,
			bytesField(bytesField(nil, 14, varint(nil, 2, 3)), 14, bytesField(bytesField(nil, 1, []byte("a")), 1, []byte("b")))},
		// Entries keep the place of their key's last entry; the canonical form sorts.
		{"a map key set again replaces its value", `{"counts":{"a":"1","b":"2"}}`,
			bytesField(bytesField(bytesField(nil, 14, varint(bytesField(nil, 1, []byte("b")), 2, 1)), 14, varint(bytesField(nil, 1, []byte("a")), 2, 1)), 14, varint(bytesField(nil, 1, []byte("b")), 2, 2))},
		{"unknown fields of every wire type are skipped", `{"id":"1"}`,
			append(protowire.AppendFixed64(tag(protowire.AppendFixed32(tag(bytesField(varint(varint(nil, 99, 5), 1, 1), 1000, []byte("zz")), 77, protowire.Fixed32Type), 1), 78, protowire.Fixed64Type), 2),
				append(tag(nil, 300, protowire.StartGroupType), tag(varint(nil, 1, 1), 300, protowire.EndGroupType)...)...)},
		{"a wrapper and a timestamp split in two", `{"maybe":5,"ts":"1970-01-01T00:00:01.000002Z"}`,
			bytesField(bytesField(bytesField(nil, 18, varint(nil, 1, 5)), 5, varint(nil, 1, 1)), 5, varint(nil, 2, 2000))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			buf, dec := newProtoDecoder(t, md)
			decodeProtoRows(t, buf, dec, protoFromJSON(t, md, c.canonical), c.variant)
			rows := readBackJSON(t, buf)
			if len(rows) != 2 || rows[0] != rows[1] {
				t.Fatalf("variant decodes differently:\ncanonical %s\n  variant %s", rows[0], rows[1])
			}
		})
	}
}

func TestProtoDecodeErrors(t *testing.T) {
	fd := parseProto(t, 7, eventProto)
	md := protoMessage(t, fd, 1)
	valid := protoFromJSON(t, md, `{"id":"1","user":"u","addr":{"city":"c"}}`)
	cases := []struct {
		name, want string
		msg        []byte
	}{
		{"cut short", "malformed value", valid[:len(valid)-1]},
		{"bad tag", "malformed field tag", []byte{0x00}},
		// Found by FuzzProtoDecode: protowire takes numbers up to 2^31-1, Protobuf up to 2^29-1.
		{"field number too large", "beyond the largest valid one", protowire.AppendVarint(protowire.AppendTag(nil, protowire.MaxValidNumber+1, protowire.VarintType), 1)},
		{"wrong wire type", `field "user"`, protowire.AppendFixed32(protowire.AppendTag(nil, 2, protowire.Fixed32Type), 1)},
		{"invalid UTF-8", "not valid UTF-8", protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), []byte{0xff})},
		{"nested cut short", `field 1: malformed`, protowire.AppendBytes(protowire.AppendTag(nil, 11, protowire.BytesType), []byte{0x0a, 0x05, 'a'})},
		{"stray end group", "unexpected wire type", protowire.AppendTag(nil, 3, protowire.EndGroupType)},
		{"bad date", "not a calendar date", protowire.AppendBytes(protowire.AppendTag(nil, 20, protowire.BytesType), protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 2))},
		{"packed cut short", "malformed packed element", protowire.AppendBytes(protowire.AppendTag(nil, 12, protowire.BytesType), []byte{0x80})},
	}
	buf, dec := newProtoDecoder(t, md)
	for _, c := range cases {
		err := dec.Decode(c.msg)
		buf.AbortRow()
		var pe *ProtoError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a *ProtoError with %q", c.name, err, c.want)
			continue
		}
		if pe.Offset < 0 || pe.Offset > len(c.msg) || pe.SchemaID != 7 {
			t.Errorf("%s: offset %d of %d bytes, schema %d", c.name, pe.Offset, len(c.msg), pe.SchemaID)
		}
	}
	decodeProtoRows(t, buf, dec, valid) // nothing left behind
	checkRows(t, []string{readBackJSON(t, buf)[0][:25]}, []string{`{"id":1,"user":"u","amoun`})
}

func TestProtoMappingRefusals(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"recursive", `syntax = "proto3"; message N { N next = 1; int32 v = 2; }`, "contains itself"},
		{"empty", `syntax = "proto3"; import "google/protobuf/empty.proto"; message M { google.protobuf.Empty e = 1; }`, "has no fields"},
		{"group", `syntax = "proto2"; message M { optional group G = 1 { optional int32 a = 2; } }`, "groups are not supported"},
	}
	for _, c := range cases {
		md := protoMessage(t, parseProto(t, 3, c.text), 0)
		_, err := ProtoTableSchema(md)
		var se *ProtoSchemaError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a *ProtoSchemaError with %q", c.name, err, c.want)
		}
	}
	if _, err := ParseProtobuf(&Schema{ID: 4, Type: TypeProtobuf, Text: "syntax = \"proto3\";\nmessage M { strin x = 1; }"}); err == nil ||
		!strings.Contains(err.Error(), "schema 4") || strings.Contains(err.Error(), "sluice-registry") {
		t.Fatalf("syntax error: got %v", err)
	}
	if _, err := ParseProtobuf(&Schema{ID: 4, Type: TypeAvro, Text: "{}"}); err == nil {
		t.Fatal("an Avro schema parsed as Protobuf")
	}
}

// TestProtoResolution decodes messages of one type into tables that differ from its
// own mapping: widened, missing or extra columns, and refused types.
func TestProtoResolution(t *testing.T) {
	md := protoMessage(t, parseProto(t, 1, `syntax = "proto3"; message M { int32 a = 1; float b = 2; uint64 c = 3; string d = 4; bytes e = 5; int64 f = 6; }`), 0)
	msg := protoFromJSON(t, md, `{"a":-3,"b":1.5,"c":"7","d":"dd","e":"ZWU=","f":"9"}`)
	ts := nullableColumns("a", table.Long, "b", table.Double, "c", table.Long, "d", table.Binary, "e", table.String, "extra", table.String)
	buf := newAvroBuffer(t, ts)
	dec, err := NewProtoDecoder(md, 1, buf, buf.Columns(), ProtoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(dec.Unmapped(), ","); got != "f" {
		t.Fatalf("unmapped %q, want f", got)
	}
	decodeProtoRows(t, buf, dec, msg)
	checkRows(t, readBackJSON(t, buf), []string{`{"a":-3,"b":1.5,"c":7,"d":"dd","e":"ee","extra":null}`})
	if _, err := NewProtoDecoder(md, 1, buf, buf.Columns(), ProtoOptions{UnknownFields: UnknownFail}); err == nil || !strings.Contains(err.Error(), `"f"`) {
		t.Fatalf("unknown_fields fail: got %v", err)
	}

	for _, bad := range []struct {
		schema *table.StructType
		want   string
	}{
		{nullableColumns("f", table.Integer), `field "f": the writer's int64 cannot be stored in the column's integer`},
		{nullableColumns("d", table.Long), `the writer's string cannot`},
		{&table.StructType{Fields: []*table.StructField{{Name: "z", Type: table.Long}}}, `"z": the column is a non-nullable long but the writer's message has no such field`},
	} {
		buf := newAvroBuffer(t, bad.schema)
		if _, err := NewProtoDecoder(md, 1, buf, buf.Columns(), ProtoOptions{}); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got %v, want %q", compactType(bad.schema), err, bad.want)
		}
	}
	// A uint64 beyond a long column fails its message, not the schema.
	big := protoFromJSON(t, md, `{"c":"18446744073709551615"}`)
	if err := dec.Decode(big); err == nil || !strings.Contains(err.Error(), "does not fit the long column") {
		t.Fatalf("uint64 overflow: got %v", err)
	}
	buf.AbortRow()
}

func TestProtoIndexes(t *testing.T) {
	fd := parseProto(t, 1, `syntax = "proto3"; message A { message B { message C { int32 x = 1; } int32 y = 1; } int32 z = 1; } message D { int32 w = 1; }`)
	for _, c := range []struct {
		indexes []int
		name    string
		raw     string
	}{
		{nil, "A", "\x00"},
		{[]int{0}, "A", "\x00"},
		{[]int{1}, "D", "\x02\x02"},
		{[]int{0, 0, 0}, "A.B.C", "\x06\x00\x00\x00"},
	} {
		raw := AppendProtoIndexes(nil, c.indexes)
		if string(raw) != c.raw {
			t.Errorf("%v: encoded % x, want % x", c.indexes, raw, c.raw)
		}
		gotRaw, rest, err := SplitProtoIndexes(append(raw, 0x08, 0x01))
		if err != nil || string(gotRaw) != c.raw || len(rest) != 2 {
			t.Fatalf("%v: split % x, rest % x, %v", c.indexes, gotRaw, rest, err)
		}
		md, err := ProtoMessage(fd, ProtoIndexes(gotRaw))
		if err != nil || string(md.Name()) != c.name[strings.LastIndex(c.name, ".")+1:] {
			t.Errorf("%v: message %v, %v; want %s", c.indexes, md, err, c.name)
		}
	}
	if _, err := ProtoMessage(fd, []int{2}); err == nil || !strings.Contains(err.Error(), "names no message") {
		t.Fatalf("index out of range: %v", err)
	}
	for _, bad := range [][]byte{{}, {0x80}, {0x7f}, {0x04, 0x02}} {
		var we *WireError
		if _, _, err := SplitProtoIndexes(bad); !errors.As(err, &we) {
			t.Errorf("% x: got %v, want a *WireError", bad, err)
		}
	}
}

// TestProtoRegistryReferences compiles a schema that imports another registered
// subject, as Confluent's serializers register them (reference name = import path).
func TestProtoRegistryReferences(t *testing.T) {
	srv := registrytest.NewServer()
	defer srv.Close()
	if _, err := srv.Register("shop/money.proto", TypeProtobuf, `syntax = "proto3"; package shop; enum Currency { EUR = 0; USD = 1; } message Money { int64 cents = 1; Currency currency = 2; }`); err != nil {
		t.Fatal(err)
	}
	id, err := srv.Register("orders-value", TypeProtobuf, `syntax = "proto3"; package shop; import "shop/money.proto"; import "google/protobuf/timestamp.proto";
message Order { int64 id = 1; Money total = 2; google.protobuf.Timestamp at = 3; }`,
		registrytest.Reference{Name: "shop/money.proto", Subject: "shop/money.proto", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(RegistryConfig{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	rs, err := reg.SchemaByID(context.Background(), int32(id))
	if err != nil {
		t.Fatal(err)
	}
	fd, err := ParseProtobuf(rs)
	if err != nil {
		t.Fatal(err)
	}
	md := protoMessage(t, fd)
	buf, dec := newProtoDecoder(t, md)
	msg := protoFromJSON(t, md, `{"id":"1","total":{"cents":"1050","currency":"USD"},"at":"2024-01-02T03:04:05Z"}`)
	gotID, payload, err := ParseWire(AppendWire(nil, int32(id), AppendProtoIndexes(nil, nil)))
	if err != nil || gotID != int32(id) {
		t.Fatal(gotID, err)
	}
	raw, rest, err := SplitProtoIndexes(append(payload, msg...))
	if err != nil || string(raw) != "\x00" {
		t.Fatal(raw, err)
	}
	decodeProtoRows(t, buf, dec, rest)
	checkRows(t, readBackJSON(t, buf), []string{`{"id":1,"total":{"cents":1050,"currency":"USD"},"at":"2024-01-02 03:04:05+00"}`})
}

// TestProtoEditionsAndProto2 maps presence as each syntax defines it.
func TestProtoEditionsAndProto2(t *testing.T) {
	md := protoMessage(t, parseProto(t, 1, `syntax = "proto2"; message M { optional int32 a = 1; required string b = 2; repeated int64 c = 3 [packed = true]; optional E e = 4 [default = Y]; enum E { X = 1; Y = 2; } }`), 0)
	buf, dec := newProtoDecoder(t, md)
	decodeProtoRows(t, buf, dec, protoFromJSON(t, md, `{"b":"x"}`), protoFromJSON(t, md, `{"a":1,"b":"","c":["1","2"],"e":"X"}`))
	checkRows(t, readBackJSON(t, buf), []string{
		`{"a":null,"b":"x","c":[],"e":null}`,
		`{"a":1,"b":"","c":[1,2],"e":"X"}`,
	})
}

func BenchmarkProtoDecode(b *testing.B) {
	md := protoMessage(b, parseProto(b, 1, `syntax = "proto3";
import "google/protobuf/timestamp.proto";
message M {
  int64 id = 1; optional string user = 2; optional double amount = 3; optional bool ok = 4;
  google.protobuf.Timestamp ts = 5; optional int32 small = 6; optional sint64 price = 7;
  optional int32 day = 8; optional bytes blob = 9; string extra = 10;
}`), 0)
	ts, err := ProtoTableSchema(md)
	if err != nil {
		b.Fatal(err)
	}
	ts.Fields = ts.Fields[:len(ts.Fields)-1] // the table has no column for "extra"
	buf := newAvroBuffer(b, ts)
	dec, err := NewProtoDecoder(md, 1, buf, buf.Columns(), ProtoOptions{})
	if err != nil {
		b.Fatal(err)
	}
	msg := protoFromJSON(b, md, `{"id":"123456789","user":"user-000042","amount":1234.5678,"ok":true,"ts":"2024-05-06T07:08:09.123Z",
		"small":12,"price":"1999","day":19849,"extra":"ignored value"}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if err := dec.Decode(msg); err != nil {
			b.Fatal(err)
		}
		if err := buf.EndRow(); err != nil {
			b.Fatal(err)
		}
		if buf.Rows() >= 100_000 {
			for _, p := range buf.Take() {
				p.Release()
			}
		}
	}
}

// TestProtoDecodeAllocs checks the steady state allocates nothing, including nested,
// repeated, map and oneof columns, packed elements and skipped fields.
func TestProtoDecodeAllocs(t *testing.T) {
	md := protoMessage(t, parseProto(t, 7, eventProto), 1)
	ts, err := ProtoTableSchema(md)
	if err != nil {
		t.Fatal(err)
	}
	ts.Fields = ts.Fields[:len(ts.Fields)-1] // "inner" is skipped
	buf := newAvroBuffer(t, ts)
	dec, err := NewProtoDecoder(md, 1, buf, buf.Columns(), ProtoOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg := protoFromJSON(t, md, `{"id":"1","user":"u","ts":"2024-05-06T07:08:09Z","big":"5","color":"RED","addr":{"city":"c"},"nums":[1,2],
		"addrs":[{"zip":1}],"counts":{"a":"1"},"place":{"city":"p"},"maybe":3,"day":{"year":2024,"month":1,"day":2},"inner":{"k":"gone"}}`)
	allocs := testing.AllocsPerRun(1000, func() {
		if err := dec.Decode(msg); err != nil {
			t.Fatal(err)
		}
		if err := buf.EndRow(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.01 {
		t.Fatalf("%.2f allocations per message, want 0", allocs)
	}
}
