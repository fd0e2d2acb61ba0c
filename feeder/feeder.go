// Package feeder feeds campaigns: it moves each campaign's stored rows
// (README "Campaigns") into the bulk queues a few seconds ahead of their
// sends, at the pace its account's budget leaves after the account's
// transactional messages, taking the account's campaigns in turn.
//
// Every worker process runs a Feeder. One of them at a time feeds an
// account — the holder of the account's feed lease, which another takes
// over within LeaseTTL when its holder dies — so the turns are one
// process's to give. Progress is durable: a batch's records and the
// campaign's cursor move together in one Redis script, and a batch whose
// tasks may not all be enqueued stays marked until they are, so that the
// next holder enqueues it again (a message already enqueued or finished is
// not sent twice).
//
// The feeder keeps each account's backlog — its campaigns' messages fed and
// waiting to be sent — near Lead's worth of its budget: as sends go, room
// opens and the feeder fills it. That follows the account's real pace,
// whatever its transactional messages take, and keeps every campaign's
// unsent rows out of the queues, where they would hold up other accounts.
package feeder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/ratelimit"
)

// Config sets a Feeder up.
type Config struct {
	// Redis is the deployment's Redis, the same as the workers'.
	Redis redis.UniversalClient
	// Accounts are those this process feeds: the worker's.
	Accounts []Account
	// Lead is how far ahead of the sends an account with a budget is fed:
	// its backlog is kept near Lead's worth of its budget (and at least
	// MinBacklog). Defaults to 3 s.
	Lead time.Duration
	// MinBacklog is the smallest backlog an account with a budget is fed
	// to. Defaults to 5.
	MinBacklog int
	// Backlog is the backlog of an account with no budget. Defaults to
	// 1,000.
	Backlog int
	// MaxParked is how many of a campaign's fed messages may be scheduled
	// (set aside until quiet hours end, or the messaging limit frees a
	// place) before the campaign is fed no more: they leave the backlog,
	// and without a bound a campaign started at night would be fed whole,
	// into the queues' schedule. Defaults to 1,000.
	MaxParked int
	// Tick is how often the feeder looks for room. Defaults to 200 ms.
	Tick time.Duration
	// LeaseTTL is how long an account's feed lease outlives its holder.
	// Defaults to 5 s.
	LeaseTTL time.Duration
	// Retention and MaxWait are the outcome records' (worker.Config's).
	Retention, MaxWait time.Duration
	// Logger gets the feeder's errors. Defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() error {
	if c.Redis == nil {
		return errors.New("feeder: Config.Redis is required")
	}
	if c.Lead < 0 || c.MinBacklog < 0 || c.Backlog < 0 || c.MaxParked < 0 || c.Tick < 0 || c.LeaseTTL < 0 {
		return errors.New("feeder: negative Lead, MinBacklog, Backlog, MaxParked, Tick or LeaseTTL")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Lead, 3*time.Second)
	def(&c.Tick, 200*time.Millisecond)
	def(&c.LeaseTTL, 5*time.Second)
	if c.MinBacklog == 0 {
		c.MinBacklog = 5
	}
	if c.Backlog == 0 {
		c.Backlog = 1000
	}
	if c.MaxParked == 0 {
		c.MaxParked = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Account is an account to feed.
type Account struct {
	ID string
	// Budget is the account's request budget (the zero Limit: none).
	Budget ratelimit.Limit
}

// Feeder feeds the campaigns of its accounts (see the package doc).
type Feeder struct {
	cfg    Config
	store  *outcome.Store
	client *asynq.Client
	token  string
	accts  map[string]Account

	mu      sync.Mutex
	busy    map[string]bool    // accounts being fed right now
	turn    map[string]string  // each account's campaign whose turn is next
	cache   map[string]*cached // campaign (account + id) → its current chunk
	wg      sync.WaitGroup
	metrics Metrics
}

// Metrics hears what the feeder does; the zero value hears nothing.
type Metrics struct {
	// Fed is called with each batch fed: the account and how many rows.
	Fed func(account string, rows int)
}

// New makes a Feeder; Run starts it.
func New(cfg Config, m Metrics) (*Feeder, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	store, err := outcome.New(cfg.Redis, outcome.Config{Retention: cfg.Retention, MaxWait: cfg.MaxWait})
	if err != nil {
		return nil, err
	}
	f := &Feeder{cfg: cfg, store: store, client: asynq.NewClientFromRedisClient(cfg.Redis), token: newToken(),
		accts: map[string]Account{}, busy: map[string]bool{}, turn: map[string]string{},
		cache: map[string]*cached{}, metrics: m}
	for _, a := range cfg.Accounts {
		f.accts[a.ID] = a
	}
	return f, nil
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run feeds until ctx ends, then gives its leases back.
func (f *Feeder) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			f.wg.Wait()
			bg := context.WithoutCancel(ctx)
			for id := range f.accts {
				_ = f.store.ReleaseFeed(bg, id, f.token)
			}
			return nil
		case <-t.C:
			f.tick(ctx)
		}
	}
}

// tick starts feeding every account of this process that has campaigns to
// feed and is not being fed already.
func (f *Feeder) tick(ctx context.Context) {
	ids, err := f.store.FeedingAccounts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			f.cfg.Logger.Warn("feeder: list accounts", "err", err)
		}
		return
	}
	for _, id := range ids {
		a, ok := f.accts[id]
		if !ok {
			continue
		}
		f.mu.Lock()
		if f.busy[id] {
			f.mu.Unlock()
			continue
		}
		f.busy[id] = true
		f.mu.Unlock()
		f.wg.Go(func() {
			defer func() {
				f.mu.Lock()
				delete(f.busy, id)
				f.mu.Unlock()
			}()
			if err := f.feedAccount(ctx, a); err != nil && ctx.Err() == nil {
				f.cfg.Logger.Warn("feeder: feed", "account", id, "err", err)
			}
		})
	}
}
