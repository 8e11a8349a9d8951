package connector

import "time"

// Many instances commit to one table by optimistic concurrency: each commit is one
// put-if-absent of the table's next version, and a put that loses to another instance's
// costs a read of the new commits and another put. When the instances together ask for
// more commits per second than one version at a time allows (a commit holds the next
// version for a list, a read and a put: ~150 ms on a cloud store), losses pile up and
// every commit slows (BENCHMARKS.md, "Many writers on one table"). FlushPacer is the
// answer at the source: a table whose commits lose races flushes less often, in fewer,
// larger commits, and flushes at max_latency again once its commits win at once.

// FlushPacer stretches a table's flush interval (flush.max_latency) while its commits
// lose races to other writers: by half for each lost race, up to a limit, and back by a
// fifth after each commit that won on its first put. Its equilibrium is about one lost
// race in three commits. The zero value paces nothing until Observe. It is not safe for
// concurrent use: a table's committer owns it.
type FlushPacer struct {
	// Max is the most the interval stretches, as a factor of max_latency; 1 or less
	// disables pacing.
	Max     float64
	stretch float64
}

// Observe takes the number of puts a commit took (table.CommitResult.Attempts).
func (p *FlushPacer) Observe(attempts int) {
	s := max(p.stretch, 1)
	if attempts > 1 {
		s *= 1 + 0.5*float64(attempts-1)
	} else {
		s *= 0.8
	}
	p.stretch = min(max(s, 1), max(p.Max, 1))
}

// Stretch is the current factor on the interval, 1 when not pacing.
func (p *FlushPacer) Stretch() float64 { return max(p.stretch, 1) }

// Interval is base stretched.
func (p *FlushPacer) Interval(base time.Duration) time.Duration {
	return time.Duration(float64(base) * p.Stretch())
}
