package worker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/ratelimit"
)

func TestNewGate(t *testing.T) {
	for _, c := range []struct {
		limit       ratelimit.Limit
		concurrency int
		places      int // 0: no gate
	}{
		{ratelimit.Limit{}, 50, 0},
		{ratelimit.Limit{Rate: 50, Per: 1010 * time.Millisecond}, 50, 3}, // 20.2 ms apart
		{ratelimit.Limit{Rate: 30, Per: 1010 * time.Millisecond}, 50, 2}, // gateMin
		{ratelimit.Limit{Rate: 300, Per: 1010 * time.Millisecond}, 50, 15},
		{ratelimit.Limit{Rate: 300, Per: 1010 * time.Millisecond}, 15, 0}, // never closes
		{ratelimit.Limit{Rate: 1_000_000, Per: time.Second}, 200, 0},
	} {
		g := newGate(c.limit, c.concurrency)
		if c.places == 0 {
			require.Nil(t, g, "%v, concurrency %d", c.limit, c.concurrency)
			continue
		}
		require.NotNil(t, g, "%v", c.limit)
		require.Equal(t, c.places, g.free, "%v", c.limit)
	}
}

func TestNilGateIsOpen(t *testing.T) {
	var g *gate
	require.True(t, g.tryEnter())
	require.NoError(t, g.enter(context.Background(), true))
	g.leave()
}

// waiters is how many handlers wait in each line.
func (g *gate) waiters() [2]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return [2]int{len(g.waiting[0]), len(g.waiting[1])}
}

func TestGateLetsTransactionalMessagesFirst(t *testing.T) {
	g := &gate{free: 1}
	require.True(t, g.tryEnter())
	require.False(t, g.tryEnter(), "the one place is taken")

	passed := make(chan string, 3)
	wait := func(name string, campaign bool, want [2]int) {
		go func() {
			require.NoError(t, g.enter(context.Background(), campaign))
			passed <- name
		}()
		poll.Eventually(t, func() bool { return g.waiters() == want }, 5*time.Second, time.Millisecond)
	}
	wait("campaign-1", true, [2]int{0, 1})
	wait("campaign-2", true, [2]int{0, 2})
	wait("transactional", false, [2]int{1, 2})

	for _, want := range []string{"transactional", "campaign-1", "campaign-2"} {
		g.leave()
		require.Equal(t, want, <-passed)
	}
	g.leave()
	require.True(t, g.tryEnter(), "the place is back once no one waits")
}

func TestGateWaitEndsWithItsContext(t *testing.T) {
	g, cancel, errc := oneWaiting(t, false)
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	require.Equal(t, [2]int{0, 0}, g.waiters(), "it left the line")
	g.leave()
	require.True(t, g.tryEnter(), "no place was lost")
	require.False(t, g.tryEnter())
}

// TestGateKeepsEveryPlace races a waiter's context against the place being
// handed to it: whichever wins, the gate ends with its one place free.
func TestGateKeepsEveryPlace(t *testing.T) {
	for range 200 {
		g, cancel, errc := oneWaiting(t, true)
		go cancel()
		g.leave()
		if err := <-errc; err == nil {
			g.leave() // it passed: it leaves as a handler would
		}
		require.Equal(t, [2]int{0, 0}, g.waiters())
		require.True(t, g.tryEnter())
		require.False(t, g.tryEnter(), "one place, no more")
	}
}

// oneWaiting returns a gate of one place, taken, and a handler waiting for
// it in the line campaign says: its wait's cancel and the wait's result.
func oneWaiting(t *testing.T, campaign bool) (*gate, context.CancelFunc, <-chan error) {
	t.Helper()
	g := &gate{free: 1}
	require.True(t, g.tryEnter())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	errc := make(chan error, 1)
	go func() { errc <- g.enter(ctx, campaign) }()
	want := [2]int{1, 0}
	if campaign {
		want = [2]int{0, 1}
	}
	poll.Eventually(t, func() bool { return g.waiters() == want }, 5*time.Second, time.Microsecond)
	return g, cancel, errc
}
