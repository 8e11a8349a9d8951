package connector

import (
	"testing"
	"time"
)

func TestFlushPacer(t *testing.T) {
	p := FlushPacer{Max: 4}
	if got := p.Interval(5 * time.Second); got != 5*time.Second {
		t.Fatalf("unpaced interval %s, want 5s", got)
	}
	p.Observe(2) // one lost race
	if got := p.Stretch(); got != 1.5 {
		t.Fatalf("stretch after a lost race %.2f, want 1.5", got)
	}
	p.Observe(4) // three more
	if got := p.Stretch(); got != 3.75 {
		t.Fatalf("stretch %.2f, want 3.75", got)
	}
	p.Observe(3)
	if got := p.Interval(time.Second); got != 4*time.Second {
		t.Fatalf("stretched interval %s, want the 4s cap", got)
	}
	for range 20 {
		p.Observe(1)
	}
	if got := p.Stretch(); got != 1 {
		t.Fatalf("stretch after commits that won at once %.2f, want 1", got)
	}
	off := FlushPacer{Max: 1}
	off.Observe(10)
	if got := off.Interval(time.Second); got != time.Second {
		t.Fatalf("pacing disabled: interval %s, want 1s", got)
	}
}
