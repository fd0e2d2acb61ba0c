package poll_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
)

// recorder is a testing.TB that records a failure instead of ending the
// test, so the helpers' failures can be checked.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) FailNow()              { r.failed = true; panic(r) }
func (r *recorder) run(f func(testing.TB)) (failed bool) {
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failed = r.failed
	}()
	f(r)
	return
}

func TestEventually(t *testing.T) {
	calls := 0
	failed := (&recorder{TB: t}).run(func(tb testing.TB) {
		poll.Eventually(tb, func() bool { calls++; return calls == 3 }, time.Second, time.Millisecond)
	})
	require.False(t, failed)
	require.Equal(t, 3, calls, "called until it held, and no more")

	failed = (&recorder{TB: t}).run(func(tb testing.TB) {
		poll.Eventually(tb, func() bool { return false }, 20*time.Millisecond, time.Millisecond)
	})
	require.True(t, failed, "a condition that never holds fails")
}

func TestNever(t *testing.T) {
	calls := 0
	failed := (&recorder{TB: t}).run(func(tb testing.TB) {
		poll.Never(tb, func() bool { calls++; return false }, 20*time.Millisecond, time.Millisecond)
	})
	require.False(t, failed)
	require.Greater(t, calls, 1, "looked more than once")

	calls = 0
	failed = (&recorder{TB: t}).run(func(tb testing.TB) {
		poll.Never(tb, func() bool { calls++; return calls == 2 }, time.Second, time.Millisecond)
	})
	require.True(t, failed, "a condition that holds once fails")
	require.Equal(t, 2, calls, "it stops looking at the failure")
}

func TestNoCallAfterReturn(t *testing.T) {
	// The call that testify's Never could leave running: here none runs
	// once Never has returned.
	running := false
	poll.Never(t, func() bool {
		running = true
		defer func() { running = false }()
		return false
	}, 10*time.Millisecond, time.Millisecond)
	require.False(t, running)
}
