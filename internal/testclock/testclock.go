// Package testclock is one clock for a test and its miniredis: the time the
// code under test reads (a Config.Now) and Redis's own (Lua's TIME and key
// expiry), moved together, and only by the test. Tests import it; nothing
// else does.
package testclock

import (
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Clock is a clock that only the test moves. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
	mr *miniredis.Miniredis
}

// New returns a Clock at start, and sets mr's time to it.
func New(mr *miniredis.Miniredis, start time.Time) *Clock {
	mr.SetTime(start)
	return &Clock{t: start, mr: mr}
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock, Redis's TIME and its key expiry on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.mr.SetTime(c.t)
	c.mr.FastForward(d)
}
