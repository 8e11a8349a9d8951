package table

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Row tracking (PROTOCOL.md, "Row Tracking"): on a table whose writer features list
// rowTracking, every new file gets a baseRowId above the table's high-water mark (its
// rows' fresh Row IDs are baseRowId + row index) and a defaultRowCommitVersion equal to
// the version that adds it, and the commit moves the high-water mark, kept in the
// delta.rowTracking domain. Files re-added with a new deletion vector keep the values
// they had. Appends write no materialized Row ID column: a fresh row's stable Row ID is
// its fresh one.

const rowTrackingDomain = "delta.rowTracking"

// rowTrackingOn reports whether commits to s must assign Row IDs: the feature is
// supported and not suspended.
func (s *Snapshot) rowTrackingOn() bool {
	return s.protocol.MinWriterVersion == 7 && slices.Contains(s.protocol.WriterFeatures, "rowTracking") &&
		s.metadata.Configuration["delta.rowTrackingSuspended"] != "true"
}

// rowIDHighWaterMark is the highest fresh Row ID assigned so far, -1 for none.
func (s *Snapshot) rowIDHighWaterMark() (int64, error) {
	d := s.domains[rowTrackingDomain]
	if d == nil {
		return -1, nil
	}
	var c struct {
		RowIDHighWaterMark *int64 `json:"rowIdHighWaterMark"`
	}
	if err := json.Unmarshal([]byte(d.Configuration), &c); err != nil || c.RowIDHighWaterMark == nil {
		return 0, &InvalidTableError{Table: s.uri, Reason: fmt.Sprintf("domain %s has no rowIdHighWaterMark: %q", rowTrackingDomain, d.Configuration)}
	}
	return *c.RowIDHighWaterMark, nil
}

// assignRowIDs sets baseRowId and defaultRowCommitVersion on the new files of a commit
// landing at version after s, and returns the domainMetadata action that moves the
// high-water mark, or nil when no Row ID was assigned. adds are the commit's own
// copies; those re-adding a removed path (recommitted) keep their values.
func (s *Snapshot) assignRowIDs(version int64, adds []Add, removes []Remove) (*DomainMetadata, error) {
	hwm, err := s.rowIDHighWaterMark()
	if err != nil {
		return nil, err
	}
	start := hwm
	for i := range adds {
		a := &adds[i]
		if slices.ContainsFunc(removes, func(r Remove) bool { return r.Path == a.Path }) {
			continue
		}
		st, ok := a.ParseStats()
		if !ok {
			return nil, fmt.Errorf("table %s: commit: file %s has no numRecords statistic, which row tracking needs", s.uri, a.Path)
		}
		base := hwm + 1
		a.BaseRowID, a.DefaultRowCommit = &base, &version
		hwm += st.NumRecords
	}
	if hwm == start {
		return nil, nil
	}
	conf, err := json.Marshal(map[string]json.RawMessage{"rowIdHighWaterMark": json.RawMessage(strconv.FormatInt(hwm, 10))})
	if err != nil {
		return nil, err
	}
	return &DomainMetadata{Domain: rowTrackingDomain, Configuration: string(conf)}, nil
}
