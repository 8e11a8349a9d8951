package optimize

import (
	"fmt"
	"strings"

	"github.com/sluicelake/sluice/table"
	"github.com/sluicelake/sluice/table/expr"
)

// partitionFilter is a compiled Options.Where: a predicate on partition columns.
type partitionFilter struct {
	prog *expr.Program
	cols []*table.StructField // the partition columns, in the order the program indexes them
}

// compileWhere compiles a predicate on snap's partition columns; "" accepts every
// partition. A predicate that names another column is refused: optimize picks whole
// files, which only partition values describe exactly.
func compileWhere(snap *table.Snapshot, where string) (*partitionFilter, error) {
	if strings.TrimSpace(where) == "" {
		return nil, nil
	}
	f := &partitionFilter{}
	parts := &table.StructType{}
	for _, name := range snap.PartitionColumns() {
		c := snap.Schema().Field(name)
		if c == nil {
			return nil, fmt.Errorf("optimize: partition column %s is not in the schema", name)
		}
		f.cols = append(f.cols, c)
		parts.Fields = append(parts.Fields, c)
	}
	if len(f.cols) == 0 {
		return nil, fmt.Errorf("optimize: --where %q: the table has no partition columns", where)
	}
	p, err := table.CompileExpr(parts, where)
	if err != nil {
		return nil, fmt.Errorf("optimize: --where (on partition columns %s): %w", strings.Join(snap.PartitionColumns(), ", "), err)
	}
	if k := p.Type().Kind; k != expr.Boolean && k != expr.Null {
		return nil, fmt.Errorf("optimize: --where %q is a %s, not a condition", where, p.Type())
	}
	f.prog = p
	return f, nil
}

// accepts reports whether the partition with these values (keyed as the log keys
// them: by physical name) matches; NULL is no match.
func (w *partitionFilter) accepts(values map[string]*string) (bool, error) {
	if w == nil {
		return true, nil
	}
	row := make(expr.Values, len(w.cols))
	for i, c := range w.cols {
		v, err := table.PartitionExprValue(c, values[c.PhysicalName()])
		if err != nil {
			return false, fmt.Errorf("optimize: %w", err)
		}
		row[i] = v
	}
	v, err := w.prog.Eval(row)
	if err != nil {
		return false, fmt.Errorf("optimize: --where: %w", err)
	}
	return !v.Null && v.I != 0, nil
}
