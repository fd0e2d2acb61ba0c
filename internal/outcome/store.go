package outcome

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/session"
	"github.com/sendq/sendq/tasks"
)

// Config configures a Store. Zero values mean the documented defaults.
type Config struct {
	// Retention is how long a finished message's record is kept (and so how
	// long its id stays taken). Defaults to 30 days.
	Retention time.Duration
	// MaxWait is the longest an unfinished message may wait; its record is
	// kept for MaxWait + Retention. Defaults to 7 days.
	MaxWait time.Duration
	// EventsMax caps the event stream (approximately). Defaults to 100,000.
	EventsMax int64
	// AutoPause stops a campaign when, over its last finished messages, the
	// share that failed passes Ratio. Zero Ratio disables it.
	AutoPause AutoPause
}

// AutoPause configures a campaign's automatic pause.
type AutoPause struct {
	Ratio     float64       // failed / finished; 0 disables
	MinSample int           // finished messages needed before judging; default 50
	Window    time.Duration // how far back to look; default 1 minute
}

// Store reads and writes outcome records.
type Store struct {
	rdb   redis.UniversalClient
	cfg   Config
	ratio string // cfg.AutoPause.Ratio as Finish passes it
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("outcome: nil redis client")
	}
	if cfg.Retention == 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 7 * 24 * time.Hour
	}
	if cfg.EventsMax == 0 {
		cfg.EventsMax = 100_000
	}
	if cfg.AutoPause.MinSample == 0 {
		cfg.AutoPause.MinSample = 50
	}
	if cfg.AutoPause.Window == 0 {
		cfg.AutoPause.Window = time.Minute
	}
	if cfg.Retention < 0 || cfg.MaxWait < 0 || cfg.AutoPause.Ratio < 0 || cfg.AutoPause.Ratio > 1 {
		return nil, errors.New("outcome: negative retention or wait, or auto-pause ratio outside 0..1")
	}
	return &Store{rdb: rdb, cfg: cfg, ratio: strconv.FormatFloat(cfg.AutoPause.Ratio, 'f', -1, 64)}, nil
}

// common builds the keys and arguments every script starts with.
// Every key is in m's account's key space.
func (s *Store) common(m *tasks.Message, now time.Time) ([]string, []any) {
	space := keys.Account(m.Account)
	okey := space.Outcome(m.ID)
	ckey, hasc := okey, "0"
	if m.Campaign != "" {
		ckey, hasc = space.Campaign(m.Campaign), "1"
	}
	return []string{okey, ckey, space.Events(), space.Counts()},
		[]any{m.ID, ms(now), hasc, s.cfg.EventsMax}
}

func (s *Store) inflightKey(m *tasks.Message) string {
	space := keys.Account(m.Account)
	if m.Campaign == "" {
		return space.Outcome(m.ID)
	}
	return space.CampaignInflight(m.Campaign)
}

func recordFields(m *tasks.Message) []any {
	f := []any{fChannel, string(m.Channel), fKind, string(m.Kind)}
	if m.Campaign != "" {
		f = append(f, fCampaign, m.Campaign)
	}
	return f
}

func (s *Store) unfinishedTTL() int64 { return (s.cfg.MaxWait + s.cfg.Retention).Milliseconds() }

// Schedule is when a scheduled message goes, and why: Reason is one of
// the reasons of README "Outcome states" ("at", "budget", …).
type Schedule struct {
	NotBefore time.Time
	Reason    string
}

// Create records m as accepted unless a record exists: queued, or
// scheduled when sched has a NotBefore. It reports whether it created one,
// and the state on record.
func (s *Store) Create(ctx context.Context, m *tasks.Message, sched Schedule, now time.Time) (created bool, current State, err error) {
	k, a := s.common(m, now)
	state := Queued
	if !sched.NotBefore.IsZero() {
		state = Scheduled
	}
	a = append(a, string(state), s.unfinishedTTL())
	a = append(a, recordFields(m)...)
	if state == Scheduled {
		a = append(a, fNotBefore, ms(sched.NotBefore), fReason, sched.Reason)
	}
	res, err := createScript.Run(ctx, s.rdb, k, a...).Slice()
	if err != nil {
		return false, "", fmt.Errorf("outcome: create %s: %w", m.ID, err)
	}
	return res[0].(int64) == 1, State(res[1].(string)), nil
}

// Get returns the record of account's message id, as its campaign's state
// makes it (an unfinished message of a cancelled campaign reads cancelled).
func (s *Store) Get(ctx context.Context, account, id string) (*Record, error) {
	space := keys.Account(account)
	h, err := s.rdb.HGetAll(ctx, space.Outcome(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("outcome: get %s: %w", id, err)
	}
	if len(h) == 0 {
		return s.unfed(ctx, []string{cmp.Or(account, keys.DefaultAccount)}, id)
	}
	r := fromHash(id, h)
	r.Account = cmp.Or(account, keys.DefaultAccount)
	if r.Campaign != "" && !r.State.Terminal() {
		st, err := s.rdb.HGet(ctx, space.Campaign(r.Campaign), "st").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("outcome: get %s: %w", id, err)
		}
		if st == string(Cancelled) {
			r.State = Cancelled
		}
	}
	return r, nil
}

// Find returns the record of message id in the first of accounts that has
// one: message ids are an account's own (the same id may stand in two
// accounts), and a look-up by id alone asks every account it may reach,
// in one round trip per Redis node.
func (s *Store) Find(ctx context.Context, accounts []string, id string) (*Record, error) {
	p := s.rdb.Pipeline()
	found := make([]*redis.IntCmd, len(accounts))
	for i, a := range accounts {
		found[i] = p.Exists(ctx, keys.Account(a).Outcome(id))
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("outcome: find %s: %w", id, err)
	}
	for i, f := range found {
		if f.Val() == 1 {
			return s.Get(ctx, accounts[i], id)
		}
	}
	return s.unfed(ctx, accounts, id)
}

// Result is how a send attempt ended, for Finish.
type Result struct {
	State      State
	Calls      int    // API calls this run made
	UpstreamID string // the upstream message id, when sent
	// Error is the reason to record ("" clears the last one).
	Error string
	// Reason is the outcome object's reason, for a suppressed message
	// ("opted_out"); "" records none.
	Reason string
}

// Finish records the end of a run that held the lease token (token "" for a
// decision made without a lease, such as expiry) and returns the state before.
func (s *Store) Finish(ctx context.Context, m *tasks.Message, token string, r Result, now time.Time) (State, error) {
	k, a := s.finishArgs(m, token, r, now)
	return parseFinish(m, finishScript.Run(ctx, s.rdb, k, a...))
}

// FinishIn is Finish queued on the pipeline p, to go in one round trip with
// other commands; call the returned function after p.Exec for the answer.
func (s *Store) FinishIn(ctx context.Context, p redis.Pipeliner, m *tasks.Message, token string, r Result, now time.Time) func() (State, error) {
	k, a := s.finishArgs(m, token, r, now)
	answer := s.evalIn(ctx, p, finishScript, k, a)
	return func() (State, error) { return parseFinish(m, answer()) }
}

func (s *Store) finishArgs(m *tasks.Message, token string, r Result, now time.Time) ([]string, []any) {
	k, a := s.common(m, now)
	space := keys.Account(m.Account)
	up, rate := space.Outcome(m.ID), space.Outcome(m.ID)
	if r.UpstreamID != "" {
		up = space.Upstream(r.UpstreamID)
	}
	if m.Campaign != "" {
		rate = space.CampaignRate(m.Campaign, now.Unix())
	}
	k = append(k, s.inflightKey(m), up, rate)
	ap := s.cfg.AutoPause
	a = append(a, token, string(r.State), r.Calls, r.UpstreamID, r.Error, s.cfg.Retention.Milliseconds(),
		ap.Window.Milliseconds(), ap.MinSample, s.ratio, r.Reason)
	return k, a
}

func parseFinish(m *tasks.Message, cmd *redis.Cmd) (State, error) {
	old, err := cmd.Text()
	if err != nil {
		return "", fmt.Errorf("outcome: finish %s: %w", m.ID, err)
	}
	return State(old), nil
}

// ReturnLease gives back the send lease the run named token holds, and
// changes nothing else: the run stops before its call (a rate-limit wait
// too long, a paused campaign, shutdown, a Redis error).
func (s *Store) ReturnLease(ctx context.Context, m *tasks.Message, token string, now time.Time) error {
	k, a := s.setAsideArgs(m, token, now)
	if err := returnScript.Run(ctx, s.rdb, k, a...).Err(); err != nil {
		return fmt.Errorf("outcome: return lease %s: %w", m.ID, err)
	}
	return nil
}

// Retry records that the message is retrying, for reason, after calls API
// calls of the run named token (added to its attempts), and gives the
// lease back.
func (s *Store) Retry(ctx context.Context, m *tasks.Message, token, reason string, calls int, now time.Time) error {
	k, a := s.setAsideArgs(m, token, now)
	a = append(a, reason, calls)
	if err := retryScript.Run(ctx, s.rdb, k, a...).Err(); err != nil {
		return fmt.Errorf("outcome: retry %s: %w", m.ID, err)
	}
	return nil
}

// ParkForWindow sets the message aside, waiting for its contact's session
// window, after calls API calls of the run named token, and gives the
// lease back. With a window (window > 0) and a recipient whose window is
// kept (see session.Waits), it first checks, atomically, whether the window
// opened meanwhile: then it parks nothing, keeps the lease and returns
// opened = true; otherwise it adds the message to the recipient's waiting
// sets, in enqueue order, for the contact's next message to release.
func (s *Store) ParkForWindow(ctx context.Context, m *tasks.Message, token, reason string, calls int,
	window time.Duration, now time.Time) (opened bool, err error) {
	k, a := s.setAsideArgs(m, token, now)
	sessions, waiting := session.Waits(m)
	for i := range sessions {
		k = append(k, sessions[i], waiting[i])
	}
	if len(sessions) == 0 {
		window = 0
	}
	a = append(a, reason, calls, window.Milliseconds(), order(m), member(m))
	res, err := parkScript.Run(ctx, s.rdb, k, a...).Text()
	if err != nil {
		return false, fmt.Errorf("outcome: park %s: %w", m.ID, err)
	}
	return res == "open", nil
}

// Hold sets the message aside until sched.NotBefore, for sched.Reason
// ("quiet_hours", "messaging_limit"): it moves to scheduled with its
// not_before and reason, and the run named token gives its lease back.
// The caller brings the task back at NotBefore. A message finished
// meanwhile stays as it is. It returns the state before.
func (s *Store) Hold(ctx context.Context, m *tasks.Message, token string, sched Schedule, now time.Time) (State, error) {
	if sched.NotBefore.IsZero() || sched.Reason == "" {
		return "", fmt.Errorf("outcome: hold %s: a not_before and a reason are required", m.ID)
	}
	k, a := s.setAsideArgs(m, token, now)
	a = append(a, ms(sched.NotBefore), sched.Reason)
	old, err := holdScript.Run(ctx, s.rdb, k, a...).Text()
	if err != nil {
		return "", fmt.Errorf("outcome: hold %s: %w", m.ID, err)
	}
	return State(old), nil
}

func (s *Store) setAsideArgs(m *tasks.Message, token string, now time.Time) ([]string, []any) {
	k, a := s.common(m, now)
	return append(k, s.inflightKey(m)), append(a, token)
}

// order ranks messages in enqueue order in the waiting and held sets
// (microseconds fit a float64 exactly).
func order(m *tasks.Message) float64 { return float64(m.CreatedAt.UnixMicro()) }

// member names the message in the waiting and held sets, as their release
// reads it (see keys.Member).
func member(m *tasks.Message) string {
	return keys.Member(keys.Queue(string(m.Channel), m.Campaign != ""), keys.TaskID(m.Account, m.ID))
}
