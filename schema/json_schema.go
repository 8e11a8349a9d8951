package schema

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sluicelake/sluice/table"
)

// JSONSchemaTableSchema maps a JSON Schema (the registry's JSON schema type, draft 4 to
// 2020-12) describing an object to the Delta columns of a table created from it:
//
//	object with properties        struct (fields in the order the schema lists them)
//	object with only additionalProperties: S   map<string, S>
//	object with neither           string (the raw JSON)
//	array with items: S           array<S>
//	string                        string; format date-time → timestamp, date → date,
//	                              contentEncoding base64 → binary
//	integer                       long
//	number                        double
//	boolean                       boolean
//	["null", T], oneOf/anyOf [null, T]   nullable T
//	other unions, enum, const, {} string (the raw JSON text of the value)
//
// A property is nullable unless it is listed in "required" (and its type does not allow
// null). Local references ("#/definitions/…", "#/$defs/…") are followed; a reference
// cycle is refused, since a Delta schema cannot be recursive.
func JSONSchemaTableSchema(text string) (*table.StructType, error) {
	tree, err := decodeOrdered(json.NewDecoder(strings.NewReader(text)))
	if err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	root, ok := tree.(*object)
	if !ok {
		return nil, fmt.Errorf("json schema: not a JSON object")
	}
	m := &jsMapper{root: root}
	t, _, err := m.typeOf(root, "", nil)
	if err != nil {
		return nil, err
	}
	st, ok := t.(*table.StructType)
	if !ok {
		return nil, fmt.Errorf("json schema: the top level is %s, not an object with properties", t)
	}
	return st, nil
}

type jsMapper struct {
	root *object
}

// typeOf maps a schema node; nullable reports whether it admits null.
func (m *jsMapper) typeOf(node *object, path string, refs []string) (table.DataType, bool, error) {
	if ref, ok := node.get("$ref").(string); ok {
		for _, r := range refs {
			if r == ref {
				return nil, false, fmt.Errorf("json schema: %s: recursive reference %s cannot become a Delta type", pathOr(path), ref)
			}
		}
		target, err := m.resolve(ref)
		if err != nil {
			return nil, false, fmt.Errorf("json schema: %s: %w", pathOr(path), err)
		}
		return m.typeOf(target, path, append(refs, ref))
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		if alts, ok := node.get(key).([]any); ok {
			var types []*object
			nullable := false
			for _, a := range alts {
				am, ok := a.(*object)
				if !ok {
					continue
				}
				if am.get("type") == "null" {
					nullable = true
					continue
				}
				types = append(types, am)
			}
			if len(types) == 1 {
				t, n, err := m.typeOf(types[0], path, refs)
				return t, nullable || n, err
			}
			return table.String, true, nil
		}
	}
	var types []string
	switch t := node.get("type").(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				types = append(types, s)
			}
		}
	}
	nullable := false
	var kept []string
	for _, t := range types {
		if t == "null" {
			nullable = true
		} else {
			kept = append(kept, t)
		}
	}
	if len(kept) != 1 {
		return table.String, true, nil // no type, several types, enum, const: keep the JSON text
	}
	switch kept[0] {
	case "string":
		switch node.get("format") {
		case "date-time":
			return table.Timestamp, nullable, nil
		case "date":
			return table.Date, nullable, nil
		}
		if node.get("contentEncoding") == "base64" {
			return table.Binary, nullable, nil
		}
		return table.String, nullable, nil
	case "integer":
		return table.Long, nullable, nil
	case "number":
		return table.Double, nullable, nil
	case "boolean":
		return table.Boolean, nullable, nil
	case "array":
		items, ok := node.get("items").(*object)
		if !ok {
			return &table.ArrayType{ElementType: table.String, ContainsNull: true}, nullable, nil
		}
		et, en, err := m.typeOf(items, path+"[]", refs)
		if err != nil {
			return nil, false, err
		}
		return &table.ArrayType{ElementType: et, ContainsNull: en}, nullable, nil
	case "object":
		props, _ := node.get("properties").(*object)
		if props == nil || len(props.keys) == 0 {
			if ap, ok := node.get("additionalProperties").(*object); ok {
				vt, vn, err := m.typeOf(ap, path+"{}", refs)
				if err != nil {
					return nil, false, err
				}
				return &table.MapType{KeyType: table.String, ValueType: vt, ValueContainsNull: vn}, nullable, nil
			}
			return table.String, nullable, nil
		}
		required := map[string]bool{}
		if req, ok := node.get("required").([]any); ok {
			for _, r := range req {
				if s, ok := r.(string); ok {
					required[s] = true
				}
			}
		}
		st := &table.StructType{}
		for _, name := range props.keys {
			pm, ok := props.get(name).(*object)
			if !ok {
				pm = &object{vals: map[string]any{}}
			}
			ft, fn, err := m.typeOf(pm, joinPath(path, name), refs)
			if err != nil {
				return nil, false, err
			}
			st.Fields = append(st.Fields, &table.StructField{Name: name, Type: ft, Nullable: fn || !required[name]})
		}
		return st, nullable, nil
	}
	return table.String, true, nil
}

func (m *jsMapper) resolve(ref string) (*object, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("reference %s: only local references (#/…) are supported", ref)
	}
	var cur any = m.root
	for _, part := range strings.Split(rest, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		obj, ok := cur.(*object)
		if !ok {
			return nil, fmt.Errorf("reference %s does not resolve", ref)
		}
		if cur, ok = obj.vals[part]; !ok {
			return nil, fmt.Errorf("reference %s does not resolve", ref)
		}
	}
	out, ok := cur.(*object)
	if !ok {
		return nil, fmt.Errorf("reference %s is not a schema", ref)
	}
	return out, nil
}

// object is a JSON object that remembers its key order.
type object struct {
	keys []string
	vals map[string]any
}

func (o *object) get(k string) any { return o.vals[k] }

// decodeOrdered decodes one JSON value, objects as *object.
func decodeOrdered(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{vals: map[string]any{}}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				if _, dup := o.vals[k]; !dup {
					o.keys = append(o.keys, k)
				}
				o.vals[k] = v
			}
			_, err := dec.Token()
			return o, err
		case '[':
			var arr []any
			for dec.More() {
				v, err := decodeOrdered(dec)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			_, err := dec.Token()
			return arr, err
		}
	}
	return tok, nil
}

func pathOr(p string) string {
	if p == "" {
		return "top level"
	}
	return p
}
