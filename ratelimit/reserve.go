package ratelimit

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// reserveCall is one reservation on its way to Redis.
type reserveCall struct {
	l *Limiter
	r Request
	// scope and key are the local fronts of the request's scope and key
	// levels; nil where the request has no such level.
	scope, key *front
	sent       time.Time
	priority   bool
	keys       []string
	args       []any
}

// prepare checks r and asks the local fronts; it returns the call to make,
// or nil with the answer (a refusal by a front, or an error).
func (l *Limiter) prepare(r Request) (*reserveCall, Reservation, error) {
	if err := r.validate(); err != nil {
		return nil, Reservation{}, err
	}
	maxWait, priority := l.maxWait, r.MaxWait > l.maxWait
	if priority {
		maxWait = min(r.MaxWait, maxSpan)
	}
	c := &reserveCall{l: l, r: r, priority: priority}
	if r.Scope != "" {
		c.scope = l.front(Target{Scope: r.Scope})
	}
	if r.Key != "" {
		c.key = l.front(Target{Scope: r.Scope, Key: r.Key})
	}
	c.sent = l.now()
	if !priority {
		if res, ok := c.ask(); ok {
			l.localDenials.Add(1)
			res.at = c.sent.Add(res.Delay)
			return nil, res, nil
		}
	}
	// The levels present, broadest first, as reserveScript reads them.
	ks := l.space(r.Scope)
	c.keys = make([]string, 0, 6)
	c.args = append(make([]any, 0, 13), maxWait.Microseconds())
	level := func(schedule, cooldown string, limit Limit, rate, cool int) {
		c.keys = append(c.keys, schedule, cooldown)
		c.args = append(c.args, limit.micros(), limit.tolerance(), rate, cool)
	}
	if r.Scope != "" {
		level(ks.budget(), ks.scopeCooldown(), r.Budget, codeBudget, codeScopeCooldown)
	}
	if r.Key != "" {
		level(ks.key("t:", r.Key, ""), ks.key("c:", r.Key, ""), r.Limit, codeRate, codeCooldown)
	}
	if r.Recipient != "" {
		level(ks.key("rt:", r.Key, r.Recipient), ks.key("rc:", r.Key, r.Recipient), r.RecipientLimit,
			codeRecipientRate, codeRecipientCooldown)
	}
	c.args = append(c.args, l.probeLease.Microseconds())
	l.redisCalls.Add(1)
	return c, Reservation{}, nil
}

// validate rejects requests Reserve cannot take.
func (r Request) validate() error {
	if err := r.Target().validate("reserve"); err != nil {
		return err
	}
	if r.Scope == "" && !r.Budget.IsZero() {
		return fmt.Errorf("ratelimit: reserve %q: a budget needs a scope", r.Key)
	}
	for _, lv := range []struct {
		limit Limit
		what  string
	}{{r.Budget, "the budget of"}, {r.Limit, "the limit of"}, {r.RecipientLimit, "recipients of"}} {
		if err := lv.limit.validate(); err != nil {
			return fmt.Errorf("%w %v for %s %s: %v", ErrInvalidLimit, lv.limit, lv.what, r.Target().name(), err)
		}
	}
	return nil
}

// ask asks the scope's and the key's fronts whether Redis surely refuses
// the request now; a refusal is the stronger of theirs.
func (c *reserveCall) ask() (Reservation, bool) {
	var res Reservation
	refused := false
	for _, lv := range []struct {
		f     *front
		limit Limit
	}{{c.scope, c.r.Budget}, {c.key, c.r.Limit}} {
		if lv.f == nil {
			continue
		}
		if got, ok := lv.f.check(lv.limit, c.sent, c.l.maxWait); ok && (!refused || stronger(got, res)) {
			res, refused = got, true
		}
	}
	return res, refused
}

// stronger reports whether the front's refusal a says more than b: Redis
// answers a cool-down before it looks at schedules, and otherwise the
// longest wait; either way it is at least what each front knows.
func stronger(a, b Reservation) bool {
	if isCooldown(a.Reason) != isCooldown(b.Reason) {
		return isCooldown(a.Reason)
	}
	return a.Delay > b.Delay
}

// done reads Redis's answer and teaches the fronts.
func (c *reserveCall) done(cmd *redis.Cmd) (Reservation, error) {
	v, err := cmd.Int64Slice()
	if err != nil {
		return Reservation{}, fmt.Errorf("ratelimit: reserve %s: %w", c.r.Target(), err)
	}
	if len(v) != 5+len(c.keys)/2 || v[2] < 0 || v[2] >= int64(len(reasons)) {
		return Reservation{}, fmt.Errorf("ratelimit: reserve %s: unexpected answer %v", c.r.Target(), v)
	}
	recv := c.l.now()
	res := Reservation{
		OK:       v[0] == 1,
		Delay:    micros(v[1]),
		Reason:   reasons[v[2]],
		Probe:    v[4] == 1,
		redisNow: v[3],
	}
	res.at = decidedAt(c.sent, recv, v[3]).Add(res.Delay)
	if !c.priority {
		holds := v[5:] // the levels', broadest first
		if c.scope != nil {
			c.scope.learn(c.r.Budget, c.sent, recv, res, micros(holds[0]), c.l.maxWait)
			holds = holds[1:]
		}
		if c.key != nil {
			c.key.learn(c.r.Limit, c.sent, recv, res, micros(holds[0]), c.l.maxWait)
		}
	}
	return res, nil
}

// decidedAt places Redis's clock reading redisNow (µs since the Unix epoch)
// on the local clock, within [sent, recv]: the request left at sent and the
// answer came back at recv, so Redis decided in between. The result keeps
// sent's monotonic reading.
func decidedAt(sent, recv time.Time, redisNow int64) time.Time {
	off := time.UnixMicro(redisNow).Sub(sent) // wall clocks: UnixMicro has no monotonic reading
	return sent.Add(min(max(off, 0), recv.Sub(sent)))
}
