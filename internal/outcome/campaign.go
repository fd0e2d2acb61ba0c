package outcome

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
)

// CampaignState is where a campaign stands.
type CampaignState string

// The campaign states (README "Campaigns").
const (
	CampaignRunning    CampaignState = "running"
	CampaignPausedSt   CampaignState = "paused"
	CampaignAutoPaused CampaignState = "auto_paused"
	CampaignCancelled  CampaignState = "cancelled"
	CampaignDone       CampaignState = "done"
)

// ErrCampaignCancelled is returned when starting a cancelled campaign again.
var ErrCampaignCancelled = errors.New("campaign was cancelled")

// ErrCampaignBusy is returned when another process is starting the campaign.
var ErrCampaignBusy = errors.New("campaign is being started by another process")

// Campaign is a campaign's report.
type Campaign struct {
	ID      string
	Account string
	State   CampaignState
	Total   int
	Counts  map[State]int
	// Rate is the campaign's recent send rate (messages per second over the
	// last 10 s), and Rate60 over the last minute (zero until the campaign
	// is a minute old). ETA is the time the rest would take at Rate; the
	// producer gives a better one, from the account's budget.
	Rate   float64
	Rate60 float64
	ETA    time.Duration
	// Left counts the messages not finished yet, and Fed the rows fed to
	// the queues so far (see outcome/rows.go).
	Left   int
	Fed    int
	Reason string
	// Enqueued: every row of the last start has been enqueued.
	Enqueued  bool
	CreatedAt time.Time
}

// ErrCampaignAccount is returned when starting a campaign whose id another
// account's campaign has.
var ErrCampaignAccount = errors.New("campaign id is taken by another account")

// OpenCampaign creates account's campaign, or finds it again, for a start.
// A cancelled campaign cannot be started again. Campaign ids are unique
// across accounts: the global index maps each to its account, so that
// status and control need only the id.
func (s *Store) OpenCampaign(ctx context.Context, account, id string, now time.Time) error {
	owner, err := s.indexCampaign(ctx, account, id)
	if err != nil {
		return err
	}
	if owner != account {
		return fmt.Errorf("campaign %q: %w (%s)", id, ErrCampaignAccount, owner)
	}
	key := keys.Account(account).Campaign(id)
	st, err := s.rdb.HGet(ctx, key, "st").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	if st == string(CampaignCancelled) {
		return fmt.Errorf("campaign %q: %w", id, ErrCampaignCancelled)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSetNX(ctx, key, "st", string(CampaignRunning))
		p.HSetNX(ctx, key, "ca", ms(now))
		p.HSet(ctx, key, "fin", 0)
		return nil
	})
	if err != nil {
		return fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	return nil
}

// indexCampaign maps id to account in the global index unless it is there
// already, and returns the account it maps to.
func (s *Store) indexCampaign(ctx context.Context, account, id string) (string, error) {
	p := s.rdb.TxPipeline()
	p.HSetNX(ctx, keys.Campaigns(), id, account)
	owner := p.HGet(ctx, keys.Campaigns(), id)
	if _, err := p.Exec(ctx); err != nil {
		return "", fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	return owner.Val(), nil
}

// CampaignAccount returns the account of the campaign id, or ErrNotFound.
func (s *Store) CampaignAccount(ctx context.Context, id string) (string, error) {
	account, err := s.rdb.HGet(ctx, keys.Campaigns(), id).Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("campaign %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	return account, nil
}

// CampaignEnqueued marks the end of a start: every row is enqueued.
func (s *Store) CampaignEnqueued(ctx context.Context, account, id string) error {
	return s.rdb.HSet(ctx, keys.Account(account).Campaign(id), "fin", 1).Err()
}

// LockCampaign takes the lock that keeps two producers from starting the
// same campaign at once, for ttl; refresh it with the same token before it
// ends. It returns ErrCampaignBusy when another holds it.
func (s *Store) LockCampaign(ctx context.Context, account, id, token string, ttl time.Duration) error {
	ok, err := lockScript.Run(ctx, s.rdb, []string{keys.Account(account).CampaignLock(id)}, token, ttl.Milliseconds()).Bool()
	if err != nil {
		return fmt.Errorf("outcome: lock campaign %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("campaign %q: %w", id, ErrCampaignBusy)
	}
	return nil
}

// UnlockCampaign gives the lock back (only if token still holds it).
func (s *Store) UnlockCampaign(ctx context.Context, account, id, token string) error {
	return unlockScript.Run(ctx, s.rdb, []string{keys.Account(account).CampaignLock(id)}, token).Err()
}

var lockScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)

// SetCampaignState pauses or resumes a campaign: to paused from running or
// auto_paused; to running from paused or auto_paused (clearing the reason and
// the failure window). It returns the state before; a cancelled campaign
// stays cancelled.
func (s *Store) SetCampaignState(ctx context.Context, account, id string, to CampaignState) (CampaignState, error) {
	res, err := campaignStateScript.Run(ctx, s.rdb, []string{keys.Account(account).Campaign(id)}, string(to)).Text()
	if errors.Is(err, redis.Nil) || (err == nil && res == "") {
		return "", fmt.Errorf("campaign %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	return CampaignState(res), nil
}

var campaignStateScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return '' end
if st == 'cancelled' then return st end
if ARGV[1] == 'running' then
  redis.call('HSET', KEYS[1], 'st', 'running', 'ws', 0, 'wt', 0, 'wf', 0)
  redis.call('HDEL', KEYS[1], 'rs')
else
  redis.call('HSET', KEYS[1], 'st', ARGV[1])
end
return st
`)

// CancelCampaign cancels a campaign: from now on no message of it is
// claimed, every unfinished one counts and reads as cancelled (the records
// follow as workers take the tasks up). It returns the state before.
func (s *Store) CancelCampaign(ctx context.Context, account, id string) (CampaignState, error) {
	var unfinished []any
	for _, st := range States {
		if !st.Terminal() {
			unfinished = append(unfinished, string(st))
		}
	}
	res, err := cancelScript.Run(ctx, s.rdb, []string{keys.Account(account).Campaign(id), keys.Account(account).Counts()}, unfinished...).Text()
	if err != nil {
		return "", fmt.Errorf("outcome: cancel campaign %s: %w", id, err)
	}
	if res == "" {
		return "", fmt.Errorf("campaign %q: %w", id, ErrNotFound)
	}
	return CampaignState(res), nil
}

var cancelScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'st')
if not st then return '' end
if st == 'cancelled' then return st end
local moved = 0
for _, s in ipairs(ARGV) do
  local n = tonumber(redis.call('HGET', KEYS[1], 'n:' .. s) or '0')
  if n ~= 0 then
    redis.call('HSET', KEYS[1], 'n:' .. s, 0)
    redis.call('HINCRBY', KEYS[2], s, -n)
    moved = moved + n
  end
end
redis.call('HINCRBY', KEYS[1], 'n:cancelled', moved)
redis.call('HINCRBY', KEYS[2], 'cancelled', moved)
redis.call('HSET', KEYS[1], 'st', 'cancelled')
return st
`)

// CampaignStateOf returns a campaign's stored state ("" when unknown).
func (s *Store) CampaignStateOf(ctx context.Context, account, id string) (CampaignState, error) {
	st, err := s.rdb.HGet(ctx, keys.Account(account).Campaign(id), "st").Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	return CampaignState(st), nil
}

// InflightCampaign counts a campaign's sends under way at now (leases not
// yet ended): cancel waits for it to reach zero.
func (s *Store) InflightCampaign(ctx context.Context, account, id string, now time.Time) (int64, error) {
	return s.rdb.ZCount(ctx, keys.Account(account).CampaignInflight(id), strconv.FormatInt(ms(now)+1, 10), "+inf").Result()
}

// GetCampaign reads a campaign's report at now.
func (s *Store) GetCampaign(ctx context.Context, account, id string, now time.Time) (*Campaign, error) {
	h, err := s.rdb.HGetAll(ctx, keys.Account(account).Campaign(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("campaign %q: %w", id, ErrNotFound)
	}
	c := &Campaign{ID: id, Account: account, State: CampaignState(h["st"]), Counts: map[State]int{}, Reason: h["rs"],
		Enqueued: h["fin"] == "1", CreatedAt: msTime(h["ca"])}
	c.Total, _ = strconv.Atoi(h["tot"])
	finished := 0
	for k, v := range h {
		if st, ok := strings.CutPrefix(k, "n:"); ok {
			n, _ := strconv.Atoi(v)
			if n != 0 {
				c.Counts[State(st)] = n
			}
			if State(st).Terminal() {
				finished += n
			}
		}
	}
	c.Fed = c.Total
	if _, packed := h["nc"]; packed {
		// Rows not fed yet have no record: queued, or scheduled before the
		// start's --at, or cancelled with their campaign.
		c.Fed, _ = strconv.Atoi(h["fd"])
		if unfed := c.Total - c.Fed; unfed > 0 {
			st := Queued
			switch {
			case c.State == CampaignCancelled:
				st = Cancelled
				finished += unfed
			case now.Before(msTime(h["nb"])):
				st = Scheduled
			}
			c.Counts[st] += unfed
		}
	}
	c.Left = c.Total - finished
	// The send rate over the last 10 and 60 whole seconds.
	sec := now.Unix()
	var rk []string
	for i := int64(1); i <= 60; i++ {
		rk = append(rk, keys.Account(account).CampaignRate(id, sec-i))
	}
	vals, err := s.rdb.MGet(ctx, rk...).Result()
	if err != nil {
		return nil, fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	sent10, sent60 := 0, 0
	for i, v := range vals {
		n := atoi(v)
		if i < 10 {
			sent10 += n
		}
		sent60 += n
	}
	c.Rate = float64(sent10) / 10
	if ft := msTime(h["ft"]); !ft.IsZero() && now.Sub(ft) >= 70*time.Second {
		c.Rate60 = float64(sent60) / 60
	}
	if c.Left > 0 && c.Rate > 0 {
		c.ETA = time.Duration(float64(c.Left) / c.Rate * float64(time.Second))
	}
	if c.State == CampaignRunning && c.Enqueued && finished == c.Total {
		c.State = CampaignDone
	}
	return c, nil
}
