package table

import "time"

// Option configures a Table.
type Option interface{ apply(*options) }

type options struct {
	engineInfo       string
	maxAttempts      int
	retryBackoff     time.Duration
	clock            func() time.Time
	appending        bool
	deferCheckpoints bool
}

func (o *options) now() time.Time {
	if o.clock != nil {
		return o.clock()
	}
	return time.Now()
}

func defaultOptions() options {
	return options{engineInfo: "sluice", maxAttempts: 1000, retryBackoff: 5 * time.Millisecond}
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// EngineInfo sets commitInfo.engineInfo ("sluice/1.2.3"). Defaults to "sluice".
func EngineInfo(s string) Option { return optionFunc(func(o *options) { o.engineInfo = s }) }

// CommitRetries bounds how many times Commit retries after losing the race for a
// version, and the base of its jittered exponential backoff (capped at 1 s). A lost race
// is normal under concurrency, so the bound is high. Defaults to 1000 attempts, 5 ms.
func CommitRetries(attempts int, backoff time.Duration) Option {
	return optionFunc(func(o *options) { o.maxAttempts, o.retryBackoff = attempts, backoff })
}

// Clock replaces time.Now for retention decisions (tests). Defaults to time.Now.
func Clock(now func() time.Time) Option { return optionFunc(func(o *options) { o.clock = now }) }

// ForAppending makes the handle one that only appends, as the connector's do, so that
// the memory it keeps does not grow with the number of files in the table.
//
// Its snapshots carry the version, protocol, metadata and schema, txns and domain
// metadata, but no file list: Snapshot.NumFiles returns -1 and Snapshot.Files returns
// nil. The checkpoints it writes (after every delta.checkpointInterval-th commit, or
// by Checkpoint) are built from a full read of that version from storage, released
// once the checkpoint is written; they are the same as a normal handle's.
//
// As an appender never reads data files, live files with deletion vectors do not make
// its Snapshot fail; what Commit may write is gated as for any handle.
//
// Defaults to off: snapshots list every live file.
func ForAppending() Option { return optionFunc(func(o *options) { o.appending = true }) }

// DeferCheckpoints leaves checkpoints to the caller: a commit that reaches a
// delta.checkpointInterval-th version sets CommitResult.CheckpointDue instead of
// writing the checkpoint itself, so that a checkpoint (a full read of the table) never
// delays the next commit. The caller then writes one, from any handle, with
// Checkpoint. Defaults to off: Commit writes the checkpoint after such a commit.
func DeferCheckpoints() Option { return optionFunc(func(o *options) { o.deferCheckpoints = true }) }
