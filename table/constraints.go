package table

// Row rules a writer must enforce: CHECK constraints (delta.constraints.<name> table
// properties), column invariants (delta.invariants field metadata) and generated
// columns (delta.generationExpression field metadata), all SQL expressions
// (PROTOCOL.md, "Column Invariants", "CHECK Constraints", "Generated Columns"). The
// expressions compile with table/expr over the table's top-level columns; one outside
// its subset makes the table refused for writing, by name, before anything is written.

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/sluicelake/sluice/table/expr"
)

// Rule is one boolean rule every row written must satisfy.
type Rule struct {
	// Name names the rule in errors: "CHECK constraint valid_amount" or "invariant
	// of column amount".
	Name string
	Expr string
}

// Rules lists the table's CHECK constraints (by name) and column invariants (by
// column), in a stable order.
func Rules(m *Metadata, schema *StructType) ([]Rule, error) {
	var rules []Rule
	var names []string
	for k := range m.Configuration {
		if strings.HasPrefix(k, "delta.constraints.") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		rules = append(rules, Rule{Name: "CHECK constraint " + strings.TrimPrefix(k, "delta.constraints."), Expr: m.Configuration[k]})
	}
	var walk func(prefix string, s *StructType, top bool) error
	walk = func(prefix string, s *StructType, top bool) error {
		for _, f := range s.Fields {
			inv, ok, err := f.Invariant()
			if err != nil {
				return err
			}
			if ok {
				if !top {
					return fmt.Errorf("column %s%s: an invariant on a nested field is not supported", prefix, f.Name)
				}
				rules = append(rules, Rule{Name: "invariant of column " + f.Name, Expr: inv})
			}
			if st, ok := f.Type.(*StructType); ok {
				if err := walk(prefix+f.Name+".", st, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("", schema, true); err != nil {
		return nil, err
	}
	return rules, nil
}

// Invariant returns the field's invariant expression (delta.invariants).
func (f *StructField) Invariant() (string, bool, error) {
	raw, ok := f.metadataValue("delta.invariants")
	if !ok {
		return "", false, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		text = string(raw) // some writers store the object itself
	}
	var inv struct {
		Expression struct {
			Expression string `json:"expression"`
		} `json:"expression"`
	}
	if err := json.Unmarshal([]byte(text), &inv); err != nil || inv.Expression.Expression == "" {
		return "", false, fmt.Errorf("column %s: delta.invariants %s is not {\"expression\": {\"expression\": SQL}}", f.Name, raw)
	}
	return inv.Expression.Expression, true, nil
}

// GenerationExpression returns the expression of a generated column
// (delta.generationExpression).
func (f *StructField) GenerationExpression() (string, bool) {
	raw, ok := f.metadataValue("delta.generationExpression")
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// metadataValue returns one key of the field's metadata, as JSON.
func (f *StructField) metadataValue(key string) (json.RawMessage, bool) {
	if len(f.Metadata) == 0 {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(f.Metadata, &m) != nil {
		return nil, false
	}
	v, ok := m[key]
	return v, ok
}

// CompileExpr compiles a SQL expression over the top-level columns of schema: a
// column's index in the rows Eval reads is its index in schema.Fields. Columns of
// nested, variant or void types cannot be referenced.
func CompileExpr(schema *StructType, src string) (*expr.Program, error) {
	return expr.Compile(src, func(name string) (int, expr.Type, bool) {
		i := slices.IndexFunc(schema.Fields, func(f *StructField) bool { return strings.EqualFold(f.Name, name) })
		if i < 0 {
			return 0, expr.Type{}, false
		}
		t, ok := ExprType(schema.Fields[i].Type)
		return i, t, ok
	})
}

// ExprType is the expression type of a column type; false for types expressions
// cannot read (struct, array, map, variant, void).
func ExprType(t DataType) (expr.Type, bool) {
	switch t := t.(type) {
	case *DecimalType:
		return expr.Type{Kind: expr.Decimal, Precision: t.Precision, Scale: t.Scale}, true
	case PrimitiveType:
		k, ok := map[PrimitiveType]expr.Kind{
			String: expr.String, Long: expr.Long, Integer: expr.Int, Short: expr.Short, Byte: expr.Byte,
			Float: expr.Float, Double: expr.Double, Boolean: expr.Boolean, Binary: expr.Binary, Date: expr.Date,
			Timestamp: expr.Timestamp, TimestampNTZ: expr.TimestampNTZ,
		}[t]
		return expr.Type{Kind: k}, ok
	}
	return expr.Type{}, false
}

// checkRules refuses a table whose rules a writer cannot enforce: an expression
// outside table/expr's subset, one that is not boolean, a generated column that is
// nested or whose expression does not give its type.
func checkRules(m *Metadata, schema *StructType) error {
	rules, err := Rules(m, schema)
	if err != nil {
		return err
	}
	for _, r := range rules {
		p, err := CompileExpr(schema, r.Expr)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Name, err)
		}
		if k := p.Type().Kind; k != expr.Boolean && k != expr.Null {
			return fmt.Errorf("%s: %q is a %s, not a boolean", r.Name, r.Expr, p.Type())
		}
	}
	var walk func(prefix string, s *StructType, top bool) error
	walk = func(prefix string, s *StructType, top bool) error {
		for _, f := range s.Fields {
			if _, ok := f.GenerationExpression(); ok {
				if !top {
					return fmt.Errorf("generated column %s%s: generated nested fields are not supported", prefix, f.Name)
				}
				if _, err := CompileGenerated(schema, f); err != nil {
					return err
				}
			}
			if st, ok := f.Type.(*StructType); ok {
				if err := walk(prefix+f.Name+".", st, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk("", schema, true)
}

// CompileGenerated compiles the generation expression of the top-level column f of
// schema; its result must cast to f's type.
func CompileGenerated(schema *StructType, f *StructField) (*expr.Program, error) {
	src, _ := f.GenerationExpression()
	want, ok := ExprType(f.Type)
	if !ok {
		return nil, fmt.Errorf("generated column %s: a %s column cannot be generated", f.Name, f.Type)
	}
	p, err := CompileExpr(schema, src)
	if err != nil {
		return nil, fmt.Errorf("generated column %s: %w", f.Name, err)
	}
	if p.Type() != want {
		if _, err := expr.CastValue(expr.Value{Null: true, Kind: p.Type().Kind}, p.Type(), want); err != nil {
			return nil, fmt.Errorf("generated column %s: %q gives a %s, which does not cast to %s", f.Name, src, p.Type(), want)
		}
	}
	return p, nil
}
