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

// Cooldown makes every process hold t for d: no Reserve of it succeeds
// until it ends. t names the narrowest level it holds: one Recipient of the
// Key when Recipient is set, else the Key (of the Scope, or unscoped), else
// the whole Scope — every request of that account, any Key (Reason
// ReasonAccountCooldown). It extends, never shortens, one already running.
// Used after a 429 with Retry-After. A d of zero or less does nothing.
func (l *Limiter) Cooldown(ctx context.Context, t Target, d time.Duration) error {
	if err := t.validate("cooldown"); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	d = min(d, maxSpan)
	key := l.cooldownKey(t)
	sent := l.now()
	l.redisCalls.Add(1)
	// The answer (what is left of the cool-down) may exceed d.
	us, err := cooldownScript.Run(ctx, l.rdb, []string{key}, ceilMicros(d)).Int64()
	if err != nil {
		return fmt.Errorf("ratelimit: cooldown %s: %w", t.name(), err)
	}
	if t.Recipient == "" {
		l.learnCooldown(t, sent, micros(us))
	}
	return nil
}

// Hold holds t, as Cooldown does, for d — and beyond: once d has passed,
// one request of t at a time is let through, its Reservation marked Probe,
// while the others keep waiting (for up to Config.ProbeLease each), until
// the caller lifts the hold with Unhold. Used when the upstream refuses an
// account's key (401/403): the account waits while one probe at a time,
// every d, checks whether the key works again. Holding a held t again (the
// probe was refused too) puts the next probe d from now.
func (l *Limiter) Hold(ctx context.Context, t Target, d time.Duration) error {
	if err := t.validate("hold"); err != nil {
		return err
	}
	d = min(max(d, 0), maxSpan)
	sent := l.now()
	l.redisCalls.Add(1)
	if err := holdScript.Run(ctx, l.rdb, []string{l.cooldownKey(t)}, ceilMicros(d)).Err(); err != nil {
		return fmt.Errorf("ratelimit: hold %s: %w", t.name(), err)
	}
	if t.Recipient == "" {
		l.learnCooldown(t, sent, d)
	}
	return nil
}

// Unhold lifts the hold of t (a cool-down stays): the probe passed. It
// reports whether there was a hold to lift.
func (l *Limiter) Unhold(ctx context.Context, t Target) (bool, error) {
	if err := t.validate("unhold"); err != nil {
		return false, err
	}
	l.redisCalls.Add(1)
	n, err := unholdScript.Run(ctx, l.rdb, []string{l.cooldownKey(t)}).Int()
	if err != nil {
		return false, fmt.Errorf("ratelimit: unhold %s: %w", t.name(), err)
	}
	if t.Recipient == "" {
		l.front(t).forgetCooldown()
	}
	return n == 1, nil
}

// cooldownKey is the cool-down key of the narrowest level t names.
func (l *Limiter) cooldownKey(t Target) string {
	ks := l.space(t.Scope)
	switch {
	case t.Recipient != "":
		return ks.key("rc:", t.Key, t.Recipient)
	case t.Key != "":
		return ks.key("c:", t.Key, "")
	}
	return ks.scopeCooldown()
}

// CooldownLeft reports the longest cool-down that holds t's requests: its
// Scope's, its Key's, its Recipient's, whichever t names (0 if none), and
// its reason (ReasonAccountCooldown, ReasonCooldown or
// ReasonRecipientCooldown, "" if none): the cheap check a caller makes
// after sleeping on a reservation (pass Request.Target()). It always asks
// Redis, which knows the cool-downs other processes set.
func (l *Limiter) CooldownLeft(ctx context.Context, t Target) (time.Duration, string, error) {
	if err := t.validate("cooldown left"); err != nil {
		return 0, "", err
	}
	sent := l.now()
	l.redisCalls.Add(1)
	keys, codes := l.space(t.Scope).cooldowns(t)
	v, err := leftScript.Run(ctx, l.rdb, keys, codes...).Int64Slice()
	if err != nil {
		return 0, "", fmt.Errorf("ratelimit: cooldown left %s: %w", t.name(), err)
	}
	if len(v) != 2+len(keys) || v[1] < 0 || v[1] >= int64(len(reasons)) {
		return 0, "", fmt.Errorf("ratelimit: cooldown left %s: unexpected answer %v", t.name(), v)
	}
	each := v[2:] // the levels', broadest first
	if t.Scope != "" {
		l.learnCooldown(Target{Scope: t.Scope}, sent, micros(each[0]))
		each = each[1:]
	}
	if t.Key != "" {
		l.learnCooldown(Target{Scope: t.Scope, Key: t.Key}, sent, micros(each[0]))
	}
	return micros(v[0]), reasons[v[1]], nil
}

// PenalizeRecipient is for the WhatsApp pair limit (Meta 131056): the n-th
// penalty in a row for t's Recipient of its Key (both required) sets a
// recipient cool-down of 4^n seconds (n from 0: 1 s, 4 s, 16 s, 64 s, …,
// capped at 1 h); the count decays after 1 h without penalties. Returns the
// cool-down set. Like Cooldown, it never shortens a longer cool-down
// already running.
func (l *Limiter) PenalizeRecipient(ctx context.Context, t Target) (time.Duration, error) {
	if t.Key == "" || t.Recipient == "" {
		return 0, errors.New("ratelimit: penalize recipient: the key and the recipient are required")
	}
	if err := t.validate("penalize recipient"); err != nil {
		return 0, err
	}
	ks := l.space(t.Scope)
	keys := []string{ks.key("pn:", t.Key, t.Recipient), ks.key("rc:", t.Key, t.Recipient)}
	l.redisCalls.Add(1)
	us, err := penalizeScript.Run(ctx, l.rdb, keys,
		ceilMicros(penaltyBase), penaltyFactor, ceilMicros(penaltyCap), penaltyDecay.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: penalize recipient of %s: %w", t.name(), err)
	}
	return micros(us), nil
}

// learnCooldown tells the front of t's key (or of its scope, without a key)
// of a cool-down of d that Redis reported (or set) for a call made at sent.
func (l *Limiter) learnCooldown(t Target, sent time.Time, d time.Duration) {
	if d <= 0 {
		return
	}
	l.front(t).learnCooldown(sent, d)
}

// ceilMicros is d in microseconds, rounded up.
func ceilMicros(d time.Duration) int64 {
	return int64((d + time.Microsecond - 1) / time.Microsecond)
}
