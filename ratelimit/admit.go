package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Admit spaces the entry of n requests of scope into a shared queue at the
// pace of budget, behind those admitted before them in the same lane: it
// returns when the first may start, and the i-th (from 0) may start at
// first + i·budget.Interval(). A lane is one line of a scope's traffic
// ("t" for transactional, "b" for bulk), each spaced on its own.
//
// It takes nothing from the budget — Reserve does, as each request goes —
// and it is not a limit: it is the schedule a queue shared by many scopes
// needs, so that one scope's backlog waits in that scope's schedule instead
// of ahead of other scopes' requests in the queue. The schedule is Redis's
// clock, like every limit here; the returned times are Redis's.
//
// The requests start from from on (the zero time: now); their turn takes
// the lane's schedule there, so that a backlog due later still waits its
// turn then. A scope with no budget (the zero Limit) or an n below 1
// returns from without touching Redis.
func (l *Limiter) Admit(ctx context.Context, scope, lane string, budget Limit, n int, from time.Time) (time.Time, error) {
	if budget.IsZero() || n < 1 {
		return from, nil
	}
	if scope == "" {
		return time.Time{}, fmt.Errorf("ratelimit: admit: %w: a budget needs a scope", ErrInvalidScope)
	}
	if err := validScope(scope); err != nil {
		return time.Time{}, fmt.Errorf("ratelimit: admit: %w", err)
	}
	if err := budget.validate(); err != nil {
		return time.Time{}, fmt.Errorf("ratelimit: admit: %w", err)
	}
	l.redisCalls.Add(1)
	var fromUS int64
	if !from.IsZero() {
		fromUS = from.UnixMicro()
	}
	us, err := admitScript.Run(ctx, l.rdb, []string{l.space(scope).admission(lane)},
		budget.micros(), n, fromUS).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("ratelimit: admit %s: %w", scope, err)
	}
	return time.UnixMicro(us).UTC(), nil
}

// admitScript: KEYS 1 the lane's admission schedule; ARGV 1 the interval
// (µs), 2 how many to admit, 3 the earliest start (µs; 0 for now). The key holds the time the next request of
// the lane may start, and expires then. Returns the first one's start.
var admitScript = redis.NewScript(luaClock + `
local first = math.max(now, tonumber(ARGV[3]), tonumber(redis.call('GET', KEYS[1]) or '0'))
local next = first + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], int(next), 'PX', int(math.ceil((next - now) / 1000)))
return first
`)
