package worker

import (
	"context"
	"sync"
	"time"

	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// A gate bounds how many slots of one limited channel a worker process holds
// at once: a handler passes it before it asks Redis for a slot and leaves it
// when its send goes, or when it stops waiting.
//
// Without it every handler reserves its slot as soon as it has a message, so
// a process holds its share of every slot up to the horizon ahead (at 50/s,
// with 1 s and three processes, about 17 slots each). If that process then
// stalls (starved of CPU, paused), the slots it holds pass unused, and slots
// are not given back: the channel's rate falls by what the stalled process
// held. With the gate, a process holds a few slots, about gateSpan's worth,
// and the other processes take the slots it would have held; the handlers
// waiting at the gate wait in the process, without asking Redis.
//
// Transactional messages pass before campaign messages, as in the queues.
type gate struct {
	mu      sync.Mutex
	free    int
	waiting [2][]chan struct{} // [0]: transactional, [1]: campaign
}

// gateSpan is how much of a channel's traffic one process holds slots for
// at most: 50 ms, and never fewer than gateMin slots.
const (
	gateSpan = 50 * time.Millisecond
	gateMin  = 2
)

// newGate returns the gate for a channel limited to l (spaced), or nil when
// the channel has no limit or a limit so high that gateSpan holds more slots
// than a process has handlers (concurrency): such a gate would never close.
func newGate(l ratelimit.Limit, concurrency int) *gate {
	if l.IsZero() {
		return nil
	}
	n := max(int((gateSpan+l.Interval()-1)/l.Interval()), gateMin)
	if n >= concurrency {
		return nil
	}
	return &gate{free: n}
}

// newGates returns the gates of the channels limited to limits (spaced).
func newGates(limits map[tasks.Channel]ratelimit.Limit, concurrency int) map[tasks.Channel]*gate {
	gates := map[tasks.Channel]*gate{}
	for ch, l := range limits {
		gates[ch] = newGate(l, concurrency)
	}
	return gates
}

// tryEnter passes the gate if a place is free at once.
func (g *gate) tryEnter() bool {
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.free > 0 {
		g.free--
		return true
	}
	return false
}

// enter waits for a place; campaign says which line to wait in. It returns
// ctx's error, without a place, if ctx ends first.
func (g *gate) enter(ctx context.Context, campaign bool) error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.mu.Unlock()
		return nil
	}
	line := 0
	if campaign {
		line = 1
	}
	ready := make(chan struct{})
	g.waiting[line] = append(g.waiting[line], ready)
	g.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		for i, c := range g.waiting[line] {
			if c == ready {
				g.waiting[line] = append(g.waiting[line][:i], g.waiting[line][i+1:]...)
				g.mu.Unlock()
				return ctx.Err()
			}
		}
		g.mu.Unlock()
		// The place was handed over as ctx ended: pass it on.
		g.leave()
		return ctx.Err()
	}
}

// leave gives the place back: to the first transactional handler waiting,
// else to the first campaign one, else to the gate.
func (g *gate) leave() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for line := range g.waiting {
		if len(g.waiting[line]) > 0 {
			c := g.waiting[line][0]
			g.waiting[line] = g.waiting[line][1:]
			close(c)
			return
		}
	}
	g.free++
}
