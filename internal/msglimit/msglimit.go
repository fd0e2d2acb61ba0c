// Package msglimit keeps each account's WhatsApp messaging limit: how many
// unique recipients its conversation-opening templates reached in the
// rolling 24 hours, against the account's tier (250, 2,000, 10,000,
// 100,000 or unlimited).
//
// One Lua script decides each recipient (see lua.go), so the count is exact
// across worker processes, and it lives in Redis, so it survives their
// restarts. The send chain calls [Store.Take] for a WhatsApp template sent
// while the recipient's window is closed (a conversation-opening one), and
// only for those: templates inside an open window, and text and media, do
// not count.
//
// # Transactional messages first
//
// A transactional (non-campaign) template that the limit refuses registers
// its recipient as waiting, until shortly after the instant it was told to
// come back (its notBefore plus Config.Grace). While any transactional
// recipient waits, a campaign template takes a place only if more places are
// free than recipients wait: the places that free up go to the waiting
// transactional messages first. A waiting recipient's claim lapses if its
// message does not come back (it expired or was cancelled), so a lost
// message cannot hold campaign messages back for longer than the grace.
//
// A recipient already counted in the window is taken again without
// counting. A counted send that then did not go (refused, failed for good)
// gives its place back with [Store.Forget].
package msglimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
)

// Config configures a Store. Zero values take the defaults.
type Config struct {
	// Window is the rolling window of the limit. Defaults to 24 hours.
	Window time.Duration
	// Grace is how long after its notBefore a refused transactional
	// recipient keeps its claim on the next free place. Defaults to 5 minutes.
	Grace time.Duration
}

// Store is the messaging-limit count of every account. It is safe for
// concurrent use.
type Store struct {
	rdb redis.UniversalClient
	cfg Config
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("msglimit: no Redis client")
	}
	if cfg.Window < 0 || cfg.Grace < 0 {
		return nil, errors.New("msglimit: negative Window or Grace")
	}
	if cfg.Window == 0 {
		cfg.Window = 24 * time.Hour
	}
	if cfg.Grace == 0 {
		cfg.Grace = 5 * time.Minute
	}
	return &Store{rdb: rdb, cfg: cfg}, nil
}

// Take decides whether a conversation-opening template may go to recipient
// (a recipient key such as tasks.Recipient.Key gives) at now, under limit
// (0 or less: unlimited, nothing counted). A recipient counted in the
// window goes again without counting; a new one is counted and goes while
// the account is under its limit (for a campaign message, while more places
// are free than transactional recipients wait for); else ok is false and
// notBefore is when the oldest counted recipients will have left the window
// so that a place is free for it. Being refused is a result, not an error.
func (s *Store) Take(ctx context.Context, space keys.Space, recipient string, limit int, transactional bool, now time.Time) (ok bool, notBefore time.Time, err error) {
	if limit <= 0 {
		return true, time.Time{}, nil
	}
	if recipient == "" {
		return false, time.Time{}, errors.New("msglimit: take: no recipient")
	}
	tx := 0
	if transactional {
		tx = 1
	}
	res, err := takeLua.Run(ctx, s.rdb, []string{space.MessagingLimit(), space.MessagingLimitWaiting()},
		recipient, limit, tx, now.UnixMilli(), s.cfg.Window.Milliseconds(), s.cfg.Grace.Milliseconds()).Int64Slice()
	if err != nil {
		return false, time.Time{}, fmt.Errorf("msglimit: take: %w", err)
	}
	if len(res) != 2 {
		return false, time.Time{}, fmt.Errorf("msglimit: take: unexpected reply %v", res)
	}
	if res[0] == 1 {
		return true, time.Time{}, nil
	}
	return false, time.UnixMilli(res[1]).UTC(), nil
}

// Forget gives back the place that Take counted for recipient at now (the
// same now), for a send that then did not go. A recipient counted earlier,
// by a send that went, stays counted. It reports whether a count was taken
// back.
func (s *Store) Forget(ctx context.Context, space keys.Space, recipient string, now time.Time) (bool, error) {
	n, err := forgetLua.Run(ctx, s.rdb, []string{space.MessagingLimit()}, recipient, now.UnixMilli()).Int64()
	if err != nil {
		return false, fmt.Errorf("msglimit: forget: %w", err)
	}
	return n == 1, nil
}

// Usage reports how many recipients the account's count holds at now, and
// how many transactional recipients wait for a place.
func (s *Store) Usage(ctx context.Context, space keys.Space, now time.Time) (counted, waiting int, err error) {
	p := s.rdb.Pipeline()
	c := p.ZCount(ctx, space.MessagingLimit(), fmt.Sprint(now.Add(-s.cfg.Window).UnixMilli()+1), "+inf")
	w := p.ZCount(ctx, space.MessagingLimitWaiting(), fmt.Sprint(now.UnixMilli()+1), "+inf")
	if _, err := p.Exec(ctx); err != nil {
		return 0, 0, fmt.Errorf("msglimit: usage: %w", err)
	}
	return int(c.Val()), int(w.Val()), nil
}
