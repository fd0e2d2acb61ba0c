package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The local front saves round trips when Redis's answer is surely "wait".
// A Limiter keeps one front per key (of a scope, or unscoped) and one per
// scope, whose limit is the scope's budget; what follows says "key" for
// either. A request asks the fronts of its levels, and is refused when one
// of them refuses it.
//
// Why it can never let more through than Redis allows: it has no way to grant.
// check answers OK=false or sends the caller on to Redis; every slot is taken
// by the Lua script, which alone enforces the limit. So the front is safe
// whatever it knows. The reasoning below secures the other direction: that it
// does not turn away a caller Redis would have served, and that the Delay it
// gives is no longer than the one Redis would give.
//
// Let sent be the local time a request left and R the Redis time the script
// ran (R comes after sent). A request the front might refuse at local time
// now would reach Redis at R' ≤ now+δ, δ being the trip to Redis, which the
// front bounds by the last round trip it measured for the key, m. So it
// reasons at now' = now+m, and every bound below compares durations on the
// local clock with durations on Redis's, never absolute times, so that clock
// offsets between hosts do not matter. It knows three things about a key:
//
//  1. A cool-down with d left, reported (or set) by a request sent at sent,
//     ends at R+d ≥ sent+d, and cool-downs only get longer: a request
//     reaching Redis before sent+d is refused with at least sent+d−now' left.
//
//  2. A refusal by the key's schedule with wait W: the key's TAT was R+W+τ
//     and only grows, so a request reaching Redis at R' waits at least
//     W−(R'−R) ≥ sent+W−now', more than MaxWait while now' < sent+W−MaxWait.
//
//  3. This process's own grants, counted by an x/time/rate.Limiter at the
//     key's rate (one token per interval T) with burst b = ⌈MaxWait/T⌉+Burst,
//     each grant taking one token at the local time its request was sent. If
//     the bucket holds x < 1 tokens at now', then for some s it granted
//     g = b + (now'−s)/T − x requests sent after s; each one, reaching Redis
//     after s, moved the key's TAT by at least T from a point no earlier than
//     s, so TAT ≥ s+g·T = now' + b·T − x·T, and a request reaching Redis by
//     now' waits at least TAT − τ − now' ≥ ⌈MaxWait/T⌉·T + (1−x)·T > MaxWait:
//     refused, with a wait of at least MaxWait + (1−x)·T, the Delay the front
//     reports. Other processes' grants only push TAT further.

// front is one key's (or one scope's) local state: what this process knows
// Redis would answer.
type front struct {
	// rateReason and coolReason are the Reasons of its refusals: by the
	// schedule, by a cool-down.
	rateReason, coolReason string

	mu sync.Mutex
	// limit is the key's limit that lim and the rate refusal were learned
	// under; a request with a different limit starts them afresh.
	limit Limit
	// interval is limit's emission interval as Redis applies it.
	interval time.Duration
	// lim counts this process's grants (3 above); nil for the zero Limit.
	lim *rate.Limiter
	// coolUntil is when the last cool-down known ends (1 above).
	coolUntil time.Time
	// rateUntil is when the last schedule refusal known stops holding, and
	// rateReady when its wait ends (2 above).
	rateUntil, rateReady time.Time
	// rtt is the last round trip to Redis measured for the key (m above).
	rtt time.Duration
}

// tokenSlack keeps float rounding in x/time/rate from making the front refuse
// at a token count that is, exactly, one.
const tokenSlack = 1e-6

// front returns the local state of t's key, or of its scope when t has no
// key, made on first use. t.Recipient is ignored.
func (l *Limiter) front(t Target) *front {
	t.Recipient = ""
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.fronts[t]
	if f == nil {
		f = &front{rateReason: ReasonRate, coolReason: ReasonCooldown}
		if t.Key == "" {
			f.rateReason, f.coolReason = ReasonBudget, ReasonAccountCooldown
		}
		l.fronts[t] = f
	}
	return f
}

// isCooldown reports whether reason is a cool-down's.
func isCooldown(reason string) bool {
	return reason == ReasonCooldown || reason == ReasonRecipientCooldown || reason == ReasonAccountCooldown
}

// use makes limit the key's limit; f.mu must be held. A change forgets what
// was learned under the old limit, cool-downs apart.
func (f *front) use(limit Limit, maxWait time.Duration) {
	if f.limit.same(limit) {
		return
	}
	f.limit = limit
	f.lim = nil
	f.rateUntil, f.rateReady = time.Time{}, time.Time{}
	if limit.IsZero() {
		return
	}
	f.interval = micros(limit.micros())
	burst := int((maxWait+f.interval-1)/f.interval) + limit.burst()
	f.lim = rate.NewLimiter(rate.Every(f.interval), burst)
}

// check answers OK=false, with true, when Redis surely would refuse a
// request with this limit at now; otherwise the caller must ask Redis.
func (f *front) check(limit Limit, now time.Time, maxWait time.Duration) (Reservation, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.use(limit, maxWait)
	now = now.Add(f.rtt)
	if now.Before(f.coolUntil) {
		return Reservation{Delay: f.coolUntil.Sub(now), Reason: f.coolReason}, true
	}
	if f.lim == nil {
		return Reservation{}, false
	}
	if now.Before(f.rateUntil) {
		return Reservation{Delay: f.rateReady.Sub(now), Reason: f.rateReason}, true
	}
	if x := f.lim.TokensAt(now); x < 1-tokenSlack {
		wait := maxWait + time.Duration((1-x)*float64(f.interval))
		return Reservation{Delay: wait, Reason: f.rateReason}, true
	}
	return Reservation{}, false
}

// learn takes in Redis's answer res to a request with limit sent at local
// time sent and answered at recv; hold is what the key alone imposed (its
// cool-down in a cool-down's answer, else the wait its schedule asked).
func (f *front) learn(limit Limit, sent, recv time.Time, res Reservation, hold, maxWait time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rtt = max(recv.Sub(sent), 0)
	switch {
	case isCooldown(res.Reason):
		f.cooldown(sent, hold)
	case !f.limit.same(limit) || f.lim == nil:
		// Another limit took over meanwhile: what this answer says about the
		// schedule no longer applies.
	case res.OK:
		f.lim.ReserveN(sent, 1)
	case hold > maxWait:
		if until := sent.Add(hold - maxWait); until.After(f.rateUntil) {
			f.rateUntil, f.rateReady = until, sent.Add(hold)
		}
	}
}

// learnCooldown records a cool-down of d on the key reported for a request
// sent at local time sent.
func (f *front) learnCooldown(sent time.Time, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cooldown(sent, d)
}

// forgetCooldown drops the cool-down known: a hold was lifted.
func (f *front) forgetCooldown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.coolUntil = time.Time{}
}

// cooldown is learnCooldown with f.mu held.
func (f *front) cooldown(sent time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	if until := sent.Add(d); until.After(f.coolUntil) {
		f.coolUntil = until
	}
}
