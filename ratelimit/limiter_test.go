package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/testclock"
)

// epoch is where every unit test's clock starts.
var epoch = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// since is how far clock has moved since epoch.
func since(c *testclock.Clock) time.Duration { return c.Now().Sub(epoch) }

// testBundle is what setup hands a test besides its Limiter.
type testBundle struct {
	mr    *miniredis.Miniredis
	clock *testclock.Clock
}

// setup starts a miniredis whose clock stands at epoch and returns a Limiter
// on it with cfg's defaults and the test clock.
func setup(t *testing.T, cfg Config) (*Limiter, *testBundle) {
	t.Helper()
	mr := miniredis.RunT(t)
	mr.SetTime(epoch)
	b := &testBundle{mr: mr, clock: testclock.New(mr, epoch)}
	return b.limiter(t, cfg), b
}

// limiter returns another Limiter (another process, as far as the local
// front goes) with its own client on the bundle's miniredis.
func (b *testBundle) limiter(t *testing.T, cfg Config) *Limiter {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: b.mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	if cfg.Now == nil {
		cfg.Now = b.clock.Now
	}
	l, err := New(rdb, cfg)
	require.NoError(t, err)
	return l
}

// slot is where a granted reservation's slot lies, measured from epoch.
func slot(t *testing.T, r Reservation) time.Duration {
	t.Helper()
	require.True(t, r.OK, "no slot in %+v", r)
	require.NotZero(t, r.redisNow, "a granted reservation comes from Redis")
	return time.UnixMicro(r.redisNow).Add(r.Delay).Sub(epoch)
}

// reserve calls Reserve and requires that it succeeds.
func reserve(t *testing.T, l *Limiter, req Request) Reservation {
	t.Helper()
	r, err := l.Reserve(context.Background(), req)
	require.NoError(t, err)
	return r
}

// public drops what a Reservation carries for tests only, and At, which
// follows from Delay.
func public(r Reservation) Reservation {
	r.redisNow, r.at = 0, time.Time{}
	return r
}

var (
	perSecond50 = Limit{Rate: 50, Per: time.Second}
	whatsapp    = Request{Key: "whatsapp", Limit: perSecond50}
)

func TestNew(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { rdb.Close() })

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		l, err := New(rdb, Config{})
		require.NoError(t, err)
		require.Equal(t, DefaultPrefix, l.prefix)
		require.Equal(t, DefaultMaxWait, l.maxWait)
		require.NotNil(t, l.now)
	})
	invalid := []struct {
		name string
		rdb  redis.UniversalClient
		cfg  Config
	}{
		{"no client", nil, Config{}},
		{"prefix without hash tag", rdb, Config{Prefix: "sendq:rl:"}},
		{"prefix with empty hash tag", rdb, Config{Prefix: "{}:rl:"}},
		{"negative max wait", rdb, Config{MaxWait: -time.Second}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.rdb, tt.cfg)
			require.Error(t, err)
		})
	}
}

func TestReserve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("successive reservations are exactly one interval apart", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		for i := range 26 { // 0, 20 ms, …, 500 ms: MaxWait's worth
			r := reserve(t, l, whatsapp)
			require.True(t, r.OK, "reservation %d", i)
			require.Equal(t, time.Duration(i)*20*time.Millisecond, r.Delay, "reservation %d", i)
			require.Equal(t, time.Duration(i)*20*time.Millisecond, slot(t, r))
			if i == 0 {
				require.Empty(t, r.Reason)
			} else {
				require.Equal(t, ReasonRate, r.Reason)
			}
		}
	})

	t.Run("slots keep their spacing as time goes on", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		var last time.Duration
		for i := range 100 {
			r := reserve(t, l, whatsapp)
			s := slot(t, r)
			if i > 0 {
				require.Equal(t, 20*time.Millisecond, s-last, "reservation %d", i)
			}
			last = s
			b.clock.Advance(time.Duration(i%3) * 20 * time.Millisecond) // callers arrive unevenly, at the rate on average
		}
	})

	t.Run("a schedule left idle starts again from now", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		require.Equal(t, time.Duration(0), reserve(t, l, whatsapp).Delay)
		require.Equal(t, 20*time.Millisecond, reserve(t, l, whatsapp).Delay)
		b.clock.Advance(time.Second)
		r := reserve(t, l, whatsapp)
		require.Equal(t, Reservation{OK: true}, public(r))
		require.Equal(t, time.Second, slot(t, r))
	})

	t.Run("burst", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		req := Request{Key: "telegram", Limit: Limit{Rate: 10, Per: time.Second, Burst: 3}}
		for i, want := range []time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
			r := reserve(t, l, req)
			require.True(t, r.OK)
			require.Equal(t, want, r.Delay, "reservation %d", i)
		}
		// The schedule runs to 400 ms; the burst is back in full once it
		// is 200 ms (Burst−1 intervals) behind the clock.
		b.clock.Advance(600 * time.Millisecond)
		for i := range 3 {
			require.Equal(t, time.Duration(0), reserve(t, l, req).Delay, "reservation %d after the pause", i)
		}
		require.Equal(t, 100*time.Millisecond, reserve(t, l, req).Delay)
	})

	t.Run("a window holds at most Rate+Burst-1 events", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{MaxWait: 2 * time.Second})
		limit := Limit{Rate: 10, Per: time.Second, Burst: 4}
		var slots []time.Duration
		for range 60 {
			r := reserve(t, l, Request{Key: "k", Limit: limit})
			if r.OK {
				slots = append(slots, slot(t, r))
			}
			b.clock.Advance(50 * time.Millisecond)
		}
		require.Equal(t, 13, maxInWindow(slots, time.Second))
	})

	t.Run("max wait boundary", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		for range 26 {
			require.True(t, reserve(t, l, whatsapp).OK)
		}
		// The next slot is at 520 ms, past MaxWait: nothing is reserved,
		// so the next caller — another process, which has no local
		// knowledge — is told the same.
		other := b.limiter(t, Config{})
		for _, lim := range []*Limiter{l, other, other} {
			r := reserve(t, lim, whatsapp)
			require.Equal(t, Reservation{Delay: 520 * time.Millisecond, Reason: ReasonRate}, public(r))
		}
		// 20 ms later, that slot is exactly MaxWait away and is taken, by
		// the first to come.
		b.clock.Advance(20 * time.Millisecond)
		r := reserve(t, other, whatsapp)
		require.Equal(t, Reservation{OK: true, Delay: 500 * time.Millisecond, Reason: ReasonRate}, public(r))
		require.Equal(t, 520*time.Millisecond, slot(t, r))
		require.False(t, reserve(t, l, whatsapp).OK)
	})

	t.Run("zero limits reserve nothing and write nothing", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		for range 100 {
			r := reserve(t, l, Request{Key: "instagram", Recipient: "c:1"})
			require.Equal(t, Reservation{OK: true}, public(r))
		}
		require.Empty(t, b.mr.Keys())
		require.Equal(t, uint64(100), l.Stats().RedisCalls, "cool-downs are still checked")
	})

	t.Run("zero channel limit with a recipient pace", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		req := Request{Key: "telegram", Recipient: "c:1", RecipientLimit: Limit{Rate: 1, Per: time.Second}}
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, req)))
		require.Equal(t, Reservation{Delay: time.Second, Reason: ReasonRecipientRate}, public(reserve(t, l, req)))
		req.Recipient = "c:2"
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, req)))
	})

	t.Run("recipient pace is independent per recipient", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		pace := Limit{Rate: 1, Per: 6 * time.Second}
		req := func(who string) Request {
			return Request{Key: "whatsapp", Limit: Limit{Rate: 1000, Per: time.Second}, Recipient: who, RecipientLimit: pace}
		}
		require.True(t, reserve(t, l, req("c:1")).OK)
		require.Equal(t, Reservation{Delay: 6 * time.Second, Reason: ReasonRecipientRate}, public(reserve(t, l, req("c:1"))))
		r := reserve(t, l, req("c:2"))
		require.True(t, r.OK)
		require.Equal(t, time.Millisecond, r.Delay, "c:2 waits only for the channel")
		b.clock.Advance(5600 * time.Millisecond)
		r = reserve(t, l, req("c:1"))
		require.Equal(t, Reservation{Delay: 400 * time.Millisecond, Reason: ReasonRecipientRate}, public(r),
			"not reserved ahead of the channel's next slot")
		b.clock.Advance(400 * time.Millisecond)
		r = reserve(t, l, req("c:1"))
		require.Equal(t, Reservation{OK: true}, public(r))
		require.Equal(t, 6*time.Second, slot(t, r))
	})

	t.Run("recipient pace with a burst", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		req := Request{Key: "whatsapp", Recipient: "c:1", RecipientLimit: Limit{Rate: 1, Per: 6 * time.Second, Burst: 3}}
		for range 3 {
			require.Equal(t, Reservation{OK: true}, public(reserve(t, l, req)))
		}
		require.Equal(t, Reservation{Delay: 6 * time.Second, Reason: ReasonRecipientRate}, public(reserve(t, l, req)))
	})

	t.Run("channel and recipient are committed together or not at all", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		pace := Limit{Rate: 1, Per: time.Second}
		withPace := func(who string) Request {
			return Request{Key: "telegram", Limit: perSecond50, Recipient: who, RecipientLimit: pace}
		}
		require.True(t, reserve(t, l, withPace("c:1")).OK) // channel 0 ms, c:1 until 1 s

		// Refused by the recipient: the channel's schedule is untouched.
		require.Equal(t, Reservation{Delay: time.Second, Reason: ReasonRecipientRate}, public(reserve(t, l, withPace("c:1"))))
		require.Equal(t, 20*time.Millisecond, reserve(t, l, withPace("c:2")).Delay)

		// Refused by the channel: the recipient's schedule is untouched.
		for range 24 {
			require.True(t, reserve(t, l, whatsappOn("telegram")).OK) // up to 500 ms
		}
		require.Equal(t, Reservation{Delay: 520 * time.Millisecond, Reason: ReasonRate}, public(reserve(t, l, withPace("c:3"))))
		b.clock.Advance(time.Second)
		r := reserve(t, l, withPace("c:3"))
		require.Equal(t, Reservation{OK: true}, public(r), "c:3 has never been committed")

		// Held back by the recipient past the channel's next slot, even
		// within MaxWait: refused, so that the channel's schedule is not
		// pushed and other recipients keep its whole rate.
		b.clock.Advance(800 * time.Millisecond) // 1.8 s; c:3 free at 2 s
		r = reserve(t, l, withPace("c:3"))
		require.Equal(t, Reservation{Delay: 200 * time.Millisecond, Reason: ReasonRecipientRate}, public(r))
		require.Equal(t, time.Duration(0), reserve(t, l, whatsappOn("telegram")).Delay, "the channel's next slot is still now")
		b.clock.Advance(200 * time.Millisecond) // 2 s: c:3 and the channel free
		r = reserve(t, l, withPace("c:3"))
		require.Equal(t, Reservation{OK: true}, public(r))
	})

	t.Run("a longer MaxWait is a priority lane", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		for range 26 {
			require.True(t, reserve(t, l, whatsapp).OK) // slots up to 500 ms: the horizon is full
		}
		require.False(t, reserve(t, l, whatsapp).OK, "the next ordinary request is refused")
		vip := whatsapp
		vip.MaxWait = time.Second
		r := reserve(t, l, vip)
		require.True(t, r.OK, "a priority request reserves past the others' horizon")
		require.Equal(t, 520*time.Millisecond, r.Delay)
	})

	t.Run("invalid requests", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		for _, req := range []Request{
			{},
			{Key: "k", Limit: Limit{Rate: -1, Per: time.Second}},
			{Key: "k", Limit: Limit{Rate: 1}},
			{Key: "k", Limit: Limit{Rate: 1, Per: time.Second, Burst: -1}},
			{Key: "k", Recipient: "c:1", RecipientLimit: Limit{Rate: 1, Per: -time.Second}},
		} {
			_, err := l.Reserve(ctx, req)
			require.Error(t, err, "%+v", req)
		}
	})

	t.Run("redis errors are returned", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		b.mr.SetError("LOADING Redis is loading the dataset in memory")
		_, err := l.Reserve(ctx, whatsapp)
		require.ErrorContains(t, err, "LOADING")
	})
}

// whatsappOn is the 50/s request without a recipient, on key.
func whatsappOn(key string) Request {
	return Request{Key: key, Limit: perSecond50}
}

// maxInWindow is the most slots in any half-open window [s, s+per).
func maxInWindow(slots []time.Duration, per time.Duration) int {
	most := 0
	for _, s := range slots {
		n := 0
		for _, o := range slots {
			if o >= s && o < s+per {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// TestAt places the slot on the local clock: at Redis's decision plus the
// delay when Redis's clock falls between the request and the answer, and
// within the round trip when it does not.
func TestAt(t *testing.T) {
	t.Run("a granted slot and a refusal", func(t *testing.T) {
		l, b := setup(t, Config{})
		require.Equal(t, epoch, reserve(t, l, whatsapp).At(), "the first slot is now")
		require.Equal(t, epoch.Add(20*time.Millisecond), reserve(t, l, whatsapp).At())
		for range 24 {
			reserve(t, l, whatsapp)
		}
		r := reserve(t, l, whatsapp) // refused by Redis: past the 500 ms horizon
		require.False(t, r.OK)
		require.Equal(t, epoch.Add(520*time.Millisecond), r.At())
		r = reserve(t, l, whatsapp) // refused by the local front
		require.Zero(t, r.redisNow)
		require.Equal(t, epoch.Add(520*time.Millisecond), r.At())
		b.clock.Advance(time.Second)
		require.Equal(t, epoch.Add(time.Second), reserve(t, l, whatsapp).At())
	})
	t.Run("Redis's clock bounded by the round trip", func(t *testing.T) {
		sent := time.Now() // with a monotonic reading, which the result keeps
		recv := sent.Add(3 * time.Millisecond)
		in := sent.Add(time.Millisecond)
		got := decidedAt(sent, recv, in.UnixMicro())
		require.Equal(t, in.UnixMicro(), got.UnixMicro(), "Redis's clock in the round trip: taken")
		require.True(t, got != got.Round(0), "keeps the monotonic reading")
		require.Equal(t, sent, decidedAt(sent, recv, sent.Add(-time.Hour).UnixMicro()), "Redis's clock behind: the request's departure")
		require.Equal(t, recv, decidedAt(sent, recv, recv.Add(time.Hour).UnixMicro()), "Redis's clock ahead: the answer's arrival")
	})
}
