package table

import (
	"errors"
	"fmt"
)

// EXTERNAL errors. Each says where it is returned.
var (
	// ErrNotATable is returned by Open and Load when the location holds no _delta_log
	// commits (no table was ever created there).
	ErrNotATable = errors.New("not a Delta table")

	// ErrTableExists is returned by Create when the table already has version 0.
	ErrTableExists = errors.New("table already exists")
)

// UnsupportedFeatureError is returned by Load (reading) and Commit (writing) when the
// table needs a protocol version or table feature this implementation does not
// support. Match it with errors.As; errors.Is(err, ErrUnsupportedFeature) also works.
type UnsupportedFeatureError struct {
	Table   string // table URI
	Feature string // feature name, or "readerVersion 4" style for bare versions
	Write   bool   // refused for writing (reading may still work)
}

// ErrUnsupportedFeature matches every *UnsupportedFeatureError.
var ErrUnsupportedFeature = errors.New("unsupported table feature")

func (e *UnsupportedFeatureError) Error() string {
	op := "read"
	if e.Write {
		op = "write to"
	}
	return fmt.Sprintf("table %s: cannot %s it: it uses %s, which sluice does not support", e.Table, op, e.Feature)
}

// Is makes errors.Is(err, ErrUnsupportedFeature) true.
func (e *UnsupportedFeatureError) Is(target error) bool { return target == ErrUnsupportedFeature }

// TxnConflictError is returned by Commit when an application transaction in the batch
// does not continue from the version the table holds: another writer (a connector that
// owned the Kafka partition before or after a rebalance) committed it. The caller must
// drop the batch and re-read its position from the table.
type TxnConflictError struct {
	Table    string
	AppID    string
	Expected int64 // the version the batch continues from, -1 for "no txn yet"
	Actual   int64 // the version in the table, -1 for none
}

// ErrTxnConflict matches every *TxnConflictError.
var ErrTxnConflict = errors.New("application transaction owned by another writer")

func (e *TxnConflictError) Error() string {
	v := func(x int64) string {
		if x < 0 {
			return "none"
		}
		return fmt.Sprint(x)
	}
	return fmt.Sprintf("table %s: txn %s is at version %s, but this batch continues from %s: another writer committed it (likely a consumer-group rebalance); the batch is dropped and re-read",
		e.Table, e.AppID, v(e.Actual), v(e.Expected))
}

// Is makes errors.Is(err, ErrTxnConflict) true.
func (e *TxnConflictError) Is(target error) bool { return target == ErrTxnConflict }

// MetadataChangedError is returned by Commit when another writer changed the table's
// schema, partitioning or protocol since the batch was built, in a way the batch does
// not fit.
type MetadataChangedError struct {
	Table  string
	Reason string
}

func (e *MetadataChangedError) Error() string {
	return fmt.Sprintf("table %s: metadata changed by another writer: %s", e.Table, e.Reason)
}

// SchemaMismatchError is returned by Commit when a transaction's new metadata has a
// schema the rows already in the table cannot be read as (a column's type changed
// other than by a widening the table allows, or a widening not recorded in
// delta.typeChanges). Retrying the same transaction fails the same way.
type SchemaMismatchError struct {
	Table  string
	Reason string
}

func (e *SchemaMismatchError) Error() string {
	return fmt.Sprintf("table %s: commit: the new schema does not fit the table's data: %s", e.Table, e.Reason)
}

// ConcurrentDeleteError is returned by Commit when a file the transaction removes (or
// marks rows of) is no longer live as it was: another writer removed it, rewrote it
// (OPTIMIZE) or deleted rows of it since the transaction was planned. Nothing is
// written; the caller plans again from the new snapshot, or gives up.
type ConcurrentDeleteError struct {
	Table string
	Path  string
}

func (e *ConcurrentDeleteError) Error() string {
	return fmt.Sprintf("table %s: file %s was removed or changed by another writer since this change was planned", e.Table, e.Path)
}

// InvalidTableError is returned by Load when the log is inconsistent (no protocol or
// metaData, a missing commit, unparsable JSON).
type InvalidTableError struct {
	Table  string
	Reason string
}

func (e *InvalidTableError) Error() string {
	return fmt.Sprintf("table %s: invalid Delta log: %s", e.Table, e.Reason)
}
