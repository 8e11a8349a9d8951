package table

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Clustered tables (PROTOCOL.md, "Clustered Table"): appends may add unclustered files
// (OPTIMIZE clusters them later), but every file must carry statistics for the
// clustering columns. Sluice's writer computes statistics for the first
// statsLeafColumns leaf columns, depth first, as Spark does by default; a table
// clustered by a column past them is refused rather than given files without its stats.

// statsLeafColumns is how many leading leaf columns Sluice's files have statistics for
// (writer.DefaultConfig's NumIndexedCols).
const statsLeafColumns = 32

// clusteringDomains are the domains that name a table's clustering columns: the
// protocol's, and the preview one Databricks wrote with the liquid feature.
var clusteringDomains = []string{"delta.clustering", "delta.liquid"}

// checkClustering refuses an append to a clustered table whose clustering columns
// Sluice's files would have no statistics for.
func (s *Snapshot) checkClustering() error {
	if s.protocol.MinWriterVersion != 7 || !slices.ContainsFunc(s.protocol.WriterFeatures, func(f string) bool { return f == "clustering" || f == "liquid" }) {
		return nil
	}
	schema := s.schema
	if s.ColumnMappingMode() != ColumnMappingNone {
		schema = PhysicalSchema(schema) // the domain names columns by physical names then
	}
	var leaves []string
	collectLeaves(schema, "", &leaves)
	if len(leaves) > statsLeafColumns {
		leaves = leaves[:statsLeafColumns]
	}
	for _, d := range clusteringDomains {
		dm := s.domains[d]
		if dm == nil {
			continue
		}
		cols, err := clusteringColumns(dm.Configuration)
		if err != nil {
			return &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("domain %s: %v", d, err)}
		}
		for _, c := range cols {
			if !slices.Contains(leaves, c) {
				return &UnsupportedFeatureError{Table: s.uri, Write: true,
					Feature: fmt.Sprintf("clustering by %s, which is not among the first %d columns that Sluice writes statistics for", c, statsLeafColumns)}
			}
		}
	}
	return nil
}

// clusteringColumns reads the column paths of a clustering domain: each a string or a
// list of path elements, or an object with physicalName (the liquid preview).
func clusteringColumns(conf string) ([]string, error) {
	var c struct {
		ClusteringColumns []json.RawMessage `json:"clusteringColumns"`
	}
	if err := json.Unmarshal([]byte(conf), &c); err != nil {
		return nil, err
	}
	var out []string
	for _, raw := range c.ClusteringColumns {
		var name string
		var path []string
		var obj struct {
			PhysicalName []string `json:"physicalName"`
		}
		switch {
		case json.Unmarshal(raw, &name) == nil:
			out = append(out, name)
		case json.Unmarshal(raw, &path) == nil:
			out = append(out, strings.Join(path, "."))
		case json.Unmarshal(raw, &obj) == nil && len(obj.PhysicalName) > 0:
			out = append(out, strings.Join(obj.PhysicalName, "."))
		default:
			return nil, fmt.Errorf("clustering column %s is not a name or a path", raw)
		}
	}
	return out, nil
}

// collectLeaves appends the dotted paths of t's leaf columns, depth first.
func collectLeaves(t *StructType, prefix string, out *[]string) {
	for _, f := range t.Fields {
		if st, ok := f.Type.(*StructType); ok {
			collectLeaves(st, prefix+f.Name+".", out)
			continue
		}
		*out = append(*out, prefix+f.Name)
	}
}
