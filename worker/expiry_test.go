package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/tasks"
)

// TestExpiryAndSchedule: a message past its expiry (its own, or its creation
// plus the default of 7 days) is recorded expired without a call; one whose
// NotBefore is more than a second away comes back then.
func TestExpiryAndSchedule(t *testing.T) {
	const week = 7 * 24 * time.Hour
	for _, tc := range []struct {
		name  string
		edit  func(m *tasks.Message, now time.Time)
		want  verdict
		state outcome.State
	}{
		{"PastItsExpiry", func(m *tasks.Message, now time.Time) {
			m.CreatedAt, m.ExpiresAt = now.Add(-time.Hour), now.Add(-time.Second)
		}, done, outcome.Expired},
		{"ExpiringThisInstant", func(m *tasks.Message, now time.Time) { m.ExpiresAt = now }, done, outcome.Expired},
		{"PastTheDefaultExpiry", func(m *tasks.Message, now time.Time) { m.CreatedAt = now.Add(-week) }, done, outcome.Expired},
		{"JustWithinTheDefaultExpiry", func(m *tasks.Message, now time.Time) {
			m.CreatedAt = now.Add(-week + time.Millisecond)
		}, done, outcome.Sent},
		{"NotBeforeAheadComesBackThen", func(m *tasks.Message, now time.Time) {
			m.NotBefore = now.Add(90 * time.Second)
		}, deferred(90 * time.Second), outcome.Scheduled},
		{"NotBeforeWithinASecondGoesNow", func(m *tasks.Message, now time.Time) {
			m.NotBefore = now.Add(time.Second)
		}, done, outcome.Sent},
		{"NotBeforePassedGoesNow", func(m *tasks.Message, now time.Time) {
			m.NotBefore = now.Add(-time.Minute)
		}, done, outcome.Sent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := setup(t)
			m := templateMsg("m1", "c1")
			tc.edit(&m, c.clock.Now())
			requireVerdict(t, tc.want, c.run(t, m))
			r := c.record(t, "m1")
			require.Equal(t, tc.state, r.State)
			if tc.state == outcome.Sent {
				require.Equal(t, 1, c.api.calls())
				return
			}
			require.Zero(t, c.api.calls(), "no call for a message that is not due")
			require.Zero(t, r.Attempts)
			if tc.state == outcome.Expired {
				require.Equal(t, "not sent before it expired", r.Error)
			}
		})
	}
}

// TestScheduledMessagePastItsExpiryWhenDueIsNotSent: a message that comes
// back for its NotBefore after its expiry (asynq was late, the queue long)
// is expired, not sent.
func TestScheduledMessagePastItsExpiryWhenDueIsNotSent(t *testing.T) {
	c := setup(t)
	m := templateMsg("m1", "c1")
	m.NotBefore = c.clock.Now().Add(time.Minute)
	m.ExpiresAt = c.clock.Now().Add(2 * time.Minute)
	task := c.enqueue(t, m)
	requireVerdict(t, deferred(time.Minute), c.handle(task))
	c.clock.Advance(3 * time.Minute)
	requireVerdict(t, done, c.handle(task))
	require.Equal(t, outcome.Expired, c.record(t, "m1").State)
	require.Zero(t, c.api.calls())
}
