// Package poll waits on a condition in the test's own goroutine.
//
// testify's Eventually and Never run the condition in a goroutine of
// their own and return without waiting for it: a condition still running
// when Never's time is up goes on after the test has ended and its
// clean-ups closed what it reads, and a require inside it fails from a
// goroutine that is not the test's. These take the same arguments and
// call the condition from the caller's goroutine, one call at a time.
package poll

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Eventually calls cond every tick until it holds, and fails t if it
// does not within waitFor.
func Eventually(t testing.TB, cond func() bool, waitFor, tick time.Duration, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			require.Fail(t, "condition not met within "+waitFor.String(), msgAndArgs...)
		}
		<-ticker.C
	}
}

// Never calls cond every tick for d, and fails t if it ever holds.
func Never(t testing.TB, cond func() bool, d, tick time.Duration, msgAndArgs ...any) {
	t.Helper()
	deadline := time.Now().Add(d)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		if cond() {
			require.Fail(t, "condition met within "+d.String(), msgAndArgs...)
		}
		if time.Now().After(deadline) {
			return
		}
		<-ticker.C
	}
}
