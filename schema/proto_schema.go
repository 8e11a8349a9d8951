package schema

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluicelake/sluice/table"
)

// Protobuf messages reach a table as Avro ones do: ParseProtobuf compiles the registry's
// .proto text (bufbuild/protocompile, with its imports), ProtoMessage picks the message
// type the wire format's message indexes name, ProtoTableSchema maps it to the table
// schema it needs, and NewProtoDecoder compiles a plan that decodes its binary encoding
// straight into the columns of an existing table.
//
// ProtoTableSchema's mapping, with what each choice means for readers of the table:
//
//	Protobuf                              Delta                  reader impact
//	message                               struct                 fields in declaration order, named as in the .proto
//	                                                             (not the JSON name)
//	repeated T                            array<T>               elements are never null; an absent field is []
//	map<K,V>                              map<K',V'>             values are never null
//	oneof o { … }                         struct o               one nullable field per member; the member set
//	                                                             last is non-null, the struct is null when none is
//	enum                                  string                 the value's name; a number the enum does not
//	                                                             declare (an open enum's) is written as its digits
//	string / bytes                        string / binary        a string with invalid UTF-8 is refused
//	bool, int32, sint32, sfixed32         boolean, integer
//	int64, sint64, sfixed64               long
//	uint32, fixed32                       long                   Delta has no unsigned types
//	uint64, fixed64                       decimal(20,0)          every uint64 value fits, exactly
//	float, double                         float, double
//	google.protobuf.Timestamp             timestamp              a UTC instant; nanoseconds truncated (toward the
//	                                                             past) to microseconds
//	google.protobuf.Duration              long                   microseconds: Delta has no interval type
//	google.protobuf.*Value (wrappers)     the wrapped type       null when the field is absent
//	google.protobuf.Struct, Value,        string                 the value's canonical JSON text (protojson)
//	ListValue
//	google.type.Date                      date                   a date without year, month or day is refused
//	message without fields (Empty)        refused                Parquet cannot store an empty struct
//	recursive message                     refused                a table type is finite
//	proto2 group                          refused
//
// Every column and struct field is nullable, so that a message type that drops or adds
// a field still fits the table. Values follow field presence: a field with explicit
// presence (a message, proto3 optional, proto2 optional, a oneof member) is null when
// absent; a proto3 scalar without it is its zero value (0, "", false, the enum's first
// name) when absent, as every Protobuf reader sees it.

// The Confluent serializers treat these imports as built in and register no reference
// for them; their text is the published one, reduced to what decoding needs.
var builtinProtoFiles = map[string]string{
	"confluent/meta.proto": `syntax = "proto3";
package confluent;
import "google/protobuf/descriptor.proto";
option java_package = "io.confluent.protobuf";
message Meta { string doc = 1; map<string, string> params = 2; repeated string tags = 3; }
extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
`,
	"confluent/type/decimal.proto": `syntax = "proto3";
package confluent.type;
message Decimal { bytes value = 1; uint32 precision = 2; int32 scale = 3; }
`,
	"google/type/date.proto": `syntax = "proto3";
package google.type;
message Date { int32 year = 1; int32 month = 2; int32 day = 3; }
`,
	"google/type/timeofday.proto": `syntax = "proto3";
package google.type;
message TimeOfDay { int32 hours = 1; int32 minutes = 2; int32 seconds = 3; int32 nanos = 4; }
`,
}

// ParseProtobuf compiles a registry schema of type PROTOBUF: its text, every schema it
// references (each under its reference name, the import path), the standard
// google/protobuf imports and the ones Confluent's serializers treat as built in. The
// result is the schema's own file.
func ParseProtobuf(s *Schema) (protoreflect.FileDescriptor, error) {
	if s.Type != TypeProtobuf {
		return nil, fmt.Errorf("schema %d is a %s schema, not Protobuf", s.ID, s.Type)
	}
	files := map[string]string{}
	for name, text := range builtinProtoFiles {
		files[name] = text
	}
	var collect func(*Schema)
	collect = func(x *Schema) {
		for _, ref := range x.References {
			if dep := x.Resolved[ref.Name]; dep != nil {
				files[ref.Name] = dep.Text
				collect(dep)
			}
		}
	}
	collect(s)
	main := fmt.Sprintf("sluice-registry-schema-%d.proto", s.ID)
	files[main] = s.Text
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: protocompile.SourceAccessorFromMap(files)}),
		MaxParallelism: 1,
		Reporter:       reporter.NewReporter(nil, nil),
	}
	out, err := c.Compile(context.Background(), main)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", s.ID, cleanProtoError(err, main))
	}
	return out[0], nil
}

// cleanProtoError drops the synthetic file name of the schema's own text, which means
// nothing to a user, from compiler errors.
func cleanProtoError(err error, main string) error {
	return errors.New(strings.ReplaceAll(err.Error(), main+":", "line "))
}

// ProtoMessage returns the message type that message indexes (SplitProtoIndexes) name in
// a file: the first index is a top-level message's position, each next one a nested
// message's position inside the previous.
func ProtoMessage(fd protoreflect.FileDescriptor, indexes []int) (protoreflect.MessageDescriptor, error) {
	if len(indexes) == 0 {
		indexes = []int{0}
	}
	msgs := fd.Messages()
	var md protoreflect.MessageDescriptor
	for depth, i := range indexes {
		if i < 0 || i >= msgs.Len() {
			return nil, fmt.Errorf("message indexes %v: index %d at depth %d names no message (%d declared there)", indexes, i, depth, msgs.Len())
		}
		md = msgs.Get(i)
		msgs = md.Messages()
	}
	return md, nil
}

// ProtoTableSchema maps a message type to the table schema that holds its messages, one
// column per field (per oneof for a oneof's members). Errors are *ProtoSchemaError naming
// the field that has no table equivalent.
func ProtoTableSchema(md protoreflect.MessageDescriptor) (*table.StructType, error) {
	m := protoMapper{}
	return m.message(md, "")
}

type protoMapper struct {
	stack []protoreflect.FullName // the messages being mapped, to refuse recursion
}

// protoMembers lists a message's columns in declaration order: a field, or a oneof (not
// a proto3 optional's synthetic one) in the place of its first member.
func protoMembers(md protoreflect.MessageDescriptor) (fields []protoreflect.FieldDescriptor, oneofs []protoreflect.OneofDescriptor) {
	seen := map[protoreflect.FullName]bool{}
	for i := 0; i < md.Fields().Len(); i++ {
		f := md.Fields().Get(i)
		if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
			if !seen[o.FullName()] {
				seen[o.FullName()] = true
				fields, oneofs = append(fields, nil), append(oneofs, o)
			}
			continue
		}
		fields, oneofs = append(fields, f), append(oneofs, nil)
	}
	return fields, oneofs
}

func (m *protoMapper) message(md protoreflect.MessageDescriptor, path string) (*table.StructType, error) {
	if slices.Contains(m.stack, md.FullName()) {
		return nil, &ProtoSchemaError{Field: path, Msg: fmt.Sprintf("message %s contains itself (a recursive type); a table column cannot nest without end", md.FullName())}
	}
	if md.Fields().Len() == 0 {
		return nil, &ProtoSchemaError{Field: path, Msg: fmt.Sprintf("message %s has no fields; Parquet cannot store an empty struct", md.FullName())}
	}
	m.stack = append(m.stack, md.FullName())
	defer func() { m.stack = m.stack[:len(m.stack)-1] }()
	fields, oneofs := protoMembers(md)
	st := &table.StructType{Fields: make([]*table.StructField, 0, len(fields))}
	for i, f := range fields {
		if o := oneofs[i]; o != nil {
			op := joinPath(path, string(o.Name()))
			inner := &table.StructType{}
			for j := 0; j < o.Fields().Len(); j++ {
				mf := o.Fields().Get(j)
				t, err := m.value(mf, joinPath(op, string(mf.Name())))
				if err != nil {
					return nil, err
				}
				inner.Fields = append(inner.Fields, &table.StructField{Name: string(mf.Name()), Type: t, Nullable: true})
			}
			st.Fields = append(st.Fields, &table.StructField{Name: string(o.Name()), Type: inner, Nullable: true})
			continue
		}
		t, err := m.field(f, joinPath(path, string(f.Name())))
		if err != nil {
			return nil, err
		}
		st.Fields = append(st.Fields, &table.StructField{Name: string(f.Name()), Type: t, Nullable: true})
	}
	return st, nil
}

// field maps a field with its cardinality: a list or a map, or one value.
func (m *protoMapper) field(f protoreflect.FieldDescriptor, path string) (table.DataType, error) {
	switch {
	case f.IsMap():
		k, err := m.value(f.MapKey(), path+".key")
		if err != nil {
			return nil, err
		}
		v, err := m.value(f.MapValue(), path+".value")
		if err != nil {
			return nil, err
		}
		return &table.MapType{KeyType: k, ValueType: v}, nil
	case f.IsList():
		e, err := m.value(f, path)
		if err != nil {
			return nil, err
		}
		return &table.ArrayType{ElementType: e}, nil
	}
	return m.value(f, path)
}

// value maps one value of a field's type.
func (m *protoMapper) value(f protoreflect.FieldDescriptor, path string) (table.DataType, error) {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return table.Boolean, nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return table.Integer, nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return table.Long, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &table.DecimalType{Precision: 20, Scale: 0}, nil
	case protoreflect.FloatKind:
		return table.Float, nil
	case protoreflect.DoubleKind:
		return table.Double, nil
	case protoreflect.StringKind, protoreflect.EnumKind:
		return table.String, nil
	case protoreflect.BytesKind:
		return table.Binary, nil
	case protoreflect.GroupKind:
		return nil, &ProtoSchemaError{Field: path, Msg: "proto2 groups are not supported: declare a message field instead"}
	}
	md := f.Message()
	switch wk := wellKnown(md); wk {
	case wkTimestamp:
		return table.Timestamp, nil
	case wkDuration:
		return table.Long, nil
	case wkJSON:
		return table.String, nil
	case wkDate:
		return table.Date, nil
	case wkWrapper:
		return m.value(md.Fields().ByNumber(1), path)
	}
	return m.message(md, path)
}

// wkType is how a well-known message type maps.
type wkType uint8

const (
	wkNone      wkType = iota
	wkTimestamp        // google.protobuf.Timestamp
	wkDuration         // google.protobuf.Duration
	wkWrapper          // google.protobuf.Int32Value and its siblings: field 1 is the value
	wkJSON             // google.protobuf.Struct, Value, ListValue
	wkDate             // google.type.Date
)

func wellKnown(md protoreflect.MessageDescriptor) wkType {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return wkTimestamp
	case "google.protobuf.Duration":
		return wkDuration
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return wkWrapper
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue":
		return wkJSON
	case "google.type.Date":
		return wkDate
	}
	return wkNone
}

func describeProto(f protoreflect.FieldDescriptor) string {
	var what string
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		what = string(f.Message().FullName())
	case protoreflect.EnumKind:
		what = "enum " + string(f.Enum().FullName())
	default:
		what = f.Kind().String()
	}
	switch {
	case f.IsMap():
		return fmt.Sprintf("map<%s, %s>", describeProto(f.MapKey()), describeProto(f.MapValue()))
	case f.IsList():
		return "repeated " + what
	}
	return what
}
