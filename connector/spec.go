package connector

import (
	"fmt"
	"slices"

	"github.com/sluicelake/sluice/schema"
	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/writer"
)

// schemaSpec is one version of a table's schema as the runtime uses it. It is immutable:
// an evolution builds a new one and hands it to every worker.
type schemaSpec struct {
	full    *table.StructType // the table schema
	msg     *table.StructType // the columns messages fill (no derived or Kafka columns)
	meta    table.Metadata
	derived map[string]*writer.Derivation
	// mapped is true when the table has column mapping (mode name or id): data files
	// use physical names and ids, and new columns get their own.
	mapped bool
}

// columnMapped reports whether the table at snap has column mapping; it depends on the
// protocol as well as the metadata, so a spec records it.
func columnMapped(snap *table.Snapshot) bool {
	return snap.ColumnMappingMode() != table.ColumnMappingNone
}

// newSchemaSpec builds the spec of a table at meta; mapped is columnMapped.
func newSchemaSpec(cfg *TableConfig, meta table.Metadata, mapped bool) (*schemaSpec, error) {
	full, err := meta.Schema()
	if err != nil {
		return nil, err
	}
	derived, err := cfg.derivations()
	if err != nil {
		return nil, err
	}
	s := &schemaSpec{full: full, meta: meta, derived: derived, mapped: mapped, msg: &table.StructType{}}
	for _, f := range full.Fields {
		if _, ok := derived[f.Name]; ok {
			continue
		}
		if cfg.KafkaColumns.Enabled() && isKafkaColumn(f.Name) {
			continue
		}
		if cfg.Mode == ModeChangelog && isChangeColumn(f.Name) {
			continue
		}
		s.msg.Fields = append(s.msg.Fields, f)
	}
	return s, nil
}

// evolveOptions are the options of schema evolution on the spec's table: types widen
// when the table enables type widening (delta.enableTypeWidening).
func (s *schemaSpec) evolveOptions() schema.EvolveOptions {
	return schema.EvolveOptions{TypeWidening: s.meta.TypeWideningEnabled()}
}

func isKafkaColumn(name string) bool {
	switch name {
	case colKafkaTopic, colKafkaPartition, colKafkaOffset, colKafkaTimestamp, colKafkaKey, colKafkaHeaders:
		return true
	}
	return false
}

// newBuffer builds a writer buffer for the spec.
// reuse bounds the memory a buffer keeps from encoded files for its next rows, and
// counts it, so that reuse stays within the memory budget shared by every worker;
// encoders is how many of a file's columns are encoded at once (Connector.encoders).
// keys are the key columns that get bloom filters (mode upsert), nil for none.
func (s *schemaSpec) newBuffer(cfg *TableConfig, reuse reuseLimits, encoders int, keys []string) (*writer.Buffer, error) {
	wc := cfg.WriterConfig()
	wc.ReuseBytes, wc.Reused, wc.ReusedMax = min(wc.ReuseBytes, reuse.perBuffer), reuse.counter, reuse.total
	wc.Encoders = encoders
	rules, err := table.Rules(&s.meta, s.full)
	if err != nil {
		return nil, err
	}
	return writer.NewBuffer(writer.Spec{Schema: s.full, PartitionColumns: s.meta.PartitionColumns, Derived: s.derived,
		ColumnMapping: s.mapped, Rules: rules, BloomFilters: keys}, wc)
}

// evolvedMetadata is the table metadata once the message schema has evolved to
// mergedMsg. Under column mapping the columns and nested fields it adds get fresh
// physical names and ids, and maxColumnId moves with them; existing ones keep theirs.
func (s *schemaSpec) evolvedMetadata(mergedMsg *table.StructType) (table.Metadata, error) {
	full := s.evolvedSchema(mergedMsg).Clone()
	meta := s.meta
	if s.mapped {
		if err := meta.AssignColumnMapping(full); err != nil {
			return table.Metadata{}, err
		}
	}
	meta.SchemaString = full.SchemaString()
	return meta, nil
}

// evolvedSchema merges an evolved message schema back into the full table schema:
// existing columns keep their place (with any nested fields added), new columns go to
// the end, after the derived and Kafka columns.
func (s *schemaSpec) evolvedSchema(mergedMsg *table.StructType) *table.StructType {
	out := &table.StructType{}
	for _, f := range s.full.Fields {
		if m := mergedMsg.Field(f.Name); m != nil {
			out.Fields = append(out.Fields, m)
		} else {
			out.Fields = append(out.Fields, f)
		}
	}
	for _, m := range mergedMsg.Fields {
		if s.full.Field(m.Name) == nil {
			out.Fields = append(out.Fields, m)
		}
	}
	return out
}

// checkDeclared refuses an existing table the declared columns do not fit: every
// declared column must exist with the same type, or with a wider one that type
// widening recorded (messages decode into it), and the partitioning must match.
func checkDeclared(snap *table.Snapshot, declared *table.StructType, partitionBy []string) error {
	have := snap.Schema()
	for _, f := range declared.Fields {
		hf := have.Field(f.Name)
		if hf == nil {
			return fmt.Errorf("column %q is configured but not in the table (schema evolution adds columns from messages, not from the configuration)", f.Name)
		}
		if hf.Type.String() != f.Type.String() && !widenedFrom(hf, f.Type) {
			return fmt.Errorf("column %q is %s in the table but configured as %s", f.Name, hf.Type, f.Type)
		}
	}
	if got := snap.PartitionColumns(); !slices.Equal(got, partitionBy) && !(len(got) == 0 && len(partitionBy) == 0) {
		return fmt.Errorf("the table is partitioned by %v but the configuration says partition_by %v", got, partitionBy)
	}
	return nil
}

// widenedFrom reports whether type widening turned column f, once of type declared,
// into its type: f's delta.typeChanges record a change from declared.
func widenedFrom(f *table.StructField, declared table.DataType) bool {
	changes, err := f.TypeChanges()
	if err != nil || !table.CanWiden(declared, f.Type) {
		return false
	}
	for _, c := range changes {
		if c.FieldPath == "" && c.FromType == declared.String() {
			return true
		}
	}
	return false
}
