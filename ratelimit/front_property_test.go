package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFrontNeverGrants is the property test of the local front: random
// interleavings of requests, time steps and cool-downs from several Limiters
// (processes) on one miniredis, half of them in a scope with a budget and
// several keys. The reserved slots never put more than Rate+Burst−1 events
// into any window of the budget's, the channel's or a recipient's period, no
// Reserve succeeds under a cool-down, and whenever the front refuses by
// itself, Redis's own state shows it would have refused too, with at least
// as long a wait.
func TestFrontNeverGrants(t *testing.T) {
	t.Parallel()
	var localDenials, redisRefusals int
	byReason := map[string]int{}
	var mu sync.Mutex
	t.Run("seeds", func(t *testing.T) {
		for seed := range uint64(16) {
			t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
				t.Parallel()
				sim := newFrontSim(t, seed)
				for step := range 2000 {
					sim.step(step)
				}
				sim.requireLimits()
				mu.Lock()
				localDenials += sim.localDenials
				redisRefusals += sim.redisRefusals
				for reason, n := range sim.byReason {
					byReason[reason] += n
				}
				mu.Unlock()
			})
		}
	})
	t.Logf("local denials %d %v, Redis refusals %d", localDenials, byReason, redisRefusals)
	require.NotZero(t, redisRefusals, "Redis refused some requests itself")
	for _, reason := range []string{ReasonRate, ReasonCooldown, ReasonBudget, ReasonAccountCooldown} {
		require.NotZero(t, byReason[reason], "the front refused for %s", reason)
	}
}

// frontSim is one random interleaving of TestFrontNeverGrants and what it
// saw.
type frontSim struct {
	t       *testing.T
	rng     *rand.Rand
	b       *testBundle
	procs   []*Limiter
	maxWait time.Duration
	scope   string   // "" in an unscoped run
	keys    []string // with "" (budget only) in a scoped run
	budget  Limit
	channel Limit
	pace    Limit

	slots     map[Target][]time.Duration // granted slots by level: scope, key, recipient
	coolUntil map[Target]time.Duration   // by the Target cooled down

	localDenials, redisRefusals int
	byReason                    map[string]int // local denials
}

var simRecipients = []string{"", "c:1", "c:2", "c:3"}

// newFrontSim draws a run's limits and processes; odd seeds run in a scope.
func newFrontSim(t *testing.T, seed uint64) *frontSim {
	rng := rand.New(rand.NewPCG(seed, 0x5e9d))
	s := &frontSim{
		t:         t,
		rng:       rng,
		maxWait:   []time.Duration{50 * time.Millisecond, 300 * time.Millisecond, time.Second}[rng.IntN(3)],
		keys:      []string{"whatsapp"},
		channel:   Limit{Rate: 5 + rng.IntN(20), Per: time.Second, Burst: 1 + rng.IntN(3)},
		pace:      Limit{Rate: 1 + rng.IntN(3), Per: time.Second, Burst: 1 + rng.IntN(2)},
		slots:     map[Target][]time.Duration{},
		coolUntil: map[Target]time.Duration{},
		byReason:  map[string]int{},
	}
	if seed%2 == 1 {
		s.scope, s.keys = "acme", []string{"whatsapp", "telegram", ""}
		s.budget = Limit{Rate: s.channel.Rate/2 + rng.IntN(2*s.channel.Rate), Per: time.Second, Burst: 1 + rng.IntN(2)}
	}
	_, s.b = setup(t, Config{})
	s.procs = make([]*Limiter, 2+rng.IntN(3))
	for i := range s.procs {
		s.procs[i] = s.b.limiter(t, Config{MaxWait: s.maxWait})
	}
	t.Logf("scope %q, budget %v, channel %v, pace %v, max wait %v, %d processes",
		s.scope, s.budget, s.channel, s.pace, s.maxWait, len(s.procs))
	return s
}

// target draws a Target of the run: a key (or none, in a scope) and a
// recipient of it (or none).
func (s *frontSim) target() Target {
	t := Target{Scope: s.scope, Key: s.keys[s.rng.IntN(len(s.keys))]}
	if t.Key != "" {
		t.Recipient = simRecipients[s.rng.IntN(len(simRecipients))]
	}
	return t
}

// step moves the clock, sets a cool-down or reserves.
func (s *frontSim) step(step int) {
	t, rng := s.t, s.rng
	switch n := rng.IntN(100); {
	case n < 30:
		s.b.clock.Advance(time.Duration(rng.Int64N(int64(2 * s.channel.Interval()))))
	case n < 31:
		s.b.clock.Advance(time.Duration(rng.Int64N(int64(2 * time.Second))))
	case n < 33:
		on := s.target()
		d := time.Duration(rng.Int64N(int64(700 * time.Millisecond)))
		require.NoError(t, s.procs[rng.IntN(len(s.procs))].Cooldown(context.Background(), on, d))
		s.coolUntil[on] = max(s.coolUntil[on], since(s.b.clock)+d.Truncate(time.Microsecond))
	default:
		on := s.target()
		req := Request{Scope: on.Scope, Budget: s.budget, Key: on.Key, Recipient: on.Recipient, RecipientLimit: s.pace}
		if on.Key != "" {
			req.Limit = s.channel
		}
		s.reserve(req, step)
	}
}

// reserve makes req on a random process and checks the answer.
func (s *frontSim) reserve(req Request, step int) {
	t := s.t
	p := s.procs[s.rng.IntN(len(s.procs))]
	before := p.Stats().LocalDenials
	r, err := p.Reserve(context.Background(), req)
	require.NoError(t, err)
	now := since(s.b.clock)
	switch {
	case p.Stats().LocalDenials > before:
		s.localDenials++
		s.byReason[r.Reason]++
		require.False(t, r.OK)
		s.requireRedisRefuses(req, r, now, "step %d", step)
		return
	case !r.OK:
		s.redisRefusals++
		return
	}
	require.LessOrEqual(t, r.Delay, s.maxWait, "step %d", step)
	at := slot(t, r)
	for _, lv := range levelsOf(req.Target()) {
		require.LessOrEqual(t, s.coolUntil[lv], now, "step %d: granted under %+v's cool-down", step, lv)
		s.slots[lv] = append(s.slots[lv], at)
	}
}

// levelsOf lists the Targets that hold t: its scope, its key, its recipient.
func levelsOf(t Target) []Target {
	var out []Target
	if t.Scope != "" {
		out = append(out, Target{Scope: t.Scope})
	}
	if t.Key != "" {
		out = append(out, Target{Scope: t.Scope, Key: t.Key})
	}
	if t.Recipient != "" {
		out = append(out, t)
	}
	return out
}

// requireLimits checks every level's slots against its limit.
func (s *frontSim) requireLimits() {
	t := s.t
	require.NotEmpty(t, s.slots)
	for lv, slots := range s.slots {
		limit := s.channel
		switch {
		case lv.Key == "":
			limit = s.budget
		case lv.Recipient != "":
			limit = s.pace
		}
		require.LessOrEqual(t, maxInWindow(slots, limit.Per), limit.Rate+limit.burst()-1, "%+v", lv)
	}
}

// requireRedisRefuses checks a local refusal r of req at now against the
// state in Redis: Redis too would refuse, and would ask a wait no shorter.
func (s *frontSim) requireRedisRefuses(req Request, r Reservation, now time.Duration, msgAndArgs ...any) {
	t := s.t
	nowUS := epoch.Add(now).UnixMicro()
	stored := func(key string) int64 {
		v, err := s.b.mr.Get(key)
		if err != nil {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(t, err)
		return n
	}
	ks := s.procs[0].space(req.Scope)
	var key string
	var limit Limit
	switch r.Reason {
	case ReasonAccountCooldown:
		key = ks.scopeCooldown()
	case ReasonCooldown:
		key = ks.key("c:", req.Key, "")
	case ReasonBudget:
		key, limit = ks.budget(), req.Budget
	case ReasonRate:
		key, limit = ks.key("t:", req.Key, ""), req.Limit
	default:
		require.Failf(t, "local refusal with reason "+r.Reason, "%v", msgAndArgs)
	}
	if isCooldown(r.Reason) {
		left := micros(stored(key) - nowUS)
		require.Positive(t, left, msgAndArgs...)
		require.LessOrEqual(t, r.Delay, left+time.Microsecond, msgAndArgs...) // Redis's TIME reads whole µs
		return
	}
	wait := micros(stored(key) - limit.tolerance() - nowUS)
	require.Greater(t, wait, s.maxWait, msgAndArgs...)
	require.LessOrEqual(t, r.Delay, wait+time.Microsecond, msgAndArgs...)
}
