package schema

import (
	"strconv"

	"github.com/sluicelake/sluice/table"
)

// inferJSONType guesses a Delta type for a JSON value of an unknown field (evolve):
// whole numbers are long, other numbers double, booleans boolean, strings string,
// objects structs of their fields, arrays arrays of their first non-null element's
// type (string when empty). null gives nil: nothing to infer yet.
func inferJSONType(raw []byte) table.DataType {
	var s scanner
	s.reset(raw)
	return inferValue(&s, 0)
}

func inferValue(s *scanner, depth int) table.DataType {
	if depth > 32 {
		return table.String
	}
	c := s.peek()
	switch {
	case c == 'n':
		_ = s.literal("null")
		return nil
	case c == 't' || c == 'f':
		_, _ = s.skipValue(0)
		return table.Boolean
	case c == '"':
		_, _ = s.str()
		return table.String
	case isNumberStart(c):
		num, _ := s.number()
		for _, b := range num {
			if b == '.' || b == 'e' || b == 'E' {
				return table.Double
			}
		}
		if _, err := strconv.ParseInt(string(num), 10, 64); err != nil {
			return table.Double
		}
		return table.Long
	case c == '[':
		s.pos++
		var elem table.DataType
		for s.peek() != ']' && s.peek() != 0 {
			if t := inferValue(s, depth+1); elem == nil {
				elem = t
			}
			if s.peek() == ',' {
				s.pos++
			}
		}
		s.pos++
		if elem == nil {
			elem = table.String
		}
		return &table.ArrayType{ElementType: elem, ContainsNull: true}
	case c == '{':
		s.pos++
		st := &table.StructType{}
		for s.peek() == '"' {
			key, err := s.str()
			if err != nil {
				return table.String
			}
			name := string(key)
			if s.expect(':') != nil {
				return table.String
			}
			if t := inferValue(s, depth+1); t != nil && st.Field(name) == nil {
				st.Fields = append(st.Fields, &table.StructField{Name: name, Type: t, Nullable: true})
			}
			if s.peek() == ',' {
				s.pos++
			}
		}
		s.pos++
		if len(st.Fields) == 0 {
			return nil
		}
		return st
	}
	return nil
}
