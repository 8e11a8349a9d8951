package table

import "encoding/json"

// Stats is the parsed form of add.stats. Values in MinValues and MaxValues are JSON
// values keyed by column (nested objects for struct columns).
type Stats struct {
	NumRecords  int64                      `json:"numRecords"`
	MinValues   map[string]json.RawMessage `json:"minValues,omitempty"`
	MaxValues   map[string]json.RawMessage `json:"maxValues,omitempty"`
	NullCount   map[string]json.RawMessage `json:"nullCount,omitempty"`
	TightBounds *bool                      `json:"tightBounds,omitempty"`
}

// ParseStats parses add.stats; ok is false when the file has no (valid) stats.
func (a *Add) ParseStats() (s Stats, ok bool) {
	if a.Stats == "" {
		return s, false
	}
	var v struct {
		Stats
		NumRecords *int64 `json:"numRecords"` // shadows Stats.NumRecords: tells absent from 0
	}
	if err := json.Unmarshal([]byte(a.Stats), &v); err != nil || v.NumRecords == nil {
		return Stats{}, false
	}
	s = v.Stats
	s.NumRecords = *v.NumRecords
	return s, true
}
