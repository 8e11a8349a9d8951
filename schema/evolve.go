package schema

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicelake/sluice/table"
)

// Evolve decides whether a table whose schema is current can take messages whose
// schema maps to incoming (AvroTableSchema), and returns the schema the table needs.
// These are all the rules of schema evolution; the connector commits merged in a
// metaData action when changed is true. Columns match by exact name at every depth:
//
//   - A column in incoming and not in current is added when it is nullable, at the end
//     of its struct: at the top level, inside structs, inside array elements and map
//     values. Rows already in the table read it as null. A new non-nullable column is
//     refused: those rows have no value for it.
//   - A column in current and not in incoming stays, and the decoder writes null to it;
//     a non-nullable one becomes nullable, since the new messages have no value for it.
//   - A column in both keeps its name, position and metadata. Its type must be the
//     same: no change of type, and no widening either (int to long, float to double,
//     a larger decimal), because readers of older files would need the type-widening
//     table feature to read them. Nullability only ever relaxes: a non-nullable column
//     that incoming makes nullable becomes nullable (Delta's DROP NOT NULL; rows
//     already there have values, and readers accept nulls from then on), and a
//     nullable column that incoming makes non-nullable stays nullable (the table may
//     hold nulls in it, and non-null values fit). The same holds for the nullability
//     of array elements and map values.
//   - Two names that differ only in case at one level, one from each schema or both
//     from incoming, are refused: Delta and Spark resolve column names
//     case-insensitively.
//
// Evolve compares exactly, so it is for writer schemas newer than the table. Older or
// narrower ones (a field the table has and they lack, an int where the table has a
// long, a required field where the table is nullable) need no evolution: Avro schema
// resolution in NewAvroDecoder reads them as they are. The connector therefore offers a
// writer schema to Evolve when its decoder has Unmapped fields or does not compile.
// Callers that add their own columns to a table (Kafka metadata, derived columns) keep
// them out of current or add them to incoming, or they would count as dropped. A
// refusal is an *EvolutionError naming the dotted path ("payload.items.element.qty")
// and what changed; merged is then nil. When nothing changed, merged is current
// itself; otherwise merged shares nothing with current or incoming, and changes lists
// what changed.
func Evolve(current, incoming *table.StructType) (merged *table.StructType, changes Changes, err error) {
	var ev evolver
	m, err := ev.structType(current, incoming, "")
	if err != nil {
		return nil, Changes{}, err
	}
	if !ev.changes.Any() {
		return current, Changes{}, nil
	}
	return m, ev.changes, nil
}

// Changes lists what Evolve changed, as dotted column paths ("element" and "value"
// inside arrays and maps).
type Changes struct {
	Added    []string // new columns
	Nullable []string // columns, array elements and map values that became nullable
}

// Any reports whether the schema changed.
func (c Changes) Any() bool { return len(c.Added) > 0 || len(c.Nullable) > 0 }

// evolver merges two schemas and records the changes.
type evolver struct{ changes Changes }

// relax merges the nullability of one column, array element or map value: it is
// nullable when either side is.
func (ev *evolver) relax(cur, in bool, path string) bool {
	if !cur && in {
		ev.changes.Nullable = append(ev.changes.Nullable, path)
	}
	return cur || in
}

func (ev *evolver) structType(cur, in *table.StructType, path string) (*table.StructType, error) {
	folded := make(map[string]string, len(in.Fields))
	for _, f := range in.Fields {
		k := strings.ToLower(f.Name)
		if other, ok := folded[k]; ok {
			return nil, &EvolutionError{Path: joinPath(path, f.Name), Msg: fmt.Sprintf("the new schema also has %q, a name that differs only in case; Delta column names are case-insensitive", other)}
		}
		folded[k] = f.Name
	}
	out := &table.StructType{Fields: make([]*table.StructField, 0, len(cur.Fields)+len(in.Fields))}
	for _, cf := range cur.Fields {
		fp := joinPath(path, cf.Name)
		inf := in.Field(cf.Name)
		if inf == nil {
			if other, ok := folded[strings.ToLower(cf.Name)]; ok {
				return nil, &EvolutionError{Path: fp, Msg: fmt.Sprintf("the new schema calls it %q; Delta column names are case-insensitive, so a rename by case is refused", other)}
			}
			f := cf.Clone()
			f.Nullable = ev.relax(f.Nullable, true, fp)
			out.Fields = append(out.Fields, f)
			continue
		}
		nullable := ev.relax(cf.Nullable, inf.Nullable, fp)
		t, err := ev.dataType(cf.Type, inf.Type, fp)
		if err != nil {
			return nil, err
		}
		out.Fields = append(out.Fields, &table.StructField{Name: cf.Name, Type: t, Nullable: nullable, Metadata: slices.Clone(cf.Metadata)})
	}
	for _, inf := range in.Fields {
		if cur.Field(inf.Name) != nil {
			continue
		}
		fp := joinPath(path, inf.Name)
		if !inf.Nullable {
			return nil, &EvolutionError{Path: fp, Msg: fmt.Sprintf("the new column is a non-nullable %s; a column added to a table must be nullable, since the rows already there have no value for it", inf.Type)}
		}
		out.Fields = append(out.Fields, inf.Clone())
		ev.changes.Added = append(ev.changes.Added, fp)
	}
	return out, nil
}

// dataType merges two types of one column; it returns a copy of cur, grown by the
// nullable fields incoming adds.
func (ev *evolver) dataType(cur, in table.DataType, path string) (table.DataType, error) {
	refuse := func() (table.DataType, error) {
		return nil, &EvolutionError{Path: path, Msg: fmt.Sprintf("the type changed from %s to %s; a column's type never changes, widening included (add a column under a new name instead)", cur, in)}
	}
	switch c := cur.(type) {
	case table.PrimitiveType:
		if p, ok := in.(table.PrimitiveType); ok && p == c {
			return c, nil
		}
		return refuse()
	case *table.DecimalType:
		if d, ok := in.(*table.DecimalType); ok && *d == *c {
			return table.CloneType(c), nil
		}
		return refuse()
	case *table.StructType:
		s, ok := in.(*table.StructType)
		if !ok {
			return refuse()
		}
		return ev.structType(c, s, path)
	case *table.ArrayType:
		a, ok := in.(*table.ArrayType)
		if !ok {
			return refuse()
		}
		ep := joinPath(path, "element")
		e, err := ev.dataType(c.ElementType, a.ElementType, ep)
		if err != nil {
			return nil, err
		}
		return &table.ArrayType{ElementType: e, ContainsNull: ev.relax(c.ContainsNull, a.ContainsNull, ep)}, nil
	case *table.MapType:
		m, ok := in.(*table.MapType)
		if !ok {
			return refuse()
		}
		k, err := ev.dataType(c.KeyType, m.KeyType, joinPath(path, "key"))
		if err != nil {
			return nil, err
		}
		vp := joinPath(path, "value")
		v, err := ev.dataType(c.ValueType, m.ValueType, vp)
		if err != nil {
			return nil, err
		}
		return &table.MapType{KeyType: k, ValueType: v, ValueContainsNull: ev.relax(c.ValueContainsNull, m.ValueContainsNull, vp)}, nil
	}
	return refuse()
}

// Widen returns current changed as far as a writer schema (mapped from Avro or JSON
// Schema) needs it, for Evolve, and whether anything changed: the writer's fields that
// current lacks are added as nullable (at any depth, through structs, list elements and
// map values), and a non-nullable column, list element or map value becomes nullable
// where the writer makes it optional or lacks the field. Other differences (a
// promotable type, a nullable column the writer dropped or made required) need no
// change: the decoder resolves them, or reports a type it cannot.
func Widen(current, writer *table.StructType) (*table.StructType, bool) {
	out := current.Clone()
	return out, widenStruct(out, writer)
}

func widenStruct(dst, src *table.StructType) bool {
	changed := false
	for _, df := range dst.Fields {
		sf := src.Field(df.Name)
		if !df.Nullable && (sf == nil || sf.Nullable) {
			df.Nullable = true
			changed = true
		}
		if sf != nil && widenType(df.Type, sf.Type) {
			changed = true
		}
	}
	for _, sf := range src.Fields {
		if dst.Field(sf.Name) == nil {
			f := sf.Clone()
			f.Nullable = true
			dst.Fields = append(dst.Fields, f)
			changed = true
		}
	}
	return changed
}

func widenType(d, s table.DataType) bool {
	switch dt := d.(type) {
	case *table.StructType:
		if st, ok := s.(*table.StructType); ok {
			return widenStruct(dt, st)
		}
	case *table.ArrayType:
		if st, ok := s.(*table.ArrayType); ok {
			changed := widenType(dt.ElementType, st.ElementType)
			if st.ContainsNull && !dt.ContainsNull {
				dt.ContainsNull = true
				changed = true
			}
			return changed
		}
	case *table.MapType:
		if st, ok := s.(*table.MapType); ok {
			changed := widenType(dt.ValueType, st.ValueType)
			if st.ValueContainsNull && !dt.ValueContainsNull {
				dt.ValueContainsNull = true
				changed = true
			}
			return changed
		}
	}
	return false
}
