package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The recipient penalty ladder (PenalizeRecipient): 1 s, 4 s, 16 s, 64 s, …
// up to an hour, counted again from 1 s after an hour without penalties.
const (
	penaltyBase   = time.Second
	penaltyFactor = 4
	penaltyCap    = time.Hour
	penaltyDecay  = time.Hour
)

// Cooldown makes every process hold key (and, if recipient != "", only that
// recipient of key) for d: no Reserve succeeds until it ends. It extends,
// never shortens, one already running. Used after a 429 with Retry-After.
// A d of zero or less does nothing.
func (l *Limiter) Cooldown(ctx context.Context, key, recipient string, d time.Duration) error {
	if key == "" {
		return errors.New("ratelimit: cooldown: the key is empty")
	}
	if d <= 0 {
		return nil
	}
	d = min(d, maxSpan)
	kind := "c:"
	if recipient != "" {
		kind = "rc:"
	}
	sent := l.now()
	l.redisCalls.Add(1)
	// The answer (what is left of the cool-down) may exceed d.
	us, err := cooldownScript.Run(ctx, l.rdb, []string{l.key(kind, key, recipient)}, ceilMicros(d)).Int64()
	if err != nil {
		return fmt.Errorf("ratelimit: cooldown %q: %w", key, err)
	}
	if recipient == "" {
		l.learnCooldown(key, sent, micros(us))
	}
	return nil
}

// CooldownLeft reports the longest remaining cool-down on key and on
// key+recipient (0 if none) and its reason (ReasonCooldown or
// ReasonRecipientCooldown, "" if none): the cheap check a caller makes after
// sleeping on a reservation. It always asks Redis, which knows the cool-downs
// other processes set.
func (l *Limiter) CooldownLeft(ctx context.Context, key, recipient string) (time.Duration, string, error) {
	if key == "" {
		return 0, "", errors.New("ratelimit: cooldown left: the key is empty")
	}
	keys := []string{l.key("c:", key, "")}
	if recipient != "" {
		keys = append(keys, l.key("rc:", key, recipient))
	}
	sent := l.now()
	l.redisCalls.Add(1)
	v, err := leftScript.Run(ctx, l.rdb, keys).Int64Slice()
	if err != nil {
		return 0, "", fmt.Errorf("ratelimit: cooldown left %q: %w", key, err)
	}
	if len(v) != 3 || v[1] < 0 || v[1] >= int64(len(reasons)) {
		return 0, "", fmt.Errorf("ratelimit: cooldown left %q: unexpected answer %v", key, v)
	}
	l.learnCooldown(key, sent, micros(v[2]))
	return micros(v[0]), reasons[v[1]], nil
}

// PenalizeRecipient is for the WhatsApp pair limit (Meta 131056): the n-th
// penalty in a row for that recipient sets a recipient cool-down of 4^n
// seconds (n from 0: 1 s, 4 s, 16 s, 64 s, …, capped at 1 h); the count
// decays after 1 h without penalties. Returns the cool-down set. Like
// Cooldown, it never shortens a longer cool-down already running.
func (l *Limiter) PenalizeRecipient(ctx context.Context, key, recipient string) (time.Duration, error) {
	if key == "" || recipient == "" {
		return 0, errors.New("ratelimit: penalize recipient: the key and the recipient are required")
	}
	keys := []string{l.key("pn:", key, recipient), l.key("rc:", key, recipient)}
	l.redisCalls.Add(1)
	us, err := penalizeScript.Run(ctx, l.rdb, keys,
		ceilMicros(penaltyBase), penaltyFactor, ceilMicros(penaltyCap), penaltyDecay.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: penalize recipient of %q: %w", key, err)
	}
	return micros(us), nil
}

// learnCooldown tells key's local front of a cool-down of d that Redis
// reported (or set) for a call made at sent.
func (l *Limiter) learnCooldown(key string, sent time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	l.front(key).learnCooldown(sent, d)
}

// ceilMicros is d in microseconds, rounded up.
func ceilMicros(d time.Duration) int64 {
	return int64((d + time.Microsecond - 1) / time.Microsecond)
}
