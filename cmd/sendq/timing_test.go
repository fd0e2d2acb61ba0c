package main

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// The tests in this file measure how sends are spread in time, counted
// where the upstream counts them: at the sandbox, as requests arrive. They
// are in the package's last file, so that they run last (go test runs a
// package's tests in file order): under go test ./... the other packages'
// race tests run alongside this package's first minutes and keep both
// cores busy, and a measurement of milliseconds then measures them.

// TestRateLimitHeldAcrossThreeProcesses runs three worker processes on one
// Redis at SENDQ_RATE_TELEGRAM=50/s: Redis hands out slots 20.2 ms apart (the
// limit's interval and the worker's 1 % headroom), so a send that arrives up
// to 30 ms after its slot still keeps every one-second window to 51; a worker
// gives up a slot it missed by more than 25 ms rather than send late.
func TestRateLimitHeldAcrossThreeProcesses(t *testing.T) {
	f := newFleet(t, 5, whautomatetest.Options{Latency: 5 * time.Millisecond},
		"SENDQ_CONCURRENCY=50", "SENDQ_RATE_TELEGRAM=50/s", "SENDQ_PACE_TELEGRAM=0")
	ids := f.enqueue(tasks.Telegram, "rate", 1500)
	for i := range 3 {
		f.start(fmt.Sprintf("worker-%d", i))
	}
	f.waitFinished(ids, 2*time.Minute)
	var at []time.Time
	for _, s := range f.sandbox.Sent() {
		at = append(at, s.At)
	}
	require.Len(t, at, 1500)
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	worst := 0
	for i, j := 0, 0; i < len(at); i++ {
		for at[i].Sub(at[j]) >= time.Second {
			j++
		}
		worst = max(worst, i-j+1)
	}
	span := at[len(at)-1].Sub(at[0])
	rate := float64(len(at)-1) / span.Seconds()
	t.Logf("3 processes at 50/s: %d sends over %v = %.2f/s; busiest 1-second window %d sends", len(at), span.Round(time.Millisecond), rate, worst)
	require.LessOrEqual(t, worst, 51, "no 1-second window holds more than the limit and one")
	require.InEpsilon(t, 50.0, rate, 0.02, "the overall rate")
}
