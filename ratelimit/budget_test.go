package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

var (
	perMinute300 = Limit{Rate: 300, Per: time.Minute} // one slot every 200 ms
	acmeSpace    = "{sendq:a:acme}:rl:"
)

// acme is a request of scope "acme" on key with its budget of 300/m, the
// channel at 50/s and, with a recipient, a pace of 1 per 6 s.
func acme(key, recipient string) Request {
	r := Request{Scope: "acme", Budget: perMinute300, Key: key, Recipient: recipient}
	if key != "" {
		r.Limit = perSecond50
	}
	if recipient != "" {
		r.RecipientLimit = Limit{Rate: 1, Per: 6 * time.Second}
	}
	return r
}

// schedules are the TATs of acme("whatsapp", "c:1")'s three levels, from
// epoch; 0 for none stored.
type schedules struct{ budget, channel, recipient time.Duration }

// acmeKeys are the schedule keys of acme("whatsapp", "c:1"), as schedules
// lists them.
var acmeKeys = [3]string{acmeSpace + "b", acmeSpace + "t:whatsapp", acmeSpace + "rt:whatsapp:c:1"}

// set stores s in mr.
func (s schedules) set(t *testing.T, b *testBundle) {
	t.Helper()
	for i, d := range []time.Duration{s.budget, s.channel, s.recipient} {
		if d > 0 {
			require.NoError(t, b.mr.Set(acmeKeys[i], strconv.FormatInt(epoch.Add(d).UnixMicro(), 10)))
		}
	}
}

// stored reads the schedules back.
func stored(t *testing.T, b *testBundle) schedules {
	t.Helper()
	var got [3]time.Duration
	for i, k := range acmeKeys {
		if v, err := b.mr.Get(k); err == nil {
			us, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			got[i] = time.UnixMicro(us).Sub(epoch)
		}
	}
	return schedules{got[0], got[1], got[2]}
}

// TestBudgetAllOrNothing: the budget, the channel and the recipient are
// decided together. The slot is the latest of their times and every
// schedule advances for it, or (past MaxWait, or a narrower level holding
// the slot past a broader one's next) none changes and the Reason is the
// binding level's.
func TestBudgetAllOrNothing(t *testing.T) {
	t.Parallel()
	const ms = time.Millisecond
	tests := []struct {
		name   string
		req    Request
		before schedules
		want   Reservation
		after  schedules // when OK; else before, unchanged
	}{
		{"none binds", acme("whatsapp", "c:1"), schedules{},
			Reservation{OK: true}, schedules{200 * ms, 20 * ms, 6 * time.Second}},
		{"budget binds", acme("whatsapp", "c:1"), schedules{300 * ms, 100 * ms, 0},
			Reservation{OK: true, Delay: 300 * ms, Reason: ReasonBudget}, schedules{500 * ms, 320 * ms, 6300 * ms}},
		{"budget binds past MaxWait", acme("whatsapp", "c:1"), schedules{700 * ms, 100 * ms, 0},
			Reservation{Delay: 700 * ms, Reason: ReasonBudget}, schedules{}},
		{"budget and channel tie: the broader binds", acme("whatsapp", "c:1"), schedules{100 * ms, 100 * ms, 0},
			Reservation{OK: true, Delay: 100 * ms, Reason: ReasonBudget}, schedules{300 * ms, 120 * ms, 6100 * ms}},
		{"channel binds past MaxWait", acme("whatsapp", "c:1"), schedules{0, 600 * ms, 0},
			Reservation{Delay: 600 * ms, Reason: ReasonRate}, schedules{}},
		{"channel binds past the budget's next slot", acme("whatsapp", "c:1"), schedules{50 * ms, 100 * ms, 0},
			Reservation{Delay: 100 * ms, Reason: ReasonRate}, schedules{}},
		{"channel binds without a budget", noBudget(acme("whatsapp", "c:1")), schedules{0, 100 * ms, 0},
			Reservation{OK: true, Delay: 100 * ms, Reason: ReasonRate}, schedules{0, 120 * ms, 6100 * ms}},
		{"recipient binds past MaxWait", acme("whatsapp", "c:1"), schedules{0, 0, 2 * time.Second},
			Reservation{Delay: 2 * time.Second, Reason: ReasonRecipientRate}, schedules{}},
		{"recipient binds past the budget's next slot", acme("whatsapp", "c:1"), schedules{200 * ms, 0, 300 * ms},
			Reservation{Delay: 300 * ms, Reason: ReasonRecipientRate}, schedules{}},
		{"recipient free when the budget is", acme("whatsapp", "c:1"), schedules{300 * ms, 0, 300 * ms},
			Reservation{OK: true, Delay: 300 * ms, Reason: ReasonBudget}, schedules{500 * ms, 320 * ms, 6300 * ms}},
		{"budget only", acme("", ""), schedules{100 * ms, 400 * ms, 0},
			Reservation{OK: true, Delay: 100 * ms, Reason: ReasonBudget}, schedules{300 * ms, 400 * ms, 0}},
		{"budget only, past MaxWait", acme("", ""), schedules{600 * ms, 0, 0},
			Reservation{Delay: 600 * ms, Reason: ReasonBudget}, schedules{}},
		{"budget only, free", acme("", ""), schedules{0, 400 * ms, 0},
			Reservation{OK: true}, schedules{200 * ms, 400 * ms, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, b := setup(t, Config{})
			tt.before.set(t, b)
			require.Equal(t, tt.want, public(reserve(t, l, tt.req)))
			if !tt.want.OK {
				tt.after = tt.before
			}
			require.Equal(t, tt.after, stored(t, b))
		})
	}
}

// noBudget is r without its budget.
func noBudget(r Request) Request {
	r.Budget = Limit{}
	return r
}

func TestBudget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("every channel and budget-only request takes the same budget", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		reqs := []Request{acme("whatsapp", "c:1"), acme("telegram", "c:1"), acme("", ""), acme("instagram", "")}
		for i := range 3 { // 0, 200, 400 ms: MaxWait's worth
			r := reserve(t, l, reqs[i])
			require.True(t, r.OK, "request %d", i)
			require.Equal(t, time.Duration(i)*200*time.Millisecond, slot(t, r))
		}
		r := reserve(t, l, reqs[3])
		require.Equal(t, Reservation{Delay: 600 * time.Millisecond, Reason: ReasonBudget}, public(r))
		b.clock.Advance(100 * time.Millisecond)
		r = reserve(t, l, reqs[3])
		require.Equal(t, Reservation{OK: true, Delay: 500 * time.Millisecond, Reason: ReasonBudget}, public(r))
		require.Equal(t, 600*time.Millisecond, slot(t, r))
	})

	t.Run("a scope with no budget still takes channel slots", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		req := noBudget(acme("whatsapp", ""))
		require.Equal(t, time.Duration(0), reserve(t, l, req).Delay)
		require.Equal(t, 20*time.Millisecond, reserve(t, l, req).Delay)
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, noBudget(acme("", "")))), "nothing to take")
	})

	t.Run("scopes are isolated from each other and from the unscoped keys", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		other := b.limiter(t, Config{})
		for range 3 {
			require.True(t, reserve(t, l, acme("whatsapp", "")).OK)
		}
		require.False(t, reserve(t, l, acme("whatsapp", "")).OK, "acme's budget is spent")
		beta := acme("whatsapp", "")
		beta.Scope = "beta"
		require.Equal(t, Reservation{OK: true}, public(reserve(t, other, beta)), "beta's first slot is now")
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, whatsapp)), "the unscoped whatsapp is another key")

		require.NoError(t, l.Cooldown(ctx, Target{Scope: "acme"}, time.Minute))
		require.Equal(t, Reservation{OK: true, Delay: 200 * time.Millisecond, Reason: ReasonBudget}, public(reserve(t, other, beta)))
		require.Equal(t, Reservation{OK: true, Delay: 20 * time.Millisecond, Reason: ReasonRate}, public(reserve(t, other, whatsapp)))
	})

	t.Run("the front refuses a spent budget for every key of the scope", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		for range 3 {
			require.True(t, reserve(t, l, acme("whatsapp", "")).OK) // 0, 200, 400 ms
		}
		want := Reservation{Delay: 600 * time.Millisecond, Reason: ReasonBudget}
		require.Equal(t, want, public(reserve(t, l, acme("telegram", ""))), "Redis refuses")
		for _, req := range []Request{acme("instagram", "c:1"), acme("", ""), acme("whatsapp", "")} {
			r := reserve(t, l, req)
			require.Equal(t, want, public(r))
			require.Zero(t, r.redisNow, "answered locally")
		}
		require.Equal(t, Stats{RedisCalls: 4, LocalDenials: 3}, l.Stats())
		beta := acme("", "")
		beta.Scope = "beta"
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, beta)), "beta has a front of its own")
		b.clock.Advance(100 * time.Millisecond)
		require.True(t, reserve(t, l, acme("telegram", "")).OK, "the slot at 600 ms is within MaxWait")
		require.Equal(t, Stats{RedisCalls: 6, LocalDenials: 3}, l.Stats())
	})

	t.Run("keys carry the scope's own hash tag", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		reserve(t, l, acme("whatsapp", "c:1"))
		require.NoError(t, l.Cooldown(ctx, Target{Scope: "acme"}, time.Second))
		_, err := l.PenalizeRecipient(ctx, Target{Scope: "acme", Key: "whatsapp", Recipient: "c:2"})
		require.NoError(t, err)
		reserve(t, l, whatsapp)
		require.ElementsMatch(t, []string{
			acmeSpace + "b", acmeSpace + "ac", acmeSpace + "t:whatsapp", acmeSpace + "rt:whatsapp:c:1",
			acmeSpace + "pn:whatsapp:c:2", acmeSpace + "rc:whatsapp:c:2", DefaultPrefix + "t:whatsapp",
		}, b.mr.Keys())

		custom := b.limiter(t, Config{Prefix: "q{x}y:"})
		b.mr.FlushAll()
		reserve(t, custom, acme("", ""))
		require.Equal(t, []string{"q{x:a:acme}y:b"}, b.mr.Keys())
	})

	t.Run("ReserveIn takes the budget in the pipeline's round trip", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		for i, flush := range []bool{false, true} {
			if flush { // Redis forgot the script: ReserveIn loads it
				require.NoError(t, l.rdb.ScriptFlush(ctx).Err())
			}
			p := l.rdb.Pipeline()
			ping := p.Ping(ctx)
			got := l.ReserveIn(ctx, p, acme("whatsapp", "c:"+strconv.Itoa(i)))
			_, _ = p.Exec(ctx)
			require.NoError(t, ping.Err())
			r, err := got()
			require.NoError(t, err)
			require.Equal(t, time.Duration(i)*200*time.Millisecond, slot(t, r))
		}
	})
}

// TestScopeCooldown: a cool-down of a scope holds every request of it, any
// key or none, in every process, and nothing of other scopes.
func TestScopeCooldown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("holds every key of the scope in every process", func(t *testing.T) {
		t.Parallel()
		l, b := setup(t, Config{})
		other := b.limiter(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Scope: "acme"}, 3*time.Second))
		for _, req := range []Request{acme("whatsapp", "c:1"), acme("telegram", ""), acme("", ""), noBudget(acme("messenger", ""))} {
			r := reserve(t, other, req)
			require.Equal(t, Reservation{Delay: 3 * time.Second, Reason: ReasonAccountCooldown}, public(r), "%+v", req)
		}
		require.Equal(t, Stats{RedisCalls: 1, LocalDenials: 3}, other.Stats(), "the front learned it from the first answer")
		require.Equal(t, Stats{RedisCalls: 1}, l.Stats())
		r := reserve(t, l, acme("whatsapp", ""))
		require.Equal(t, Reservation{Delay: 3 * time.Second, Reason: ReasonAccountCooldown}, public(r))
		require.Equal(t, Stats{RedisCalls: 1, LocalDenials: 1}, l.Stats(), "the front learned the one it set")

		left, reason, err := other.CooldownLeft(ctx, acme("whatsapp", "c:1").Target())
		require.NoError(t, err)
		require.Equal(t, 3*time.Second, left)
		require.Equal(t, ReasonAccountCooldown, reason)

		b.clock.Advance(3 * time.Second)
		require.Equal(t, Reservation{OK: true}, public(reserve(t, other, acme("whatsapp", "c:1"))))
		left, reason, err = other.CooldownLeft(ctx, Target{Scope: "acme"})
		require.NoError(t, err)
		require.Zero(t, left)
		require.Empty(t, reason)
	})

	t.Run("the longest cool-down wins, the broadest on a tie", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		full := acme("whatsapp", "c:1").Target()
		for _, c := range []struct {
			on     Target
			d      time.Duration
			reason string
		}{
			{Target{Scope: "acme", Key: "whatsapp", Recipient: "c:1"}, 2 * time.Second, ReasonRecipientCooldown},
			{Target{Scope: "acme", Key: "whatsapp"}, 2 * time.Second, ReasonCooldown},
			{Target{Scope: "acme"}, 2 * time.Second, ReasonAccountCooldown},
			{Target{Scope: "acme", Key: "whatsapp"}, 5 * time.Second, ReasonCooldown},
		} {
			require.NoError(t, l.Cooldown(ctx, c.on, c.d))
			left, reason, err := l.CooldownLeft(ctx, full)
			require.NoError(t, err)
			require.Equal(t, c.d, left)
			require.Equal(t, c.reason, reason)
			r := reserve(t, b2(t, l), acme("whatsapp", "c:1"))
			require.Equal(t, Reservation{Delay: c.d, Reason: c.reason}, public(r))
		}
	})

	t.Run("nothing of another scope or the unscoped keys", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Scope: "acme"}, time.Minute))
		beta := acme("whatsapp", "")
		beta.Scope = "beta"
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, beta)))
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, whatsapp)))
		left, _, err := l.CooldownLeft(ctx, Target{Scope: "beta"})
		require.NoError(t, err)
		require.Zero(t, left)
	})

	t.Run("a scope's channel cool-down holds that channel only", func(t *testing.T) {
		t.Parallel()
		l, _ := setup(t, Config{})
		require.NoError(t, l.Cooldown(ctx, Target{Scope: "acme", Key: "whatsapp"}, time.Minute))
		require.Equal(t, Reservation{Delay: time.Minute, Reason: ReasonCooldown}, public(reserve(t, l, acme("whatsapp", ""))))
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, acme("telegram", ""))), "the refused request took no budget")
		require.Equal(t, Reservation{OK: true}, public(reserve(t, l, whatsapp)))
	})
}

func TestInvalidScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, _ := setup(t, Config{})
	for _, scope := range []string{"Acme", "a b", "a:b", "{acme}", "acmé", "a/b", strings.Repeat("a", 65)} {
		req := acme("whatsapp", "")
		req.Scope = scope
		_, err := l.Reserve(ctx, req)
		require.ErrorIs(t, err, ErrInvalidScope, "%q", scope)
		require.ErrorIs(t, l.Cooldown(ctx, Target{Scope: scope}, time.Second), ErrInvalidScope)
		_, _, err = l.CooldownLeft(ctx, Target{Scope: scope, Key: "whatsapp"})
		require.ErrorIs(t, err, ErrInvalidScope)
		_, err = l.PenalizeRecipient(ctx, Target{Scope: scope, Key: "whatsapp", Recipient: "c:1"})
		require.ErrorIs(t, err, ErrInvalidScope)
	}
	for _, scope := range []string{"a", "clinic-sg", "a_b-9", strings.Repeat("z", 64)} {
		req := acme("whatsapp", "")
		req.Scope = scope
		_, err := l.Reserve(ctx, req)
		require.NoError(t, err, "%q", scope)
	}
	for name, req := range map[string]Request{
		"a budget without a scope":         {Key: "whatsapp", Budget: perMinute300},
		"a recipient without a key":        {Scope: "acme", Recipient: "c:1"},
		"a bad budget":                     {Scope: "acme", Budget: Limit{Rate: 1}},
		"neither a scope nor a key":        {},
		"a recipient and no key nor scope": {Recipient: "c:1"},
	} {
		_, err := l.Reserve(ctx, req)
		require.Error(t, err, name)
		require.False(t, errors.Is(err, ErrInvalidScope), name)
	}
	require.Equal(t, Stats{RedisCalls: 4}, l.Stats(), "only the valid requests reached Redis")
}

func TestSplitHashTag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		prefix, head, tail string
		ok                 bool
	}{
		{"{sendq}:rl:", "{sendq", "}:rl:", true},
		{"a{b}c{d}", "a{b", "}c{d}", true},
		{"x:{t", "", "", false},
		{"{}{x}:", "", "", false}, // Redis hashes such a key whole
		{"sendq:", "", "", false},
	} {
		head, tail, ok := splitHashTag(tt.prefix)
		require.Equal(t, []any{tt.head, tt.tail, tt.ok}, []any{head, tail, ok}, tt.prefix)
	}
	_, err := New(redis.NewClient(&redis.Options{}), Config{Prefix: "{}{x}:"})
	require.Error(t, err)
}
