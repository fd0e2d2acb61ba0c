package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCooldown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("blocks Reserve in every process and expires with time", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		other := b.limiter(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, 2*time.Second))

		for _, lim := range []*Limiter{l, other} {
			r := reserve(t, lim, whatsapp)
			require.Equal(t, Reservation{Delay: 2 * time.Second, Reason: ReasonCooldown}, public(r))
		}
		b.clock.Advance(1500 * time.Millisecond)
		for _, lim := range []*Limiter{l, other} {
			r := reserve(t, lim, whatsapp)
			require.Equal(t, Reservation{Delay: 500 * time.Millisecond, Reason: ReasonCooldown}, public(r))
		}
		left, reason, err := other.CooldownLeft(ctx, Target{Key: "whatsapp"})
		require.NoError(t, err)
		require.Equal(t, 500*time.Millisecond, left)
		require.Equal(t, ReasonCooldown, reason)

		b.clock.Advance(500 * time.Millisecond)
		require.Equal(t, Reservation{OK: true}, public(reserve(t, other, whatsapp)))
		require.Equal(t, Reservation{OK: true, Delay: 20 * time.Millisecond, Reason: ReasonRate}, public(reserve(t, l, whatsapp)))
		left, reason, err = l.CooldownLeft(ctx, Target{Key: "whatsapp"})
		require.NoError(t, err)
		require.Zero(t, left)
		require.Empty(t, reason)
		require.False(t, b.mr.Exists(DefaultPrefix+"c:whatsapp"), "the cool-down key expired")
	})

	t.Run("holds a caller with no limits", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Key: "messenger"}, time.Second))
		r := reserve(t, l, Request{Key: "messenger", Recipient: "c:1"})
		require.Equal(t, Reservation{Delay: time.Second, Reason: ReasonCooldown}, public(r))
	})

	t.Run("extends, never shortens", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		leftOf := func() time.Duration {
			d, _, err := l.CooldownLeft(ctx, Target{Key: "whatsapp"})
			require.NoError(t, err)
			return d
		}
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, 5*time.Second))
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, time.Second))
		require.Equal(t, 5*time.Second, leftOf())
		b.clock.Advance(2 * time.Second)
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, 2*time.Second))
		require.Equal(t, 3*time.Second, leftOf())
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, 10*time.Second))
		require.Equal(t, 10*time.Second, leftOf())
		require.Equal(t, 10*time.Second, b.mr.TTL(DefaultPrefix+"c:whatsapp"))
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, 0), "zero does nothing")
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, -time.Second), "neither does a negative")
		require.Equal(t, 10*time.Second, leftOf())
	})

	t.Run("a recipient's cool-down holds that recipient only", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		req := func(who string) Request { return Request{Key: "whatsapp", Recipient: who} }
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp", Recipient: "c:1"}, 3*time.Second))
		require.Equal(t, Reservation{Delay: 3 * time.Second, Reason: ReasonRecipientCooldown}, public(reserve(t, l, req("c:1"))))
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, req("c:2"))))
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, req(""))))
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, Request{Key: "telegram", Recipient: "c:1"})))

		left, reason, err := l.CooldownLeft(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
		require.NoError(t, err)
		require.Equal(t, 3*time.Second, left)
		require.Equal(t, ReasonRecipientCooldown, reason)
		left, _, err = l.CooldownLeft(ctx, Target{Key: "whatsapp", Recipient: "c:2"})
		require.NoError(t, err)
		require.Zero(t, left)

		b.clock.Advance(3 * time.Second)
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, req("c:1"))))
	})

	t.Run("the longer of the key's and the recipient's is reported", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, 2*time.Second))
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp", Recipient: "c:1"}, 5*time.Second))
		left, reason, err := l.CooldownLeft(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
		require.NoError(t, err)
		require.Equal(t, 5*time.Second, left)
		require.Equal(t, ReasonRecipientCooldown, reason)
		r := reserve(t, b2(t, l), Request{Key: "whatsapp", Recipient: "c:1"})
		require.Equal(t, Reservation{Delay: 5 * time.Second, Reason: ReasonRecipientCooldown}, public(r))
		left, reason, err = l.CooldownLeft(ctx, Target{Key: "whatsapp", Recipient: "c:2"})
		require.NoError(t, err)
		require.Equal(t, 2*time.Second, left)
		require.Equal(t, ReasonCooldown, reason)
	})

	t.Run("a cool-down reserves nothing", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, time.Second))
		for range 10 {
			require.False(t, reserve(t, l, whatsapp).OK)
		}
		b.clock.Advance(time.Second)
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, whatsapp)))
	})

	t.Run("empty key", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		require.Error(t, l.Cooldown(ctx, Target{}, time.Second))
		_, _, err := l.CooldownLeft(ctx, Target{})
		require.Error(t, err)
	})
}

// b2 is another Limiter on the same Redis as l (no shared local state).
func b2(t *testing.T, l *Limiter) *Limiter {
	t.Helper()
	o, err := New(l.rdb, Config{Now: l.now})
	require.NoError(t, err)
	return o
}

func TestPenalizeRecipient(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("each penalty in a row quadruples the cool-down, up to an hour", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		want := []time.Duration{
			time.Second, 4 * time.Second, 16 * time.Second, 64 * time.Second,
			256 * time.Second, 1024 * time.Second, time.Hour, time.Hour, time.Hour,
		}
		for i, w := range want {
			d, err := l.PenalizeRecipient(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
			require.NoError(t, err)
			require.Equal(t, w, d, "penalty %d", i)
			left, reason, err := l.CooldownLeft(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
			require.NoError(t, err)
			require.Equal(t, w, left, "penalty %d", i)
			require.Equal(t, ReasonRecipientCooldown, reason)
			// Sit out the cool-down, then offend again: within the hour that
			// keeps the count.
			b.clock.Advance(min(w, time.Hour-time.Second))
		}
	})

	t.Run("the count decays after an hour without penalties", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		for _, w := range []time.Duration{time.Second, 4 * time.Second} {
			d, err := l.PenalizeRecipient(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
			require.NoError(t, err)
			require.Equal(t, w, d)
		}
		b.clock.Advance(time.Hour - time.Millisecond)
		d, err := l.PenalizeRecipient(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
		require.NoError(t, err)
		require.Equal(t, 16*time.Second, d, "not yet an hour")
		b.clock.Advance(time.Hour)
		d, err = l.PenalizeRecipient(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
		require.NoError(t, err)
		require.Equal(t, time.Second, d, "an hour without penalties")
	})

	t.Run("recipients are counted apart", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		for range 3 {
			_, err := l.PenalizeRecipient(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
			require.NoError(t, err)
		}
		d, err := l.PenalizeRecipient(ctx, Target{Key: "whatsapp", Recipient: "c:2"})
		require.NoError(t, err)
		require.Equal(t, time.Second, d)
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, Request{Key: "whatsapp", Recipient: "c:3"})))
		require.Equal(t, Reservation{Delay: 16 * time.Second, Reason: ReasonRecipientCooldown},
			public(reserve(t, l, Request{Key: "whatsapp", Recipient: "c:1"})))
	})

	t.Run("never shortens a longer cool-down", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp", Recipient: "c:1"}, time.Minute))
		d, err := l.PenalizeRecipient(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
		require.NoError(t, err)
		require.Equal(t, time.Second, d)
		left, _, err := l.CooldownLeft(ctx, Target{Key: "whatsapp", Recipient: "c:1"})
		require.NoError(t, err)
		require.Equal(t, time.Minute, left)
	})

	t.Run("key and recipient are required", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		_, err := l.PenalizeRecipient(ctx, Target{Key: "whatsapp"})
		require.Error(t, err)
		_, err = l.PenalizeRecipient(ctx, Target{Recipient: "c:1"})
		require.Error(t, err)
	})
}
