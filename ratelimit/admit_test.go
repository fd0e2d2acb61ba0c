package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdmit(t *testing.T) {
	ctx := context.Background()
	budget := Limit{Rate: 300, Per: time.Minute} // 200 ms apart

	t.Run("a backlog is spaced behind what came before, lane by lane", func(t *testing.T) {
		l, _ := setup(t, Config{})
		first, err := l.Admit(ctx, "acme", "t", budget, 10, time.Time{})
		require.NoError(t, err)
		require.Equal(t, epoch, first.UTC(), "an empty lane starts now")
		next, err := l.Admit(ctx, "acme", "t", budget, 1, time.Time{})
		require.NoError(t, err)
		require.Equal(t, first.Add(10*200*time.Millisecond), next, "behind the ten before")
		bulk, err := l.Admit(ctx, "acme", "b", budget, 1, time.Time{})
		require.NoError(t, err)
		require.Equal(t, first, bulk, "the bulk lane has its own schedule")
		other, err := l.Admit(ctx, "other", "t", budget, 1, time.Time{})
		require.NoError(t, err)
		require.Equal(t, first, other, "so has another scope")
	})

	t.Run("a schedule in the past starts again at now", func(t *testing.T) {
		l, b := setup(t, Config{})
		_, err := l.Admit(ctx, "acme", "t", budget, 5, time.Time{}) // up to 1 s ahead
		require.NoError(t, err)
		b.clock.Advance(3 * time.Second)
		first, err := l.Admit(ctx, "acme", "t", budget, 1, time.Time{})
		require.NoError(t, err)
		require.Equal(t, epoch.Add(3*time.Second), first.UTC())
	})

	t.Run("a later start takes the schedule from there", func(t *testing.T) {
		l, _ := setup(t, Config{})
		at := epoch.Add(time.Hour)
		first, err := l.Admit(ctx, "acme", "b", budget, 3, at)
		require.NoError(t, err)
		require.Equal(t, at, first.UTC())
		next, err := l.Admit(ctx, "acme", "b", budget, 1, time.Time{})
		require.NoError(t, err)
		require.Equal(t, at.Add(600*time.Millisecond), next.UTC(), "behind the later ones")
	})

	t.Run("no budget, no schedule", func(t *testing.T) {
		l, b := setup(t, Config{})
		_, err := l.Admit(ctx, "acme", "t", Limit{}, 100, time.Time{})
		require.NoError(t, err)
		require.Empty(t, b.mr.Keys())
	})

	t.Run("a budget needs a valid scope", func(t *testing.T) {
		l, _ := setup(t, Config{})
		for _, scope := range []string{"", "Bad Scope"} {
			_, err := l.Admit(ctx, scope, "t", budget, 1, time.Time{})
			require.ErrorIs(t, err, ErrInvalidScope, "%q", scope)
		}
	})
}
