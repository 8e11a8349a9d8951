package table

import "time"

// Option configures a Table.
type Option interface{ apply(*options) }

type options struct {
	engineInfo   string
	maxAttempts  int
	retryBackoff time.Duration
	clock        func() time.Time
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
