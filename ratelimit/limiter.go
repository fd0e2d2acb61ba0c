package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key the Limiter writes. Its hash tag {sendq}
// puts all of them on one Redis Cluster slot, which a script touching
// several keys requires.
const DefaultPrefix = "{sendq}:rl:"

// DefaultMaxWait is the longest wait Reserve commits to unless
// Config.MaxWait says otherwise.
const DefaultMaxWait = 500 * time.Millisecond

// The reasons a Reservation gives for a wait.
const (
	// ReasonRate: the key's (channel's) limit asks for the wait.
	ReasonRate = "rate"
	// ReasonRecipientRate: the recipient's pace asks for the wait.
	ReasonRecipientRate = "recipient_rate"
	// ReasonCooldown: a cool-down holds the whole key.
	ReasonCooldown = "cooldown"
	// ReasonRecipientCooldown: a cool-down holds this recipient of the key.
	ReasonRecipientCooldown = "recipient_cooldown"
	// ReasonBudget: the scope's (account's) budget asks for the wait.
	ReasonBudget = "budget"
	// ReasonAccountCooldown: a cool-down holds the whole scope (account).
	ReasonAccountCooldown = "account_cooldown"
)

// Config configures a Limiter. Zero values mean the documented defaults.
type Config struct {
	// Prefix starts every unscoped key. It must carry a hash tag ({…}) so
	// that all keys of one call share a cluster slot. A scope's keys start
	// with the same prefix with ":a:<scope>" inside the tag, so that each
	// scope has a slot of its own: "{sendq:a:<scope>}:rl:" by default.
	// Defaults to DefaultPrefix.
	Prefix string
	// Now is the local clock, used by the local front only: every decision
	// Redis makes uses Redis's TIME, so that all processes share one clock.
	// Defaults to time.Now.
	Now func() time.Time
	// MaxWait is the longest wait Reserve commits to; longer waits are
	// reported, not reserved. Defaults to DefaultMaxWait (500 ms).
	MaxWait time.Duration
	// ProbeLease is how long the probe of a hold (see Hold) keeps every
	// other request of the held level waiting, unless its caller reports
	// the answer first: the longest a probe's request may take. Defaults
	// to 15 s.
	ProbeLease time.Duration
}

// Limiter applies rate limits and cool-downs shared by every process that
// uses the same Redis. It is safe for concurrent use.
type Limiter struct {
	rdb        redis.UniversalClient
	prefix     string
	tagHead    string // prefix up to its hash tag's "}", where a scope goes
	tagTail    string // the rest of prefix
	now        func() time.Time
	maxWait    time.Duration
	probeLease time.Duration

	mu     sync.Mutex
	fronts map[Target]*front // by scope and key, recipients apart

	redisCalls   atomic.Uint64
	localDenials atomic.Uint64
}

// New returns a Limiter on rdb, which it does not close.
func New(rdb redis.UniversalClient, cfg Config) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("ratelimit: a Redis client is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	head, tail, ok := splitHashTag(cfg.Prefix)
	if !ok {
		return nil, fmt.Errorf("ratelimit: prefix %q has no hash tag such as {sendq}: Redis Cluster needs one to run the scripts", cfg.Prefix)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ProbeLease == 0 {
		cfg.ProbeLease = 15 * time.Second
	}
	if cfg.ProbeLease < 0 || cfg.ProbeLease > maxSpan {
		return nil, fmt.Errorf("ratelimit: ProbeLease %v is outside 0..%v", cfg.ProbeLease, maxSpan)
	}
	switch {
	case cfg.MaxWait == 0:
		cfg.MaxWait = DefaultMaxWait
	case cfg.MaxWait < 0:
		return nil, fmt.Errorf("ratelimit: MaxWait %v is negative", cfg.MaxWait)
	case cfg.MaxWait > maxSpan:
		return nil, fmt.Errorf("ratelimit: MaxWait %v is over %v", cfg.MaxWait, maxSpan)
	}
	return &Limiter{
		rdb:        rdb,
		prefix:     cfg.Prefix,
		tagHead:    head,
		tagTail:    tail,
		now:        cfg.Now,
		maxWait:    cfg.MaxWait,
		probeLease: cfg.ProbeLease,
		fronts:     map[Target]*front{},
	}, nil
}

// Request names what Reserve takes a slot for: a slot of the Scope's
// Budget, of the Key's Limit and of the Recipient's pace, all at once.
type Request struct {
	// Scope is the account the request is made for: 1-64 of a-z, 0-9, _
	// and - (others: an error wrapping ErrInvalidScope). Its Budget,
	// cool-down and keys are its own, under a Redis Cluster hash tag of its
	// own. "" is no scope: no budget, the unscoped keys. Scopes and Keys should come from small sets: the Limiter keeps
	// a little local state for each.
	Scope string
	// Budget is the Scope's limit, taken by every request of the Scope
	// whatever its Key; the zero Limit means none. It needs a Scope. With
	// Burst 1 (the default) its slots are at least Budget.Interval() apart,
	// so no window of length Per holds more than Rate of them (one more
	// where both ends fall on a slot) and no second more than
	// ceil(Rate·1s/Per)+1.
	Budget Limit
	// Key is what Limit applies to, such as the channel name "whatsapp".
	// Required without a Scope; with one, "" asks for a slot of the Budget
	// alone (a request that no channel limit covers).
	Key string
	// Limit is the key's limit; the zero Limit means none.
	Limit Limit
	// Recipient names one recipient of Key, such as "c:123" (optional;
	// it needs a Key).
	Recipient string
	// RecipientLimit is the pace for each recipient of Key; the zero Limit
	// means none. It applies only when Recipient is set.
	RecipientLimit Limit
	// MaxWait, when longer than Config.MaxWait, lets this request reserve
	// further ahead: a request that reserves up to 1 s while others reserve
	// up to 500 ms is served at the end of their horizon, ahead of those
	// still asking — a priority lane. Such requests skip the local front
	// (whose reasoning assumes Config.MaxWait). Zero means Config.MaxWait.
	MaxWait time.Duration
}

// Reservation is Reserve's answer.
type Reservation struct {
	// Delay is how long to wait before acting (0: go now).
	Delay time.Duration
	// OK true: a slot is reserved at now+Delay — wait Delay, then act.
	// OK false: nothing is reserved — come back after Delay.
	OK bool
	// Reason says what asked for the wait: "" (none), ReasonBudget,
	// ReasonRate, ReasonRecipientRate, ReasonAccountCooldown,
	// ReasonCooldown or ReasonRecipientCooldown.
	Reason string
	// Probe: the slot is the probe of a hold (see Limiter.Hold) whose time
	// has come. Every other request of the held level waits until the
	// caller reports the probe's answer — Unhold when it shows the cause
	// gone, Hold again when not — or until Config.ProbeLease passes.
	Probe bool

	// at is when Delay ends on the local clock (see At).
	at time.Time
	// redisNow is Redis's clock (µs since the Unix epoch) when the script
	// decided; 0 when the local front answered. Tests place slots with it.
	redisNow int64
}

// At is when Delay ends, on the local clock (Config.Now): for OK=true the
// time of the reserved slot. Acting at At rather than Delay after the answer
// arrived keeps a slow answer from making the act late. Redis decided at
// some instant between the request leaving and the answer arriving; At takes
// Redis's own clock for that instant when it falls in between (one host, or
// hosts whose clocks agree), else the nearer end, so it is never off by
// more than the round trip.
func (r Reservation) At() time.Time { return r.at }

// Stats counts what a Limiter has done since New.
type Stats struct {
	// RedisCalls counts round trips to Redis, by every method.
	RedisCalls uint64
	// LocalDenials counts Reserve answers the local front gave without a
	// round trip (always OK=false).
	LocalDenials uint64
}

// Stats returns the Limiter's counters.
func (l *Limiter) Stats() Stats {
	return Stats{RedisCalls: l.redisCalls.Load(), LocalDenials: l.localDenials.Load()}
}

// Reserve takes one slot for r in one atomic Lua script (GCRA with
// reservation, like x/time/rate's Reserve but shared through Redis), of
// every level at once: the Scope's Budget, the Key's Limit and the
// Recipient's pace. If a cool-down holds the Scope, the Key or the
// Recipient it reserves nothing and returns OK=false, Delay = the longest
// cool-down left. Otherwise the slot is the latest of the times the levels
// allow: if that is within MaxWait every level's schedule advances for it
// (OK=true, Delay = time until the slot), else none does (OK=false, Delay =
// the wait), and Reason names the level that asked for the wait.
//
// With every limit zero Reserve still checks the cool-downs, so a caller
// with limits off still honours a 429. Before asking Redis it consults the
// local front, which may answer OK=false by itself when Redis surely would
// (see the package documentation); it never grants a slot by itself.
// Being rate limited is a result, not an error: errors are for bad requests
// and Redis failures.
func (l *Limiter) Reserve(ctx context.Context, r Request) (Reservation, error) {
	c, res, err := l.prepare(r)
	if c == nil {
		return res, err
	}
	return c.done(reserveScript.Run(ctx, l.rdb, c.keys, c.args...))
}

// ReserveIn is Reserve queued on the pipeline p, to go in one round trip with
// other commands; call the returned function after p.Exec for the answer.
// When the local front answers, nothing is queued.
func (l *Limiter) ReserveIn(ctx context.Context, p redis.Pipeliner, r Request) func() (Reservation, error) {
	c, res, err := l.prepare(r)
	if c == nil {
		return func() (Reservation, error) { return res, err }
	}
	cmd := reserveScript.EvalSha(ctx, p, c.keys, c.args...)
	return func() (Reservation, error) {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") { // Redis restarted: load it
			return c.done(reserveScript.Run(ctx, l.rdb, c.keys, c.args...))
		}
		return c.done(cmd)
	}
}

// micros converts microseconds to a Duration.
func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
