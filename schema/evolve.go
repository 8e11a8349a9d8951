package schema

import (
	"fmt"
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
// itself; otherwise merged shares nothing with current or incoming.
func Evolve(current, incoming *table.StructType) (merged *table.StructType, changed bool, err error) {
	m, changed, err := evolveStruct(current, incoming, "")
	if err != nil {
		return nil, false, err
	}
	if !changed {
		return current, false, nil
	}
	return m, true, nil
}

func evolveStruct(cur, in *table.StructType, path string) (*table.StructType, bool, error) {
	folded := make(map[string]string, len(in.Fields))
	for _, f := range in.Fields {
		k := strings.ToLower(f.Name)
		if other, ok := folded[k]; ok {
			return nil, false, &EvolutionError{Path: joinPath(path, f.Name), Msg: fmt.Sprintf("the new schema also has %q, a name that differs only in case; Delta column names are case-insensitive", other)}
		}
		folded[k] = f.Name
	}
	out := &table.StructType{Fields: make([]*table.StructField, 0, len(cur.Fields)+len(in.Fields))}
	changed := false
	for _, cf := range cur.Fields {
		fp := joinPath(path, cf.Name)
		inf := in.Field(cf.Name)
		if inf == nil {
			if other, ok := folded[strings.ToLower(cf.Name)]; ok {
				return nil, false, &EvolutionError{Path: fp, Msg: fmt.Sprintf("the new schema calls it %q; Delta column names are case-insensitive, so a rename by case is refused", other)}
			}
			f := copyField(cf)
			if !f.Nullable {
				f.Nullable = true
				changed = true
			}
			out.Fields = append(out.Fields, f)
			continue
		}
		nullable, relaxed := relax(cf.Nullable, inf.Nullable)
		t, ch, err := evolveType(cf.Type, inf.Type, fp)
		if err != nil {
			return nil, false, err
		}
		changed = changed || ch || relaxed
		out.Fields = append(out.Fields, &table.StructField{Name: cf.Name, Type: t, Nullable: nullable, Metadata: cloneBytes(cf.Metadata)})
	}
	for _, inf := range in.Fields {
		if cur.Field(inf.Name) != nil {
			continue
		}
		if !inf.Nullable {
			return nil, false, &EvolutionError{Path: joinPath(path, inf.Name), Msg: fmt.Sprintf("the new column is a non-nullable %s; a column added to a table must be nullable, since the rows already there have no value for it", inf.Type)}
		}
		out.Fields = append(out.Fields, copyField(inf))
		changed = true
	}
	return out, changed, nil
}

// relax merges the nullability of one column, array element or map value: it is
// nullable when either side is, and relaxed reports that the table's changes.
func relax(cur, in bool) (nullable, relaxed bool) {
	return cur || in, !cur && in
}

// evolveType merges two types of one column; it returns a copy of cur, grown by the
// nullable fields incoming adds.
func evolveType(cur, in table.DataType, path string) (table.DataType, bool, error) {
	refuse := func() (table.DataType, bool, error) {
		return nil, false, &EvolutionError{Path: path, Msg: fmt.Sprintf("the type changed from %s to %s; a column's type never changes, widening included (add a column under a new name instead)", cur, in)}
	}
	switch c := cur.(type) {
	case table.PrimitiveType:
		if p, ok := in.(table.PrimitiveType); ok && p == c {
			return c, false, nil
		}
		return refuse()
	case *table.DecimalType:
		if d, ok := in.(*table.DecimalType); ok && *d == *c {
			return &table.DecimalType{Precision: c.Precision, Scale: c.Scale}, false, nil
		}
		return refuse()
	case *table.StructType:
		s, ok := in.(*table.StructType)
		if !ok {
			return refuse()
		}
		return evolveStruct(c, s, path)
	case *table.ArrayType:
		a, ok := in.(*table.ArrayType)
		if !ok {
			return refuse()
		}
		containsNull, relaxed := relax(c.ContainsNull, a.ContainsNull)
		e, ch, err := evolveType(c.ElementType, a.ElementType, joinPath(path, "element"))
		if err != nil {
			return nil, false, err
		}
		return &table.ArrayType{ElementType: e, ContainsNull: containsNull}, ch || relaxed, nil
	case *table.MapType:
		m, ok := in.(*table.MapType)
		if !ok {
			return refuse()
		}
		k, kch, err := evolveType(c.KeyType, m.KeyType, joinPath(path, "key"))
		if err != nil {
			return nil, false, err
		}
		valueContainsNull, relaxed := relax(c.ValueContainsNull, m.ValueContainsNull)
		v, vch, err := evolveType(c.ValueType, m.ValueType, joinPath(path, "value"))
		if err != nil {
			return nil, false, err
		}
		return &table.MapType{KeyType: k, ValueType: v, ValueContainsNull: valueContainsNull}, kch || vch || relaxed, nil
	}
	return refuse()
}

func copyField(f *table.StructField) *table.StructField {
	return &table.StructField{Name: f.Name, Type: copyType(f.Type), Nullable: f.Nullable, Metadata: cloneBytes(f.Metadata)}
}

func copyType(t table.DataType) table.DataType {
	switch t := t.(type) {
	case *table.DecimalType:
		return &table.DecimalType{Precision: t.Precision, Scale: t.Scale}
	case *table.StructType:
		s := &table.StructType{Fields: make([]*table.StructField, len(t.Fields))}
		for i, f := range t.Fields {
			s.Fields[i] = copyField(f)
		}
		return s
	case *table.ArrayType:
		return &table.ArrayType{ElementType: copyType(t.ElementType), ContainsNull: t.ContainsNull}
	case *table.MapType:
		return &table.MapType{KeyType: copyType(t.KeyType), ValueType: copyType(t.ValueType), ValueContainsNull: t.ValueContainsNull}
	}
	return t
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}
