package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFront(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("refuses locally what this process alone has used up", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		for range 26 {
			require.True(t, reserve(t, l, whatsapp).OK)
		}
		for range 10 {
			r := reserve(t, l, whatsapp)
			require.Equal(t, Reservation{Delay: 520 * time.Millisecond, Reason: ReasonRate}, public(r), "answered locally")
			require.Zero(t, r.redisNow, "answered locally: no redisNow")
		}
		require.Equal(t, Stats{RedisCalls: 26, LocalDenials: 10}, l.Stats())
		b.clock.Advance(20 * time.Millisecond)
		r := reserve(t, l, whatsapp)
		require.Equal(t, Reservation{OK: true, Delay: 500 * time.Millisecond, Reason: ReasonRate}, public(r))
		require.Equal(t, Stats{RedisCalls: 27, LocalDenials: 10}, l.Stats())
	})

	t.Run("remembers a refusal from Redis while it surely holds", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		other := b.limiter(t, Config{})
		for range 26 {
			require.True(t, reserve(t, l, whatsapp).OK)
		}
		require.Equal(t, Reservation{Delay: 520 * time.Millisecond, Reason: ReasonRate}, public(reserve(t, other, whatsapp)))
		require.Equal(t, Stats{RedisCalls: 1}, other.Stats())

		require.Equal(t, Reservation{Delay: 520 * time.Millisecond, Reason: ReasonRate}, public(reserve(t, other, whatsapp)))
		b.clock.Advance(19 * time.Millisecond)
		require.Equal(t, Reservation{Delay: 501 * time.Millisecond, Reason: ReasonRate}, public(reserve(t, other, whatsapp)))
		require.Equal(t, Stats{RedisCalls: 1, LocalDenials: 2}, other.Stats())

		// At 20 ms the slot is MaxWait away: Redis is asked, and grants it.
		b.clock.Advance(time.Millisecond)
		r := reserve(t, other, whatsapp)
		require.Equal(t, Reservation{OK: true, Delay: 500 * time.Millisecond, Reason: ReasonRate}, public(r))
		require.Equal(t, Stats{RedisCalls: 2, LocalDenials: 2}, other.Stats())
	})

	t.Run("remembers cool-downs it set or was told of", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		other := b.limiter(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp"}, time.Second))
		require.Equal(t, Reservation{Delay: time.Second, Reason: ReasonCooldown}, public(reserve(t, l, whatsapp)))
		require.Equal(t, Stats{RedisCalls: 1, LocalDenials: 1}, l.Stats())

		require.Equal(t, Reservation{Delay: time.Second, Reason: ReasonCooldown}, public(reserve(t, other, whatsapp)))
		b.clock.Advance(400 * time.Millisecond)
		require.Equal(t, Reservation{Delay: 600 * time.Millisecond, Reason: ReasonCooldown}, public(reserve(t, other, whatsapp)))
		// A request without limits honours it too.
		require.Equal(t, Reservation{Delay: 600 * time.Millisecond, Reason: ReasonCooldown}, public(reserve(t, other, Request{Key: "whatsapp"})))
		require.Equal(t, Stats{RedisCalls: 1, LocalDenials: 2}, other.Stats())

		b.clock.Advance(600 * time.Millisecond)
		require.Equal(t, Reservation{OK: true}, public(reserve(t, other, whatsapp)))
	})

	t.Run("a recipient's cool-down is not taken for the key's", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Key: "whatsapp", Recipient: "c:1"}, time.Second))
		req := whatsapp
		req.Recipient = "c:1"
		require.Equal(t, Reservation{Delay: time.Second, Reason: ReasonRecipientCooldown}, public(reserve(t, l, req)))
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, whatsapp)))
	})

	t.Run("a refusal by a recipient's pace is not taken for the key's", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		req := Request{Key: "whatsapp", Limit: perSecond50, Recipient: "c:1", RecipientLimit: Limit{Rate: 1, Per: 6 * time.Second}}
		require.True(t, reserve(t, l, req).OK)
		require.Equal(t, Reservation{Delay: 6 * time.Second, Reason: ReasonRecipientRate}, public(reserve(t, l, req)))
		r := reserve(t, l, whatsapp)
		require.Equal(t, Reservation{OK: true, Delay: 20 * time.Millisecond, Reason: ReasonRate}, public(r))
		require.Zero(t, l.Stats().LocalDenials)
	})

	t.Run("a new limit forgets what the old one taught", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		for range 26 {
			require.True(t, reserve(t, l, whatsapp).OK)
		}
		require.False(t, reserve(t, l, whatsapp).OK)
		require.Equal(t, uint64(1), l.Stats().LocalDenials)
		// Under the new limit the front knows nothing yet: Redis is asked
		// (and, the schedule running to 520 ms, refuses itself).
		faster := Request{Key: "whatsapp", Limit: Limit{Rate: 100, Per: time.Second}}
		r := reserve(t, l, faster)
		require.NotZero(t, r.redisNow, "asked Redis under the new limit")
		require.Equal(t, Reservation{Delay: 520 * time.Millisecond, Reason: ReasonRate}, public(r))
		require.Equal(t, Stats{RedisCalls: 27, LocalDenials: 1}, l.Stats())
	})

	t.Run("allows for the round trip to Redis", func(t *testing.T) {
		t.Parallel()
		f := front{rateReason: ReasonRate, coolReason: ReasonCooldown}
		limit := perSecond50
		maxWait := 500 * time.Millisecond
		f.use(limit, maxWait)
		sent := epoch
		// Redis took 5 ms to answer: wait 600 ms.
		f.learn(limit, sent, sent.Add(5*time.Millisecond), Reservation{Delay: 600 * time.Millisecond, Reason: ReasonRate}, 600*time.Millisecond, maxWait)
		// A request sent at 94 ms may reach Redis at 99 ms, where the wait
		// is still 501 ms; one sent at 95 ms might find 500 ms, which Redis
		// would grant, so the front lets it through.
		r, ok := f.check(limit, sent.Add(94*time.Millisecond), maxWait)
		require.True(t, ok)
		require.Equal(t, Reservation{Delay: 501 * time.Millisecond, Reason: ReasonRate}, r)
		_, ok = f.check(limit, sent.Add(95*time.Millisecond), maxWait)
		require.False(t, ok)
	})
}

// TestFrontConcurrent runs many goroutines on several Limiters at once, as
// worker processes do, while the clock moves: the slots still respect the
// limit. (Run with -race.)
func TestFrontConcurrent(t *testing.T) {
	t.Parallel()
	_, b := setup(t, Config{})
	procs := []*Limiter{b.limiter(t, Config{}), b.limiter(t, Config{}), b.limiter(t, Config{})}
	limit := Limit{Rate: 50, Per: time.Second, Burst: 2}
	ctx := context.Background()

	var (
		mu       sync.Mutex
		slots    []time.Duration
		wg       sync.WaitGroup
		done     = make(chan struct{})
		progress = make(chan struct{}) // one receive per Reserve answered
	)
	for g := range 30 {
		wg.Go(func() {
			p := procs[g%len(procs)]
			for {
				select {
				case <-done:
					return
				default:
				}
				r, err := p.Reserve(ctx, Request{Key: "whatsapp", Limit: limit})
				if err != nil {
					t.Error(err)
					return
				}
				if r.OK {
					mu.Lock()
					slots = append(slots, slot(t, r))
					mu.Unlock()
				}
				select {
				case progress <- struct{}{}:
				case <-done:
					return
				}
			}
		})
	}
	// Move the clock 7 ms after every 10 answers: more demand than the
	// limit, so Redis and the local fronts refuse, and slots keep coming.
	for range 300 {
		for range 10 {
			<-progress
		}
		b.clock.Advance(7 * time.Millisecond)
	}
	close(done)
	wg.Wait()
	var local uint64
	for _, p := range procs {
		local += p.Stats().LocalDenials
	}
	t.Logf("%d slots, %d local denials", len(slots), local)
	require.Greater(t, len(slots), 100, "2.1 s of clock at 50/s")
	require.LessOrEqual(t, maxInWindow(slots, time.Second), limit.Rate+limit.burst()-1)
}
