package table

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/google/uuid"
)

// Column mapping (PROTOCOL.md, "Column Mapping"): every column, nested or not, has a
// physical name and an id in its metadata. Data files name their columns by the physical
// names (and carry the ids as Parquet field ids); partition values and statistics in the
// log are keyed by physical names too. The display names in the schema can then change
// (RENAME COLUMN) or go (DROP COLUMN) without rewriting data.

// Column mapping modes (delta.columnMapping.mode).
const (
	ColumnMappingNone = "none"
	ColumnMappingName = "name"
	ColumnMappingID   = "id"
)

const (
	physicalNameKey = "delta.columnMapping.physicalName"
	columnIDKey     = "delta.columnMapping.id"
	maxColumnIDKey  = "delta.columnMapping.maxColumnId"
)

// ColumnMappingMode is the table's column mapping mode: none unless the protocol
// supports the feature and delta.columnMapping.mode names a mode.
func (s *Snapshot) ColumnMappingMode() string {
	return columnMappingMode(s.protocol, s.metadata)
}

func columnMappingMode(p *Protocol, m *Metadata) string {
	supported := p.MinReaderVersion == 2 || p.MinReaderVersion == 3 && slices.Contains(p.ReaderFeatures, "columnMapping")
	if !supported {
		return ColumnMappingNone
	}
	switch mode := m.Configuration["delta.columnMapping.mode"]; mode {
	case ColumnMappingName, ColumnMappingID:
		return mode
	}
	return ColumnMappingNone
}

// fieldMetadata is the column mapping part of a field's metadata.
type fieldMetadata struct {
	PhysicalName string `json:"delta.columnMapping.physicalName"`
	ID           *int64 `json:"delta.columnMapping.id"`
}

func (f *StructField) mapping() fieldMetadata {
	var m fieldMetadata
	if len(f.Metadata) > 0 {
		_ = json.Unmarshal(f.Metadata, &m)
	}
	return m
}

// PhysicalName is the name of f's column in data files, partition values and
// statistics: its column-mapping physical name, or its name when it has none.
func (f *StructField) PhysicalName() string {
	if m := f.mapping(); m.PhysicalName != "" {
		return m.PhysicalName
	}
	return f.Name
}

// ColumnID is f's column-mapping id (the Parquet field id), if it has one.
func (f *StructField) ColumnID() (int, bool) {
	if m := f.mapping(); m.ID != nil {
		return int(*m.ID), true
	}
	return 0, false
}

// PhysicalSchema is schema with every field, at any depth, named by its physical name:
// the schema of the data files. The metadata stays, so that ids can be read from it.
func PhysicalSchema(schema *StructType) *StructType {
	return physicalType(schema).(*StructType)
}

func physicalType(t DataType) DataType {
	switch t := t.(type) {
	case *StructType:
		out := &StructType{Fields: make([]*StructField, len(t.Fields))}
		for i, f := range t.Fields {
			out.Fields[i] = &StructField{Name: f.PhysicalName(), Type: physicalType(f.Type), Nullable: f.Nullable, Metadata: f.Metadata}
		}
		return out
	case *ArrayType:
		return &ArrayType{ElementType: physicalType(t.ElementType), ContainsNull: t.ContainsNull}
	case *MapType:
		return &MapType{KeyType: physicalType(t.KeyType), ValueType: physicalType(t.ValueType), ValueContainsNull: t.ValueContainsNull}
	}
	return t
}

// AssignColumnMapping gives every field of schema, at any depth, that has no physical
// name and id yet a fresh physical name ("col-<uuid>") and the next id after maxID, as a
// writer adding columns to a column-mapped table must; it returns the new maximum id.
// Fields that have both keep them.
func AssignColumnMapping(schema *StructType, maxID int64) (int64, error) {
	err := assignMapping(schema, &maxID)
	return maxID, err
}

func assignMapping(t DataType, maxID *int64) error {
	switch t := t.(type) {
	case *StructType:
		for _, f := range t.Fields {
			m := f.mapping()
			if m.PhysicalName == "" || m.ID == nil {
				meta := map[string]json.RawMessage{}
				if len(f.Metadata) > 0 {
					if err := json.Unmarshal(f.Metadata, &meta); err != nil {
						return fmt.Errorf("column %s: metadata: %w", f.Name, err)
					}
				}
				if m.ID == nil {
					*maxID++
					meta[columnIDKey] = json.RawMessage(strconv.FormatInt(*maxID, 10))
				}
				if m.PhysicalName == "" {
					name, _ := json.Marshal("col-" + uuid.NewString())
					meta[physicalNameKey] = name
				}
				b, err := json.Marshal(meta)
				if err != nil {
					return err
				}
				f.Metadata = b
			}
			if err := assignMapping(f.Type, maxID); err != nil {
				return err
			}
		}
	case *ArrayType:
		return assignMapping(t.ElementType, maxID)
	case *MapType:
		if err := assignMapping(t.KeyType, maxID); err != nil {
			return err
		}
		return assignMapping(t.ValueType, maxID)
	}
	return nil
}

// AssignColumnMapping gives every field of schema that has no physical name and id yet
// fresh ones (the package function AssignColumnMapping), numbered after the largest id
// m's delta.columnMapping.maxColumnId or the schema holds, and records the new largest
// id as m's maxColumnId: a commit of m with schema as its schema then adds the columns
// and moves the maximum together, as the protocol requires. It copies m's
// Configuration before changing it, since copies of a Metadata share it.
func (m *Metadata) AssignColumnMapping(schema *StructType) error {
	maxID, err := AssignColumnMapping(schema, max(m.MaxColumnID(), maxFieldID(schema)))
	if err != nil {
		return err
	}
	conf := maps.Clone(m.Configuration)
	if conf == nil {
		conf = map[string]string{}
	}
	conf[maxColumnIDKey] = strconv.FormatInt(maxID, 10)
	m.Configuration = conf
	return nil
}

// maxFieldID is the largest column id in t, 0 when none has one.
func maxFieldID(t DataType) int64 {
	var n int64
	switch t := t.(type) {
	case *StructType:
		for _, f := range t.Fields {
			if id, ok := f.ColumnID(); ok {
				n = max(n, int64(id))
			}
			n = max(n, maxFieldID(f.Type))
		}
	case *ArrayType:
		return maxFieldID(t.ElementType)
	case *MapType:
		return max(maxFieldID(t.KeyType), maxFieldID(t.ValueType))
	}
	return n
}

// MaxColumnID is delta.columnMapping.maxColumnId, 0 when absent.
func (m Metadata) MaxColumnID() int64 {
	n, _ := strconv.ParseInt(m.Configuration[maxColumnIDKey], 10, 64)
	return n
}

// checkColumnMapping refuses new metadata for a column-mapped table that breaks the
// mapping: a field, at any depth, without a physical name or id, two fields with one
// id, or a delta.columnMapping.maxColumnId below an id in use or below the table's.
// Readers would resolve such columns wrongly, so nothing is written.
func checkColumnMapping(s *Snapshot, meta *Metadata, schema *StructType) error {
	if columnMappingMode(s.protocol, meta) == ColumnMappingNone {
		return nil
	}
	refuse := func(why string) error {
		return &UnsupportedFeatureError{Table: s.uri, Feature: "a schema change that breaks column mapping: " + why, Write: true}
	}
	ids := map[int]string{}
	var walk func(t DataType, prefix string) error
	walk = func(t DataType, prefix string) error {
		switch t := t.(type) {
		case *StructType:
			for _, f := range t.Fields {
				id, ok := f.ColumnID()
				m := f.mapping()
				switch {
				case !ok || m.PhysicalName == "":
					return refuse(fmt.Sprintf("column %s%s has no physical name or id", prefix, f.Name))
				case ids[id] != "":
					return refuse(fmt.Sprintf("columns %s and %s%s share id %d", ids[id], prefix, f.Name, id))
				}
				ids[id] = prefix + f.Name
				if err := walk(f.Type, prefix+f.Name+"."); err != nil {
					return err
				}
			}
		case *ArrayType:
			return walk(t.ElementType, prefix)
		case *MapType:
			if err := walk(t.KeyType, prefix); err != nil {
				return err
			}
			return walk(t.ValueType, prefix)
		}
		return nil
	}
	if err := walk(schema, ""); err != nil {
		return err
	}
	maxID := meta.MaxColumnID()
	if maxID < s.metadata.MaxColumnID() {
		return refuse(fmt.Sprintf("delta.columnMapping.maxColumnId goes back from %d to %d", s.metadata.MaxColumnID(), maxID))
	}
	for id, name := range ids {
		if int64(id) > maxID {
			return refuse(fmt.Sprintf("column %s has id %d, above delta.columnMapping.maxColumnId %d", name, id, maxID))
		}
	}
	return nil
}
