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
//     same, unless opts.TypeWidening lets it widen (EvolveOptions): then the column,
//     struct field, array element or map key or value takes incoming's wider type, and
//     the metadata of its nearest struct field records the change under
//     delta.typeChanges (with the "element", "key" or "value" fieldPath below it), as
//     the protocol's type widening requires; the table then needs the typeWidening
//     feature, which table.Commit adds. Any other change of type is refused.
//     Nullability only ever relaxes: a non-nullable column that incoming makes
//     nullable becomes nullable (Delta's DROP NOT NULL; rows already there have
//     values, and readers accept nulls from then on), and a nullable column that
//     incoming makes non-nullable stays nullable (the table may hold nulls in it, and
//     non-null values fit). The same holds for the nullability of array elements and
//     map values.
//   - Two names that differ only in case at one level, one from each schema or both
//     from incoming, are refused: Delta and Spark resolve column names
//     case-insensitively.
//
// Evolve compares exactly, so it is for writer schemas newer than the table. Older or
// narrower ones (a field the table has and they lack, an int where the table has a
// long, a required field where the table is nullable) need no evolution: Avro schema
// resolution in NewAvroDecoder reads them as they are, into widened columns too. The
// connector therefore offers a writer schema to Evolve when its decoder has Unmapped
// fields or does not compile.
// Callers that add their own columns to a table (Kafka metadata, derived columns) keep
// them out of current or add them to incoming, or they would count as dropped. A
// refusal is an *EvolutionError naming the dotted path ("payload.items.element.qty")
// and what changed; merged is then nil. When nothing changed, merged is current
// itself; otherwise merged shares nothing with current or incoming, and changes lists
// what changed.
func Evolve(current, incoming *table.StructType, opts EvolveOptions) (merged *table.StructType, changes Changes, err error) {
	ev := evolver{opts: opts}
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
	Widened  []string // columns, struct fields, array elements, map keys and values whose type widened
}

// Any reports whether the schema changed.
func (c Changes) Any() bool { return len(c.Added) > 0 || len(c.Nullable) > 0 || len(c.Widened) > 0 }

// evolver merges two schemas and records the changes.
type evolver struct {
	opts    EvolveOptions
	changes Changes
}

// evolvable reports whether schema evolution widens a column of type from to type to:
// a change the protocol lists (table.CanWiden) other than integer to decimal or
// double, which Delta leaves to an explicit ALTER COLUMN lest a whole number column
// turn fractional by accident, and which Avro schema resolution cannot read either.
func evolvable(from, to table.DataType) bool {
	if !table.CanWiden(from, to) {
		return false
	}
	switch from {
	case table.Byte, table.Short, table.Integer, table.Long:
		if _, ok := to.(*table.DecimalType); ok || to == table.Double {
			return false
		}
	}
	return true
}

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
		var widened []table.TypeChange
		t, err := ev.dataType(cf.Type, inf.Type, fp, "", &widened)
		if err != nil {
			return nil, err
		}
		f := &table.StructField{Name: cf.Name, Type: t, Nullable: nullable, Metadata: slices.Clone(cf.Metadata)}
		if len(widened) > 0 {
			if err := f.AddTypeChanges(widened...); err != nil {
				return nil, &EvolutionError{Path: fp, Msg: err.Error()}
			}
		}
		out.Fields = append(out.Fields, f)
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
// nullable fields incoming adds and widened where incoming is wider (opts.TypeWidening).
// rel is the path from the nearest struct field ("", "element", "value.element"), and
// widened collects the type changes that field's metadata records.
func (ev *evolver) dataType(cur, in table.DataType, path, rel string, widened *[]table.TypeChange) (table.DataType, error) {
	refuse := func() (table.DataType, error) {
		msg := fmt.Sprintf("the type changed from %s to %s; a column's type never changes, widening included (add a column under a new name instead)", cur, in)
		switch {
		case ev.opts.TypeWidening:
			msg = fmt.Sprintf("the type changed from %s to %s, which is no widening schema evolution applies (byte, short, integer to a wider one of them; float to double; decimal(p,s) to decimal(p+k1,s+k2) with k1 >= k2 >= 0; date to timestamp_ntz)", cur, in)
		case evolvable(cur, in):
			msg = fmt.Sprintf("the type widened from %s to %s, but the table does not enable type widening (table property %s)", cur, in, table.EnableTypeWideningKey)
		}
		return nil, &EvolutionError{Path: path, Msg: msg}
	}
	switch c := cur.(type) {
	case table.PrimitiveType, *table.DecimalType:
		if in.String() == c.String() {
			return table.CloneType(c), nil
		}
		if !ev.opts.TypeWidening || !evolvable(c, in) {
			return refuse()
		}
		*widened = append(*widened, table.TypeChange{FromType: c.String(), ToType: in.String(), FieldPath: rel})
		ev.changes.Widened = append(ev.changes.Widened, path)
		return table.CloneType(in), nil
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
		e, err := ev.dataType(c.ElementType, a.ElementType, ep, joinPath(rel, "element"), widened)
		if err != nil {
			return nil, err
		}
		return &table.ArrayType{ElementType: e, ContainsNull: ev.relax(c.ContainsNull, a.ContainsNull, ep)}, nil
	case *table.MapType:
		m, ok := in.(*table.MapType)
		if !ok {
			return refuse()
		}
		k, err := ev.dataType(c.KeyType, m.KeyType, joinPath(path, "key"), joinPath(rel, "key"), widened)
		if err != nil {
			return nil, err
		}
		vp := joinPath(path, "value")
		v, err := ev.dataType(c.ValueType, m.ValueType, vp, joinPath(rel, "value"), widened)
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
// map values), a non-nullable column, list element or map value becomes nullable
// where the writer makes it optional or lacks the field, and, with opts.TypeWidening, a
// column, struct field, list element or map key or value takes the writer's type where
// that is a widening Evolve applies. Other differences (a promotable type, a nullable
// column the writer dropped or made required) need no change: the decoder resolves
// them, or reports a type it cannot.
func Widen(current, writer *table.StructType, opts EvolveOptions) (*table.StructType, bool) {
	out := current.Clone()
	return out, widenStruct(out, writer, opts)
}

func widenStruct(dst, src *table.StructType, opts EvolveOptions) bool {
	changed := false
	for _, df := range dst.Fields {
		sf := src.Field(df.Name)
		if !df.Nullable && (sf == nil || sf.Nullable) {
			df.Nullable = true
			changed = true
		}
		if sf != nil {
			var ch bool
			df.Type, ch = widenType(df.Type, sf.Type, opts)
			changed = changed || ch
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

// widenType widens d, in place where it is a struct, array or map, towards s; it
// returns the widened type and whether it changed.
func widenType(d, s table.DataType, opts EvolveOptions) (table.DataType, bool) {
	switch dt := d.(type) {
	case table.PrimitiveType, *table.DecimalType:
		if opts.TypeWidening && evolvable(d, s) {
			return table.CloneType(s), true
		}
	case *table.StructType:
		if st, ok := s.(*table.StructType); ok {
			return dt, widenStruct(dt, st, opts)
		}
	case *table.ArrayType:
		if st, ok := s.(*table.ArrayType); ok {
			var changed bool
			dt.ElementType, changed = widenType(dt.ElementType, st.ElementType, opts)
			if st.ContainsNull && !dt.ContainsNull {
				dt.ContainsNull = true
				changed = true
			}
			return dt, changed
		}
	case *table.MapType:
		if st, ok := s.(*table.MapType); ok {
			var changed bool
			if opts.TypeWidening && evolvable(dt.KeyType, st.KeyType) {
				dt.KeyType, changed = table.CloneType(st.KeyType), true
			}
			var vch bool
			dt.ValueType, vch = widenType(dt.ValueType, st.ValueType, opts)
			if st.ValueContainsNull && !dt.ValueContainsNull {
				dt.ValueContainsNull = true
				vch = true
			}
			return dt, changed || vch
		}
	}
	return d, false
}
