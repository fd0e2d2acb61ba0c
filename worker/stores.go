package worker

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/msglimit"
	"github.com/sendq/sendq/internal/optout"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// The send chain meets Redis through five small interfaces, each what the
// chain asks of one store: New wires the real stores, and a test may put in
// one that fails. (The API is the fourth: see API.)

// records is what the chain asks of the outcome store (*outcome.Store).
type records interface {
	ClaimIn(ctx context.Context, p redis.Pipeliner, m *tasks.Message, token string, lease time.Duration, now time.Time) func() (outcome.Claim, error)
	FinishIn(ctx context.Context, p redis.Pipeliner, m *tasks.Message, token string, r outcome.Result, now time.Time) func() (outcome.State, error)
	Finish(ctx context.Context, m *tasks.Message, token string, r outcome.Result, now time.Time) (outcome.State, error)
	ReturnLease(ctx context.Context, m *tasks.Message, token string, now time.Time) error
	Retry(ctx context.Context, m *tasks.Message, token, reason string, calls int, now time.Time) error
	ParkForWindow(ctx context.Context, m *tasks.Message, token, reason string, calls int, window time.Duration, now time.Time) (opened bool, err error)
	Hold(ctx context.Context, m *tasks.Message, token string, sched outcome.Schedule, now time.Time) (outcome.State, error)
	MarkAmbiguous(ctx context.Context, m *tasks.Message) error
	CampaignStateOf(ctx context.Context, account, id string) (outcome.CampaignState, error)
}

// windows is what the chain asks of the session store (*session.Store).
type windows interface {
	Applies(m *tasks.Message) bool
	Window(ch tasks.Channel) time.Duration
	LookupIn(ctx context.Context, p redis.Pipeliner, m *tasks.Message, now time.Time) func() (session.Status, error)
	RecordProbed(ctx context.Context, m *tasks.Message, at, now time.Time) (session.Status, error)
	RecordClosed(ctx context.Context, m *tasks.Message, at time.Time) error
}

// slots is what the chain asks of the rate limiter (*ratelimit.Limiter).
type slots interface {
	ReserveIn(ctx context.Context, p redis.Pipeliner, r ratelimit.Request) func() (ratelimit.Reservation, error)
	Reserve(ctx context.Context, r ratelimit.Request) (ratelimit.Reservation, error)
	CooldownLeft(ctx context.Context, t ratelimit.Target) (time.Duration, string, error)
	Cooldown(ctx context.Context, t ratelimit.Target, d time.Duration) error
	Hold(ctx context.Context, t ratelimit.Target, d time.Duration) error
	Unhold(ctx context.Context, t ratelimit.Target) (bool, error)
	PenalizeRecipient(ctx context.Context, t ratelimit.Target) (time.Duration, error)
}

// optOuts is what the chain asks of the opt-out list (*optout.Store).
type optOuts interface {
	CheckIn(ctx context.Context, pipe redis.Pipeliner, space keys.Space, ch tasks.Channel, r tasks.Recipient) func() (bool, error)
}

// msgLimits is what the chain asks of the messaging-limit count
// (*msglimit.Store).
type msgLimits interface {
	Take(ctx context.Context, space keys.Space, recipient string, limit int, transactional bool, now time.Time) (ok bool, notBefore time.Time, err error)
	Forget(ctx context.Context, space keys.Space, recipient string, now time.Time) (bool, error)
}

var (
	_ optOuts   = (*optout.Store)(nil)
	_ msgLimits = (*msglimit.Store)(nil)
	_ records   = (*outcome.Store)(nil)
	_ windows   = (*session.Store)(nil)
	_ slots     = (*ratelimit.Limiter)(nil)
)
