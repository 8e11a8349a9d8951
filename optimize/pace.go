package optimize

import (
	"context"
	"time"
)

// pacer bounds the bytes per second a run reads: after each read it sleeps until the
// bytes read so far fit the rate since the run began.
type pacer struct {
	rate  int64 // bytes per second; 0: no bound
	start time.Time
	bytes int64
}

func newPacer(rate int64) *pacer { return &pacer{rate: rate, start: time.Now()} }

// read accounts n bytes read and waits as long as the rate asks.
func (p *pacer) read(ctx context.Context, n int64) error {
	if p == nil || p.rate <= 0 {
		return nil
	}
	p.bytes += n
	due := p.start.Add(time.Duration(float64(p.bytes) / float64(p.rate) * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	select {
	case <-time.After(wait):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
