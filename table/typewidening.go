package table

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Type widening (PROTOCOL.md, "Type Widening"): a column, struct field, array element
// or map key or value may change to a wider type without rewriting data. Files written
// before keep the narrower type; readers convert their values. Each change is recorded
// in the metadata of the nearest struct field, under delta.typeChanges, and the table
// needs the typeWidening feature (reader and writer). Writers may apply a change only
// while the table property delta.enableTypeWidening is true.

const (
	typeChangesKey = "delta.typeChanges"
	// EnableTypeWideningKey is the table property that lets writers widen column types.
	EnableTypeWideningKey = "delta.enableTypeWidening"
)

// TypeChange is one entry of a field's delta.typeChanges metadata.
type TypeChange struct {
	FromType string `json:"fromType"`
	ToType   string `json:"toType"`
	// FieldPath is "element", "key" or "value" (dotted for nested arrays and maps,
	// "element.value") when the change is to an array element or map key or value of the
	// field; empty for the field itself.
	FieldPath string `json:"fieldPath,omitempty"`
}

// TypeWideningEnabled reports whether the table property delta.enableTypeWidening is
// true: only then may a writer widen a column's type.
func (m Metadata) TypeWideningEnabled() bool {
	return m.Configuration[EnableTypeWideningKey] == "true"
}

// CanWiden reports whether the protocol lets a column of type from change to type to:
// byte → short → integer → long, float → double, byte, short or integer → double,
// date → timestamp_ntz, decimal(p,s) → decimal(p+k1,s+k2) with k1 >= k2 >= 0, and
// byte, short or integer → decimal(10+k1,k2), long → decimal(20+k1,k2). Only primitive
// and decimal types widen; a type never widens to itself.
func CanWiden(from, to DataType) bool {
	if fd, ok := from.(*DecimalType); ok {
		td, ok := to.(*DecimalType)
		return ok && *td != *fd && td.Scale >= fd.Scale && td.Precision-td.Scale >= fd.Precision-fd.Scale
	}
	fp, ok := from.(PrimitiveType)
	if !ok {
		return false
	}
	if td, ok := to.(*DecimalType); ok {
		digits := map[PrimitiveType]int{Byte: 10, Short: 10, Integer: 10, Long: 20}[fp]
		return digits > 0 && td.Precision-td.Scale >= digits
	}
	switch to {
	case Short:
		return fp == Byte
	case Integer:
		return fp == Byte || fp == Short
	case Long:
		return fp == Byte || fp == Short || fp == Integer
	case Double:
		return fp == Float || fp == Byte || fp == Short || fp == Integer
	case TimestampNTZ:
		return fp == Date
	}
	return false
}

// TypeChanges returns the type changes f's metadata records, oldest first.
func (f *StructField) TypeChanges() ([]TypeChange, error) {
	if !bytes.Contains(f.Metadata, []byte(`"`+typeChangesKey+`"`)) {
		return nil, nil
	}
	var m struct {
		Changes []TypeChange `json:"delta.typeChanges"`
	}
	if err := json.Unmarshal(f.Metadata, &m); err != nil {
		return nil, fmt.Errorf("column %s: metadata: %w", f.Name, err)
	}
	return m.Changes, nil
}

// AddTypeChanges appends changes to f's delta.typeChanges metadata, keeping the other
// metadata keys and the changes already recorded, as writers must.
func (f *StructField) AddTypeChanges(changes ...TypeChange) error {
	meta := map[string]json.RawMessage{}
	if len(f.Metadata) > 0 {
		if err := json.Unmarshal(f.Metadata, &meta); err != nil {
			return fmt.Errorf("column %s: metadata: %w", f.Name, err)
		}
	}
	all, err := f.TypeChanges()
	if err != nil {
		return err
	}
	b, err := json.Marshal(append(slices.Clone(all), changes...))
	if err != nil {
		return err
	}
	meta[typeChangesKey] = b
	if f.Metadata, err = json.Marshal(meta); err != nil {
		return err
	}
	return nil
}

// supportsTypeWidening reports whether p lists typeWidening for writers: files with a
// column's narrower type may then be in the table. (Tables with the preview name,
// typeWidening-preview, are read but not written.)
func supportsTypeWidening(p *Protocol) bool {
	return p.MinWriterVersion == 7 && slices.Contains(p.WriterFeatures, "typeWidening")
}

// checkTypeChanges refuses a schema that records a type change this package cannot
// read (PROTOCOL.md, "Reader Requirements for Type Widening"): one that is not a
// widening the protocol lists.
func checkTypeChanges(uri string, t DataType, write bool) error {
	switch t := t.(type) {
	case *StructType:
		for _, f := range t.Fields {
			changes, err := f.TypeChanges()
			if err != nil {
				return &InvalidTableError{Table: uri, Reason: err.Error()}
			}
			for _, c := range changes {
				from, err1 := ParsePrimitive(c.FromType)
				to, err2 := ParsePrimitive(c.ToType)
				if err1 != nil || err2 != nil || !CanWiden(from, to) {
					return &UnsupportedFeatureError{Table: uri, Write: write,
						Feature: fmt.Sprintf("a type change from %s to %s (column %s %s)", c.FromType, c.ToType, f.Name, c.FieldPath)}
				}
			}
			if err := checkTypeChanges(uri, f.Type, write); err != nil {
				return err
			}
		}
	case *ArrayType:
		return checkTypeChanges(uri, t.ElementType, write)
	case *MapType:
		if err := checkTypeChanges(uri, t.KeyType, write); err != nil {
			return err
		}
		return checkTypeChanges(uri, t.ValueType, write)
	}
	return nil
}
