package table

import (
	"fmt"
	"slices"
	"strings"
)

// Reader and writer versions this implementation reads and writes.
const (
	maxReaderVersion = 3
	maxWriterVersion = 7
)

// readerFeaturesSupported are reader table features whose data this package's readers
// (inspect, query) interpret correctly.
var readerFeaturesSupported = []string{
	"columnMapping",   // readers resolve columns by physical name (ColumnMappingMode)
	"deletionVectors", // DeletedRows reads them; query and inspect apply them
	"timestampNtz",
	"vacuumProtocolCheck",
	"typeWidening-preview",
	"typeWidening",
	"v2Checkpoint", // loading reads UUID-named and V2-spec checkpoints and their sidecars
	"variantType",  // query reads the Parquet variant group; the log needs nothing more
	"variantType-preview",
}

// writerFeaturesSupported are writer table features an appending writer can honour.
// Some are conditional; checkWrite enforces the conditions.
var writerFeaturesSupported = []string{
	"appendOnly",          // appends only: always honoured
	"invariants",          // enforced by the writer; expressions in table/expr's subset (checked)
	"checkConstraints",    // enforced by the writer; expressions in table/expr's subset (checked)
	"changeDataFeed",      // inserts need no cdc files
	"generatedColumns",    // computed by the writer; top-level, expressions in table/expr's subset (checked)
	"identityColumns",     // only when no column is an identity column (checked)
	"timestampNtz",        // the writer supports the type
	"vacuumProtocolCheck", // affects vacuum only; ours honours the protocol
	"domainMetadata",      // appends do not touch domains
	"deletionVectors",     // appends never write one; checkpoints keep the existing ones
	"columnMapping",       // files by physical names and ids (writer.Spec.ColumnMapping); new columns get both
	"rowTracking",         // new files get Row IDs and commit versions (rowtracking.go)
	"inCommitTimestamp",   // commits carry a monotonic inCommitTimestamp (Table.inCommitTimestamp)
	"clustering",          // appends leave clustering to OPTIMIZE; stats cover the clustering columns (checked)
	"typeWidening",        // files keep a widened column's older type; changes are recorded (typewidening.go)
	"liquid",              // the preview name of clustering that Databricks wrote
	"v2Checkpoint",        // checkpoints are V2 spec with sidecars (checkpoint_v2.go)
	"variantType",         // the writer encodes variant columns unshredded (writer/variant.go)
	"variantType-preview", // the name Spark 4.0 previews wrote
}

// NewTableProtocol is the protocol of tables Sluice creates: readable by every Delta
// reader. A schema with timestamp_ntz needs reader 3 / writer 7 with that feature.
func NewTableProtocol(schema *StructType) Protocol {
	if usesType(schema, Variant) {
		p, _ := protocolFor(Protocol{MinReaderVersion: 1, MinWriterVersion: 2}, schema)
		return p
	}
	if usesType(schema, TimestampNTZ) {
		return Protocol{MinReaderVersion: 3, MinWriterVersion: 7,
			ReaderFeatures: []string{"timestampNtz"}, WriterFeatures: []string{"timestampNtz"}}
	}
	return Protocol{MinReaderVersion: 1, MinWriterVersion: 2}
}

// legacyWriterFeatures are the features each legacy writer version (2 to 6) implies,
// and legacyReaderFeatures those of reader version 2 (PROTOCOL.md, "Writer Version
// Requirements", "Reader Version Requirements").
var (
	legacyWriterFeatures = [][]string{
		2: {"appendOnly", "invariants"},
		3: {"checkConstraints"},
		4: {"changeDataFeed", "generatedColumns"},
		5: {"columnMapping"},
		6: {"identityColumns"},
	}
	legacyReaderFeatures = [][]string{2: {"columnMapping"}}
)

// readerWriterFeatures are the table features readers must know as well; the others
// concern writers only (PROTOCOL.md, "Valid Feature Names in Table Features").
var readerWriterFeatures = []string{"columnMapping", "deletionVectors", "timestampNtz", "typeWidening", "typeWidening-preview",
	"v2Checkpoint", "vacuumProtocolCheck", "variantType", "variantType-preview", "catalogManaged", "catalogOwned-preview"}

// protocolFor returns the protocol a table at p needs once its schema is schema and it
// uses the features given, and whether that differs from p. A type that needs a feature
// p does not list (timestamp_ntz), a recorded type change (typeWidening), or a feature
// given, moves the table to writer 7 (and to reader 3 for a reader-writer feature) with
// that feature listed. The features p lists are kept and, since table-features
// protocols imply nothing, the legacy versions' implied features are listed too: a
// writer cannot prove that a table never used them (PROTOCOL.md, "Table Features for
// New and Existing Tables").
func protocolFor(p Protocol, schema *StructType, features ...string) (Protocol, bool) {
	need := slices.Clone(features)
	if usesType(schema, TimestampNTZ) {
		need = append(need, "timestampNtz")
	}
	if usesType(schema, Variant) && !slices.Contains(p.ReaderFeatures, "variantType-preview") {
		need = append(need, "variantType")
	}
	if !supportsTypeWidening(&p) && schemaHasMetadataKey(schema, typeChangesKey) {
		need = append(need, "typeWidening")
	}
	out, changed := p, false
	for _, f := range need {
		readers := slices.Contains(readerWriterFeatures, f)
		if out.MinWriterVersion != 7 {
			out.WriterFeatures = impliedFeatures(legacyWriterFeatures, out.MinWriterVersion)
			out.MinWriterVersion, changed = 7, true
		}
		if readers && out.MinReaderVersion != 3 {
			out.ReaderFeatures = impliedFeatures(legacyReaderFeatures, out.MinReaderVersion)
			out.MinReaderVersion, changed = 3, true
			for _, rf := range out.ReaderFeatures {
				out.WriterFeatures = appendMissing(out.WriterFeatures, rf)
			}
		}
		if readers && !slices.Contains(out.ReaderFeatures, f) {
			out.ReaderFeatures, changed = append(slices.Clone(out.ReaderFeatures), f), true
		}
		if !slices.Contains(out.WriterFeatures, f) {
			out.WriterFeatures, changed = append(slices.Clone(out.WriterFeatures), f), true
		}
	}
	return out, changed
}

// impliedFeatures lists the features a legacy protocol version implies.
func impliedFeatures(table [][]string, version int) []string {
	var fs []string
	for v := 0; v <= version && v < len(table); v++ {
		fs = append(fs, table[v]...)
	}
	return fs
}

func appendMissing(list []string, f string) []string {
	if slices.Contains(list, f) {
		return list
	}
	return append(list, f)
}

func usesType(t DataType, want PrimitiveType) bool {
	switch t := t.(type) {
	case PrimitiveType:
		return t == want
	case *StructType:
		for _, f := range t.Fields {
			if usesType(f.Type, want) {
				return true
			}
		}
	case *ArrayType:
		return usesType(t.ElementType, want)
	case *MapType:
		return usesType(t.KeyType, want) || usesType(t.ValueType, want)
	}
	return false
}

// checkRead refuses a snapshot this package cannot read correctly; write marks the
// refusal as one to write (checkWrite).
func checkRead(uri string, p *Protocol, m *Metadata, write bool) error {
	switch {
	case p.MinReaderVersion < 1:
		return &InvalidTableError{Table: uri, Reason: fmt.Sprintf("minReaderVersion %d", p.MinReaderVersion)}
	case p.MinReaderVersion > maxReaderVersion:
		return &UnsupportedFeatureError{Table: uri, Feature: fmt.Sprintf("reader version %d", p.MinReaderVersion), Write: write}
	case p.MinReaderVersion == 3:
		for _, f := range p.ReaderFeatures {
			if !slices.Contains(readerFeaturesSupported, f) {
				return &UnsupportedFeatureError{Table: uri, Feature: "reader feature " + f, Write: write}
			}
		}
	}
	return nil
}

// checkWrite refuses a snapshot an appending writer cannot commit to without breaking
// a feature's rules; schema is m's, parsed.
func checkWrite(uri string, p *Protocol, m *Metadata, schema *StructType) error {
	if err := checkRead(uri, p, m, true); err != nil {
		return err
	}
	refuse := func(what string) error { return &UnsupportedFeatureError{Table: uri, Feature: what, Write: true} }
	if p.MinWriterVersion > maxWriterVersion {
		return refuse(fmt.Sprintf("writer version %d", p.MinWriterVersion))
	}
	var features []string
	if p.MinWriterVersion == 7 {
		for _, f := range p.WriterFeatures {
			if !slices.Contains(writerFeaturesSupported, f) {
				return refuse("writer feature " + f)
			}
		}
		features = p.WriterFeatures
	} else {
		// Legacy versions imply their features.
		if p.MinWriterVersion >= 2 {
			features = append(features, "invariants")
		}
		if p.MinWriterVersion >= 3 {
			features = append(features, "checkConstraints")
		}
		if p.MinWriterVersion >= 4 {
			features = append(features, "generatedColumns")
		}
		if p.MinWriterVersion >= 6 {
			features = append(features, "identityColumns")
		}
	}
	if slices.Contains(features, "identityColumns") && schemaHasMetadataKey(schema, "delta.identity.start") {
		// Values must be generated above a high-water mark kept in the schema, which
		// every commit would move: see table/testdata/conformance/README.md.
		return refuse("identityColumns (an identity column: delta.identity.*)")
	}
	// Invariants, CHECK constraints and generated columns are enforced by the writer
	// (writer/rules.go) when their expressions are in table/expr's subset.
	if err := checkRules(m, schema); err != nil {
		return refuse(err.Error())
	}
	return nil
}

func schemaHasMetadataKey(t DataType, key string) bool {
	switch t := t.(type) {
	case *StructType:
		for _, f := range t.Fields {
			if strings.Contains(string(f.Metadata), `"`+key+`"`) || schemaHasMetadataKey(f.Type, key) {
				return true
			}
		}
	case *ArrayType:
		return schemaHasMetadataKey(t.ElementType, key)
	case *MapType:
		return schemaHasMetadataKey(t.KeyType, key) || schemaHasMetadataKey(t.ValueType, key)
	}
	return false
}
