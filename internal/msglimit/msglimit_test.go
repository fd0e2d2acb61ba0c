package msglimit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/msglimit"
	"github.com/sendq/sendq/internal/redistest"
)

var (
	acme = keys.Account("acme")
	t0   = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
)

func setup(t *testing.T) (*msglimit.Store, *miniredis.Miniredis, redis.UniversalClient) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	s, err := msglimit.New(rdb, msglimit.Config{})
	require.NoError(t, err)
	return s, mr, rdb
}

// take is one Take whose error must be nil.
type taker struct {
	t *testing.T
	s *msglimit.Store
}

func (k taker) take(who string, limit int, transactional bool, now time.Time) (bool, time.Time) {
	k.t.Helper()
	ok, nb, err := k.s.Take(context.Background(), acme, who, limit, transactional, now)
	require.NoError(k.t, err)
	return ok, nb
}

func TestTake(t *testing.T) {
	const campaign, transactional = false, true

	t.Run("UniqueRecipientsInTheRollingWindow", func(t *testing.T) {
		s, _, _ := setup(t)
		k := taker{t, s}
		for i := range 3 {
			ok, _ := k.take(fmt.Sprintf("p:%d", i), 3, campaign, t0.Add(time.Duration(i)*time.Hour))
			require.True(t, ok)
		}
		ok, _ := k.take("p:1", 3, campaign, t0.Add(5*time.Hour))
		require.True(t, ok, "a recipient counted in the window goes again")
		ok, nb := k.take("p:9", 3, campaign, t0.Add(5*time.Hour))
		require.False(t, ok, "a new recipient past the limit")
		require.Equal(t, t0.Add(24*time.Hour), nb, "when the oldest counted recipient leaves the 24 hours")

		ok, _ = k.take("p:9", 3, campaign, t0.Add(24*time.Hour-time.Millisecond))
		require.False(t, ok)
		ok, _ = k.take("p:9", 3, campaign, t0.Add(24*time.Hour))
		require.True(t, ok, "at notBefore the place is free")
		ok, _ = k.take("p:0", 3, campaign, t0.Add(24*time.Hour))
		require.False(t, ok, "p:0 left the window: it counts as new again")
	})

	t.Run("Unlimited", func(t *testing.T) {
		s, _, rdb := setup(t)
		k := taker{t, s}
		for i := range 10 {
			ok, _ := k.take(fmt.Sprintf("p:%d", i), 0, campaign, t0)
			require.True(t, ok)
		}
		require.Zero(t, rdb.DBSize(context.Background()).Val(), "nothing counted")
	})

	t.Run("TransactionalFirst", func(t *testing.T) {
		s, _, _ := setup(t)
		k := taker{t, s}
		ctx := context.Background()
		for i := range 3 {
			ok, _ := k.take(fmt.Sprintf("p:%d", i), 3, campaign, t0.Add(time.Duration(i)*time.Minute))
			require.True(t, ok)
		}
		now := t0.Add(time.Hour)
		ok, nb := k.take("p:tx", 3, transactional, now)
		require.False(t, ok)
		require.Equal(t, t0.Add(24*time.Hour), nb)
		counted, waiting, err := s.Usage(ctx, acme, now)
		require.NoError(t, err)
		require.Equal(t, [2]int{3, 1}, [2]int{counted, waiting})

		ok, nb = k.take("p:bulk", 3, campaign, now)
		require.False(t, ok)
		require.Equal(t, t0.Add(24*time.Hour+time.Minute), nb, "the first place to free is the waiting transactional one's")

		// p:0 leaves: one free place, one transactional recipient waiting.
		now = t0.Add(24 * time.Hour)
		ok, _ = k.take("p:bulk", 3, campaign, now)
		require.False(t, ok, "a campaign message does not take the place a transactional one waits for")
		ok, _ = k.take("p:tx", 3, transactional, now)
		require.True(t, ok)
		// p:1 leaves: free for the campaign.
		now = t0.Add(24*time.Hour + time.Minute)
		ok, _ = k.take("p:bulk", 3, campaign, now)
		require.True(t, ok)
		counted, waiting, err = s.Usage(ctx, acme, now)
		require.NoError(t, err)
		require.Equal(t, [2]int{3, 0}, [2]int{counted, waiting})
	})

	t.Run("AWaitingClaimLapses", func(t *testing.T) {
		s, _, _ := setup(t)
		k := taker{t, s}
		for i := range 2 {
			ok, _ := k.take(fmt.Sprintf("p:%d", i), 2, campaign, t0.Add(time.Duration(i)*time.Hour))
			require.True(t, ok)
		}
		ok, nb := k.take("p:tx", 2, transactional, t0.Add(2*time.Hour))
		require.False(t, ok)
		require.Equal(t, t0.Add(24*time.Hour), nb)
		// p:0 has left at nb, but the transactional message never comes back
		// (it expired): its claim on that place holds for the grace, then
		// the campaign goes.
		ok, _ = k.take("p:bulk", 2, campaign, nb.Add(5*time.Minute-time.Millisecond))
		require.False(t, ok)
		ok, _ = k.take("p:bulk", 2, campaign, nb.Add(5*time.Minute))
		require.True(t, ok)
	})

	t.Run("ForgetGivesThePlaceBack", func(t *testing.T) {
		s, _, _ := setup(t)
		k := taker{t, s}
		ctx := context.Background()
		ok, _ := k.take("p:old", 2, campaign, t0)
		require.True(t, ok)
		ok, _ = k.take("p:new", 2, campaign, t0.Add(time.Minute))
		require.True(t, ok)

		forgot, err := s.Forget(ctx, acme, "p:new", t0.Add(time.Minute))
		require.NoError(t, err)
		require.True(t, forgot)
		ok, _ = k.take("p:other", 2, campaign, t0.Add(2*time.Minute))
		require.True(t, ok, "the forgotten place is free")

		// p:old goes again (not counted again); its send fails, but the
		// count of the send that went at t0 stays.
		now := t0.Add(3 * time.Minute)
		ok, _ = k.take("p:old", 2, campaign, now)
		require.True(t, ok)
		forgot, err = s.Forget(ctx, acme, "p:old", now)
		require.NoError(t, err)
		require.False(t, forgot)
		counted, _, err := s.Usage(ctx, acme, now)
		require.NoError(t, err)
		require.Equal(t, 2, counted)
	})

	t.Run("PerAccount", func(t *testing.T) {
		s, _, _ := setup(t)
		ctx := context.Background()
		ok, _, err := s.Take(ctx, acme, "p:1", 1, campaign, t0)
		require.NoError(t, err)
		require.True(t, ok)
		ok, _, err = s.Take(ctx, keys.Account("other"), "p:2", 1, campaign, t0)
		require.NoError(t, err)
		require.True(t, ok, "another account's count")
	})

	t.Run("KeysExpire", func(t *testing.T) {
		s, mr, rdb := setup(t)
		k := taker{t, s}
		k.take("p:1", 1, campaign, t0)
		k.take("p:tx", 1, transactional, t0)
		ctx := context.Background()
		require.Equal(t, 24*time.Hour, rdb.PTTL(ctx, acme.MessagingLimit()).Val())
		require.Equal(t, 24*time.Hour+5*time.Minute, rdb.PTTL(ctx, acme.MessagingLimitWaiting()).Val())
		mr.FastForward(24*time.Hour + 5*time.Minute)
		require.Zero(t, rdb.DBSize(ctx).Val(), "nothing outlives the window")
	})

	t.Run("Concurrent", func(t *testing.T) {
		s, _, _ := setup(t)
		requireExactlyLimit(t, s)
	})
}

// requireExactlyLimit is issue 17's check: three workers at once take 400
// new recipients at limit 250, and exactly 250 go.
func requireExactlyLimit(t *testing.T, s *msglimit.Store) {
	t.Helper()
	const workers, recipients, limit = 3, 400, 250
	var (
		ok, refused atomic.Int64
		wg          sync.WaitGroup
		next        atomic.Int64
		errs        = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= recipients {
					return
				}
				took, nb, err := s.Take(context.Background(), acme, fmt.Sprintf("p:65910%05d", i), limit, i%4 == 0, t0)
				if err != nil {
					errs <- err
					return
				}
				if took {
					ok.Add(1)
				} else if nb.Equal(t0.Add(24 * time.Hour)) {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(limit), ok.Load())
	require.Equal(t, int64(recipients-limit), refused.Load(), "each refused one told when the first place frees")
	counted, _, err := s.Usage(context.Background(), acme, t0)
	require.NoError(t, err)
	require.Equal(t, limit, counted)
}

func TestTakeRealRedis(t *testing.T) {
	rdb := redistest.Client(t, 9)
	s, err := msglimit.New(rdb, msglimit.Config{})
	require.NoError(t, err)
	requireExactlyLimit(t, s)

	// The count is the server's: a second Store (another process, or a
	// restarted one) sees it.
	s2, err := msglimit.New(rdb, msglimit.Config{})
	require.NoError(t, err)
	ok, _, err := s2.Take(context.Background(), acme, "p:someone-new", 250, true, t0.Add(time.Hour))
	require.NoError(t, err)
	require.False(t, ok)
}

func TestNew(t *testing.T) {
	_, err := msglimit.New(nil, msglimit.Config{})
	require.Error(t, err)
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	_, err = msglimit.New(rdb, msglimit.Config{Window: -time.Second})
	require.Error(t, err)
}
