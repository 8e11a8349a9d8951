package connector

import (
	"sync"

	"github.com/sluicelake/sluice/table"
)

// Offsets and txn versions with a meaning of their own.
const (
	// noTxn is the txn version of a partition the table holds nothing of.
	noTxn int64 = -1
	// fromStart is the next offset of a partition that begins with the first message
	// the consumer delivers (start policy earliest, librdkafka's OffsetBeginning).
	fromStart int64 = -1
	// staleTxn is the prev of a partition whose buffered rows a worker dropped: no table
	// holds it, so the partition's next batch is refused and rewinds it.
	staleTxn int64 = -3
)

// position is where a worker continues a partition from.
type position struct {
	// next is the first offset still to ingest, or fromStart.
	next int64
	// prev is the txn version the partition's next batch continues from: the table must
	// hold exactly it when that batch commits (noTxn: the table must hold none).
	prev int64
}

// txnBook is one table's record of its txn versions per partition: the latest the
// runtime knows, from its own commits and from the snapshots it read. The table
// committer and the Delta dead-letter table each keep one; the poller reads them for
// lag, Kafka offsets and caught-up checks. It never moves back to an older table
// version, so a snapshot read before a commit cannot undo what the commit recorded.
type txnBook struct {
	appID func(tp) string

	mu      sync.Mutex
	version int64        // the newest table version the entries reflect
	txns    map[tp]int64 // noTxn where the table holds none
}

func newTxnBook(appID func(tp) string) *txnBook {
	return &txnBook{appID: appID, version: -1, txns: map[tp]int64{}}
}

// observe records the txn versions of parts in snap (nil: no table yet) and returns
// them; where the book already reflects a newer version than snap, its entries win.
func (b *txnBook) observe(snap *table.Snapshot, parts []tp) map[tp]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	version := int64(-1)
	if snap != nil {
		version = snap.Version()
	}
	newer := version >= b.version
	out := make(map[tp]int64, len(parts))
	for _, p := range parts {
		cur, known := b.txns[p]
		if !newer && known {
			out[p] = cur
			continue
		}
		v := noTxn
		if snap != nil {
			if x, ok := snap.Txn(b.appID(p)); ok {
				v = x
			}
		}
		b.txns[p] = v
		out[p] = v
	}
	if newer {
		b.version = version
	}
	return out
}

// committed records a commit at version that set the given partitions' txns.
func (b *txnBook) committed(version int64, txns map[tp]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for p, v := range txns {
		b.txns[p] = v
	}
	b.version = max(b.version, version)
}

// get returns the txn version of p, and false when the book has not read it.
func (b *txnBook) get(p tp) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.txns[p]
	return v, ok
}

// forget drops partitions (revoked), or every partition when parts is nil (after a
// conflict, so that the next use reads the table again).
func (b *txnBook) forget(parts []tp) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if parts == nil {
		b.txns = map[tp]int64{}
		return
	}
	for _, p := range parts {
		delete(b.txns, p)
	}
}
