package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHold(t *testing.T) {
	ctx := context.Background()
	budget := Limit{Rate: 300, Per: time.Minute}
	acme := Request{Scope: "acme", Budget: budget}
	whatsapp := Request{Scope: "acme", Budget: budget, Key: "whatsapp", Limit: perSecond50}
	account := Target{Scope: "acme"}

	t.Run("held, then one probe at a time, until lifted", func(t *testing.T) {
		l, b := setup(t, Config{ProbeLease: 15 * time.Second})
		other := b.limiter(t, Config{ProbeLease: 15 * time.Second}) // another process
		require.NoError(t, l.Hold(ctx, account, 5*time.Second))

		r := reserve(t, other, whatsapp)
		require.False(t, r.OK, "held: %+v", r)
		require.Equal(t, ReasonAccountCooldown, r.Reason)
		require.Equal(t, 2*time.Second, r.Delay, "a hold asks to come back within 2 s")

		b.clock.Advance(5 * time.Second)
		probe := reserve(t, other, whatsapp)
		require.True(t, probe.OK && probe.Probe, "the first request after the hold is its probe: %+v", probe)
		for _, lim := range []*Limiter{l, other} {
			r := reserve(t, lim, acme)
			require.False(t, r.OK, "nothing else goes while the probe is out: %+v", r)
			require.False(t, r.Probe)
		}

		lifted, err := other.Unhold(ctx, account)
		require.NoError(t, err)
		require.True(t, lifted)
		r = reserve(t, other, acme)
		require.True(t, r.OK && !r.Probe, "lifted: %+v", r)
		lifted, err = other.Unhold(ctx, account)
		require.NoError(t, err)
		require.False(t, lifted, "nothing left to lift")
	})

	t.Run("a probe whose answer never comes lets the next one through after its lease", func(t *testing.T) {
		l, b := setup(t, Config{ProbeLease: 15 * time.Second})
		require.NoError(t, l.Hold(ctx, account, 5*time.Second))
		b.clock.Advance(5 * time.Second)
		require.True(t, reserve(t, l, acme).Probe)
		b.clock.Advance(14 * time.Second)
		require.False(t, reserve(t, l, acme).OK)
		b.clock.Advance(2 * time.Second)
		r := reserve(t, l, acme)
		require.True(t, r.OK && r.Probe, "the next probe: %+v", r)
	})

	t.Run("a refused probe holds again", func(t *testing.T) {
		l, b := setup(t, Config{ProbeLease: 15 * time.Second})
		require.NoError(t, l.Hold(ctx, account, 5*time.Second))
		b.clock.Advance(5 * time.Second)
		require.True(t, reserve(t, l, acme).Probe)
		require.NoError(t, l.Hold(ctx, account, 5*time.Second))
		b.clock.Advance(4 * time.Second)
		require.False(t, reserve(t, l, acme).OK, "held for another 5 s from the refusal")
		b.clock.Advance(time.Second)
		require.True(t, reserve(t, l, acme).Probe)
	})

	t.Run("a cool-down meanwhile keeps the hold", func(t *testing.T) {
		l, b := setup(t, Config{ProbeLease: 15 * time.Second})
		require.NoError(t, l.Hold(ctx, account, 5*time.Second))
		require.NoError(t, l.Cooldown(ctx, account, 8*time.Second))
		b.clock.Advance(8 * time.Second)
		require.True(t, reserve(t, l, acme).Probe, "still a hold: the first request is a probe")
	})

	t.Run("Unhold leaves a plain cool-down alone", func(t *testing.T) {
		l, _ := setup(t, Config{})
		require.NoError(t, l.Cooldown(ctx, account, 3*time.Second))
		lifted, err := l.Unhold(ctx, account)
		require.NoError(t, err)
		require.False(t, lifted)
		left, _, err := l.CooldownLeft(ctx, account)
		require.NoError(t, err)
		require.Equal(t, 3*time.Second, left)
	})
}
