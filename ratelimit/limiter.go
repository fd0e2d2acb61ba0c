package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
)

// hashTag matches a Redis Cluster hash tag: the first {…} with something in it.
var hashTag = regexp.MustCompile(`\{[^}]+\}`)

// Config configures a Limiter. Zero values mean the documented defaults.
type Config struct {
	// Prefix starts every key. It must carry a hash tag ({…}) so that all
	// keys of one call share a cluster slot. Defaults to DefaultPrefix.
	Prefix string
	// Now is the local clock, used by the local front only: every decision
	// Redis makes uses Redis's TIME, so that all processes share one clock.
	// Defaults to time.Now.
	Now func() time.Time
	// MaxWait is the longest wait Reserve commits to; longer waits are
	// reported, not reserved. Defaults to DefaultMaxWait (500 ms).
	MaxWait time.Duration
}

// Limiter applies rate limits and cool-downs shared by every process that
// uses the same Redis. It is safe for concurrent use.
type Limiter struct {
	rdb     redis.UniversalClient
	prefix  string
	now     func() time.Time
	maxWait time.Duration

	mu     sync.Mutex
	fronts map[string]*front

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
	if !hashTag.MatchString(cfg.Prefix) {
		return nil, fmt.Errorf("ratelimit: prefix %q has no hash tag such as {sendq}: Redis Cluster needs one to run the scripts", cfg.Prefix)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
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
		rdb:     rdb,
		prefix:  cfg.Prefix,
		now:     cfg.Now,
		maxWait: cfg.MaxWait,
		fronts:  map[string]*front{},
	}, nil
}

// Request names what Reserve takes a slot for.
type Request struct {
	// Key is what the limit applies to, such as the channel name
	// "whatsapp" (required). Keys should come from a small set: the Limiter
	// keeps a little local state for each.
	Key string
	// Limit is the key's limit; the zero Limit means none.
	Limit Limit
	// Recipient names one recipient of Key, such as "c:123" (optional).
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
	// Reason says what asked for the wait: "" (none), ReasonRate,
	// ReasonRecipientRate, ReasonCooldown or ReasonRecipientCooldown.
	Reason string

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

// Reserve takes one slot for Key and Recipient in one atomic Lua script (GCRA
// with reservation, like x/time/rate's Reserve but shared through Redis): if
// a cool-down is active on Key or on Key+Recipient it reserves nothing and
// returns OK=false, Delay = the remaining cool-down; otherwise it computes the
// earliest time both the channel and the recipient allow, and if that is
// within MaxWait it commits both (OK=true, Delay = time until the slot) else
// commits neither (OK=false, Delay = the wait).
//
// With both limits zero Reserve still checks the cool-downs, so a caller
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

// reserveCall is one reservation on its way to Redis.
type reserveCall struct {
	l        *Limiter
	r        Request
	f        *front
	sent     time.Time
	priority bool
	keys     []string
	args     []any
}

// prepare checks r and asks the local front; it returns the call to make,
// or nil with the answer (a refusal by the front, or an error).
func (l *Limiter) prepare(r Request) (*reserveCall, Reservation, error) {
	if r.Key == "" {
		return nil, Reservation{}, errors.New("ratelimit: reserve: the key is empty")
	}
	if err := r.Limit.validate(); err != nil {
		return nil, Reservation{}, fmt.Errorf("%w %v for %q: %v", ErrInvalidLimit, r.Limit, r.Key, err)
	}
	if err := r.RecipientLimit.validate(); err != nil {
		return nil, Reservation{}, fmt.Errorf("%w %v for recipients of %q: %v", ErrInvalidLimit, r.RecipientLimit, r.Key, err)
	}
	maxWait, priority := l.maxWait, r.MaxWait > l.maxWait
	if priority {
		maxWait = min(r.MaxWait, maxSpan)
	}
	f := l.front(r.Key)
	sent := l.now()
	if !priority {
		if res, ok := f.check(r.Limit, sent, l.maxWait); ok {
			l.localDenials.Add(1)
			res.at = sent.Add(res.Delay)
			return nil, res, nil
		}
	}
	keys := []string{l.key("t:", r.Key, ""), l.key("c:", r.Key, "")}
	var ri, rtol int64
	if r.Recipient != "" {
		keys = append(keys, l.key("rt:", r.Key, r.Recipient), l.key("rc:", r.Key, r.Recipient))
		ri, rtol = r.RecipientLimit.micros(), r.RecipientLimit.tolerance()
	}
	l.redisCalls.Add(1)
	return &reserveCall{l: l, r: r, f: f, sent: sent, priority: priority, keys: keys,
		args: []any{r.Limit.micros(), r.Limit.tolerance(), ri, rtol, maxWait.Microseconds()}}, Reservation{}, nil
}

// done reads Redis's answer and teaches the front.
func (c *reserveCall) done(cmd *redis.Cmd) (Reservation, error) {
	v, err := cmd.Int64Slice()
	if err != nil {
		return Reservation{}, fmt.Errorf("ratelimit: reserve %q: %w", c.r.Key, err)
	}
	if len(v) != 5 || v[2] < 0 || v[2] >= int64(len(reasons)) {
		return Reservation{}, fmt.Errorf("ratelimit: reserve %q: unexpected answer %v", c.r.Key, v)
	}
	recv := c.l.now()
	res := Reservation{
		OK:       v[0] == 1,
		Delay:    micros(v[1]),
		Reason:   reasons[v[2]],
		redisNow: v[4],
	}
	res.at = decidedAt(c.sent, recv, v[4]).Add(res.Delay)
	if !c.priority {
		c.f.learn(c.r.Limit, c.sent, recv, res, micros(v[3]), c.l.maxWait)
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

// key names a Redis key: the prefix, a kind, the limiter key and, for
// per-recipient keys, the recipient. Keys and recipients are joined with
// ":", so a Key that itself holds ":" could share a recipient's keys with
// another Key; the channel names sendq uses hold none.
func (l *Limiter) key(kind, key, recipient string) string {
	s := l.prefix + kind + key
	if recipient != "" {
		s += ":" + recipient
	}
	return s
}

// micros converts microseconds to a Duration.
func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }
