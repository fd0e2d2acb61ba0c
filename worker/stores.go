package worker

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// The send chain meets Redis through three small interfaces, each what the
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

var (
	_ records = (*outcome.Store)(nil)
	_ windows = (*session.Store)(nil)
	_ slots   = (*ratelimit.Limiter)(nil)
)
