package query

import (
	"fmt"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/expr"
)

// Pruned is the outcome of Prune.
type Pruned struct {
	Files []*table.Add // the files that may hold matching rows
	// Skipped counts the files left out (none when the predicate is outside
	// table/expr's subset).
	Skipped int
}

// Prune leaves out the files of snap that cannot hold a row matching where (a SQL
// predicate over the table's top-level columns): by their partition values, exactly,
// and by the min/max statistics of the columns it compares with constants. It never
// leaves out a file that may hold a match; the view still filters the rows. A
// predicate table/expr cannot compile (DuckDB-only syntax, say) prunes nothing.
func Prune(snap *table.Snapshot, where string) (Pruned, error) {
	files := snap.Files()
	if where == "" {
		return Pruned{Files: files}, nil
	}
	schema := snap.Schema()
	prog, err := table.CompileExpr(schema, where)
	if err != nil {
		return Pruned{Files: files}, nil
	}
	if k := prog.Type().Kind; k != expr.Boolean && k != expr.Null {
		return Pruned{}, fmt.Errorf("query: --where %q is a %s, not a condition", where, prog.Type())
	}
	isPart := map[string]bool{}
	for _, p := range snap.PartitionColumns() {
		isPart[p] = true
	}
	lo := make(expr.Values, len(schema.Fields))
	hi := make(expr.Values, len(schema.Fields))
	out := Pruned{Files: []*table.Add{}} // empty, not nil: nil means every file to RegisterWith
	for _, f := range files {
		var st table.Stats
		parsed, stats := false, false
		for _, i := range prog.Columns() {
			c := schema.Fields[i]
			lo[i], hi[i] = expr.Value{Null: true}, expr.Value{Null: true} // unknown
			if isPart[c.Name] {
				v, err := table.PartitionExprValue(c, f.PartitionValues[c.PhysicalName()])
				if err != nil {
					return Pruned{}, fmt.Errorf("query: file %s: %w", f.Path, err)
				}
				if !v.Null {
					lo[i], hi[i] = v, v
				}
				continue
			}
			if !parsed {
				st, stats = f.ParseStats()
				parsed = true
			}
			if !stats {
				continue
			}
			if v, ok := table.StatExprValue(c, st.MinValues[c.PhysicalName()], false); ok {
				lo[i] = v
			}
			if v, ok := table.StatExprValue(c, st.MaxValues[c.PhysicalName()], true); ok {
				hi[i] = v
			}
		}
		if prog.MayBeTrue(lo, hi) {
			out.Files = append(out.Files, f)
		} else {
			out.Skipped++
		}
	}
	return out, nil
}
