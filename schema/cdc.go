package schema

// Change data capture: a message that describes a change to a row of a source table,
// as Debezium writes it (an envelope with the row before and after, the operation, and
// where in the source's log the change happened), or flattened by Debezium's
// ExtractNewRecordState (the row itself, with __op and __deleted fields).

// Operations of a change event, as Debezium's op field spells them.
const (
	OpCreate   byte = 'c' // an insert
	OpUpdate   byte = 'u' // an update: Before is the old row (when the source sends it), After the new
	OpDelete   byte = 'd' // a delete: Before is the old row, or holds only its key
	OpRead     byte = 'r' // a row read by a snapshot of the source table
	OpTruncate byte = 't' // the whole source table was truncated: no row
	// OpUpsert is a flattened change that does not say whether it inserts or updates
	// (ExtractNewRecordState without __op): the row is the source row now.
	OpUpsert byte = 'U'
)

// Change is one change event, its rows still encoded: JSON objects for JSON messages,
// the Avro binary of the row record for Avro ones.
type Change struct {
	Op byte
	// Before and After are the row before and after the change, nil when the event
	// has none (Before of an insert, After of a delete).
	Before, After []byte
	// TsMs is when the change happened in the source (source.ts_ms, else the event's
	// ts_ms), in milliseconds since the epoch; HasTs is false when the event has neither.
	TsMs  int64
	HasTs bool
	// Position is where the change is in the source's log, as text: the LSN, SCN or
	// binlog file:pos the connector reports; empty when unknown.
	Position string
	// Flattened is true for an ExtractNewRecordState row: After (or Before, for a
	// delete) is the whole message, whose __-prefixed fields are not columns.
	Flattened bool
	// Schema is the JsonConverter's schema block of the event (ConnectRowSchema reads
	// its columns), nil when the message has none.
	Schema []byte
}

// opName is Debezium's op as the change's name.
func opValid(op byte) bool {
	switch op {
	case OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate:
		return true
	}
	return false
}

// positionRank orders the fields of a Debezium source block that give a change's log
// position, best first: lsn (PostgreSQL), commit_lsn (SQL Server) and scn (Oracle)
// over change_lsn and commit_scn, over ord (MongoDB); 0 for other fields. MySQL's
// file and pos are joined when none of these is there.
func positionRank(field string) int {
	switch field {
	case "lsn", "commit_lsn", "scn":
		return 3
	case "change_lsn", "commit_scn":
		return 2
	case "ord":
		return 1
	}
	return 0
}

// binlogPosition is MySQL's file:pos[:row].
func binlogPosition(file, pos, row string) string {
	p := file + ":" + pos
	if row != "" {
		p += ":" + row
	}
	return p
}
