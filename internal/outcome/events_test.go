package outcome

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEventGroup(t *testing.T) {
	ctx := context.Background()
	states := func(evs []Event) []State {
		var out []State
		for _, e := range evs {
			out = append(out, e.State)
		}
		return out
	}

	t.Run("ReadsEachTransitionTypedUntilAcknowledged", func(t *testing.T) {
		s, b := setup(t)
		g := s.EventGroup("callbacks", "a", []string{""})
		require.NoError(t, g.Join(ctx))
		require.NoError(t, g.Join(ctx), "joining again finds the group")
		// Creating a record is no transition; finishing one is.
		_, _, err := s.Create(ctx, msg("m1", ""), Schedule{}, b.now)
		require.NoError(t, err)
		_, err = s.Finish(ctx, msg("m2", ""), "", Result{State: Expired}, b.now)
		require.NoError(t, err)
		_, err = s.Finish(ctx, msg("m1", ""), "", Result{State: Sent}, b.now.Add(time.Second))
		require.NoError(t, err)

		evs, err := g.Next(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Equal(t, []State{Expired, Sent}, states(evs))
		require.Equal(t, "m1", evs[1].MessageID)
		require.Equal(t, b.now.Add(time.Second), evs[1].At)
		require.NotEqual(t, evs[0].ID, evs[1].ID)

		more, err := g.Next(ctx, 0, 10)
		require.NoError(t, err)
		require.Empty(t, more, "each event is given once")
		pending, err := g.Pending(ctx, 10)
		require.NoError(t, err)
		require.Equal(t, evs, pending, "given but not acknowledged")
		require.NoError(t, g.Ack(ctx, evs[0]))
		pending, err = g.Pending(ctx, 10)
		require.NoError(t, err)
		require.Equal(t, evs[1:], pending)
	})

	t.Run("AnotherConsumerClaimsWhatOneLeft", func(t *testing.T) {
		s, b := setup(t)
		a, c := s.EventGroup("callbacks", "a", []string{""}), s.EventGroup("callbacks", "c", []string{""})
		require.NoError(t, a.Join(ctx))
		_, err := s.Finish(ctx, msg("m1", ""), "", Result{State: Sent}, b.now)
		require.NoError(t, err)
		evs, err := a.Next(ctx, 0, 10)
		require.NoError(t, err)
		require.Len(t, evs, 1)

		claimed, err := c.Claim(ctx, time.Hour, 10)
		require.NoError(t, err)
		require.Empty(t, claimed, "not idle long enough")
		claimed, err = c.Claim(ctx, 0, 10)
		require.NoError(t, err)
		require.Equal(t, evs, claimed)
		pending, err := a.Pending(ctx, 10)
		require.NoError(t, err)
		require.Empty(t, pending, "now the other consumer's")
	})

	t.Run("ReadingWithoutAGroupIsAnError", func(t *testing.T) {
		s, _ := setup(t)
		_, err := s.EventGroup("none", "a", []string{""}).Next(ctx, 0, 10)
		require.ErrorContains(t, err, "outcome: read events")
	})
}
