package outcome

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

// Cursor is a position in a campaign's rows: a chunk and a row in it.
type Cursor struct{ Chunk, Row int }

// Pending is a fed batch whose tasks may not all be enqueued yet: n rows
// from At, fed at FedAt. A feeder that takes over enqueues it again (a task
// that exists, or whose record is finished, is not sent twice), with the
// creation time its records and first tasks had. At and N name the batch.
type Pending struct {
	At    Cursor
	N     int
	FedAt time.Time
}

func (p Pending) String() string { return fmt.Sprintf("%d:%d:%d", p.At.Chunk, p.At.Row, p.N) }

func parsePending(s, fedAt string) *Pending {
	p := Pending{FedAt: msTime(fedAt)}
	if _, err := fmt.Sscanf(s, "%d:%d:%d", &p.At.Chunk, &p.At.Row, &p.N); err != nil {
		return nil
	}
	return &p
}

// FeedState is what a feeder needs to know of a campaign.
type FeedState struct {
	ID        string
	State     CampaignState
	Total     int    // rows stored
	Fed       int    // rows fed
	Next      Cursor // the next row to feed
	Chunks    int
	NotBefore time.Time
	// Complete: every start has ended, so Total will not grow.
	Complete bool
	// Backlog is how many of its fed messages wait to be sent: queued or
	// retrying (not those set aside until a time or a contact's message).
	Backlog int
	// Parked is how many of its fed messages are scheduled: set aside until
	// a time (quiet hours, the messaging limit, --at).
	Parked  int
	Pending *Pending
}

// FeedingAccounts lists the accounts that may have campaigns to feed.
func (s *Store) FeedingAccounts(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, keys.FeedingAccounts()).Result()
}

// DropFeedingAccount takes account off the list when it has no campaign
// left to feed. A start lists its account after storing its rows, and this
// looks at the account's campaigns after taking it off, so that one of them
// never stands unlisted.
func (s *Store) DropFeedingAccount(ctx context.Context, account string) error {
	if err := s.rdb.SRem(ctx, keys.FeedingAccounts(), account).Err(); err != nil {
		return err
	}
	n, err := s.rdb.ZCard(ctx, keys.Account(account).Feeding()).Result()
	if err != nil || n == 0 {
		return err
	}
	return s.MarkFeeding(ctx, account)
}

// LeaseFeed takes, or keeps, the lease on feeding account's campaigns for
// ttl: only its holder feeds them. It reports whether token holds it.
func (s *Store) LeaseFeed(ctx context.Context, account, token string, ttl time.Duration) (bool, error) {
	ok, err := lockScript.Run(ctx, s.rdb, []string{keys.Account(account).FeedLease()}, token, ttl.Milliseconds()).Bool()
	if err != nil {
		return false, fmt.Errorf("outcome: feed lease %s: %w", account, err)
	}
	return ok, nil
}

// ReleaseFeed gives the lease back (a feeder that stops).
func (s *Store) ReleaseFeed(ctx context.Context, account, token string) error {
	return unlockScript.Run(ctx, s.rdb, []string{keys.Account(account).FeedLease()}, token).Err()
}

var feedFields = []string{"st", "tot", "fd", "fc", "fo", "nc", "nb", "fin", "n:queued", "n:retrying", "pend", "n:scheduled", "pt"}

// FeedStates reads the account's campaigns that have rows to feed, in the
// order of their first start.
func (s *Store) FeedStates(ctx context.Context, account string) ([]FeedState, error) {
	space := keys.Account(account)
	ids, err := s.rdb.ZRange(ctx, space.Feeding(), 0, -1).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	p := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = p.HMGet(ctx, space.Campaign(id), feedFields...)
	}
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("outcome: feed %s: %w", account, err)
	}
	out := make([]FeedState, len(ids))
	for i, id := range ids {
		v := cmds[i].Val()
		out[i] = FeedState{ID: id, State: CampaignState(str(v[0])), Total: atoi(v[1]), Fed: atoi(v[2]),
			Next: Cursor{atoi(v[3]), atoi(v[4])}, Chunks: atoi(v[5]), NotBefore: msTime(str(v[6])),
			Complete: str(v[7]) == "1", Backlog: atoi(v[8]) + atoi(v[9]), Pending: parsePending(str(v[10]), str(v[12])),
			Parked: atoi(v[11])}
	}
	return out, nil
}

// RowChunk reads a chunk of a campaign's rows (nil when it is gone).
func (s *Store) RowChunk(ctx context.Context, account, id string, chunk int) ([]byte, error) {
	b, err := s.rdb.Get(ctx, keys.Account(account).CampaignRows(id, chunk)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outcome: campaign %s rows: %w", id, err)
	}
	return b, nil
}

// CampaignBase reads the base of a campaign's start (see BeginRows).
func (s *Store) CampaignBase(ctx context.Context, account, id string, base int) (tasks.Message, error) {
	var m tasks.Message
	b, err := s.rdb.HGet(ctx, keys.Account(account).Campaign(id), "b"+strconv.Itoa(base)).Bytes()
	if err != nil {
		return m, fmt.Errorf("outcome: campaign %s base %d: %w", id, base, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("outcome: campaign %s base %d: %w", id, base, err)
	}
	return m, nil
}

// Feed outcomes other than success.
var (
	// ErrFeedLease: the lease is another feeder's now.
	ErrFeedLease = errors.New("outcome: feed lease lost")
	// ErrFeedMoved: the campaign was fed, paused or cancelled meanwhile.
	ErrFeedMoved = errors.New("outcome: campaign moved on")
)

// Feed records the messages of a batch of a running campaign's rows —
// those that follow f.Fed, from f.Next, up to next — as queued and moves
// the campaign's cursor past them, noting the batch as pending until
// Enqueued; all at once, and only for the lease's holder.
func (s *Store) Feed(ctx context.Context, account, token string, f FeedState, next Cursor, msgs []*tasks.Message, now time.Time) error {
	space := keys.Account(account)
	k := []string{space.Campaign(f.ID), space.Counts(), space.FeedLease()}
	pend := Pending{At: f.Next, N: len(msgs)}
	args := []any{token, f.Fed, next.Chunk, next.Row, len(msgs), pend.String(), ms(now), s.unfinishedTTL(), f.ID}
	for _, m := range msgs {
		k = append(k, space.Outcome(m.ID))
		args = append(args, string(m.Channel), string(m.Kind))
	}
	res, err := feedScript.Run(ctx, s.rdb, k, args...).Int()
	switch {
	case err != nil:
		return fmt.Errorf("outcome: feed %s: %w", f.ID, err)
	case res == -1:
		return ErrFeedLease
	case res < 0:
		return ErrFeedMoved
	}
	return nil
}

// feedScript: KEYS 1 campaign, 2 the account's counts, 3 the feed lease,
// 4.. the records. ARGV 1 token, 2 rows fed before, 3-4 the next cursor,
// 5 rows in the batch, 6 pending, 7 now ms, 8 retention ms, 9 campaign id,
// then (channel, kind) per record. Returns the records created, -1 when
// the lease is another's, -2 when the campaign is not running, -3 when its
// cursor moved.
var feedScript = redis.NewScript(`
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[1], 'st') ~= 'running' then return -2 end
if tonumber(redis.call('HGET', KEYS[1], 'fd') or '0') ~= tonumber(ARGV[2]) then return -3 end
local created = 0
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local a = 10 + (i - 4) * 2
    redis.call('HSET', KEYS[i], 'st', 'queued', 'ca', ARGV[7], 'ch', ARGV[a], 'k', ARGV[a + 1], 'cp', ARGV[9])
    redis.call('PEXPIRE', KEYS[i], ARGV[8])
    created = created + 1
  end
end
if created > 0 then
  redis.call('HINCRBY', KEYS[2], 'queued', created)
  redis.call('HINCRBY', KEYS[1], 'n:queued', created)
end
redis.call('HSET', KEYS[1], 'fd', tonumber(ARGV[2]) + tonumber(ARGV[5]), 'fc', ARGV[3], 'fo', ARGV[4], 'pend', ARGV[6], 'pt', ARGV[7])
redis.call('HSETNX', KEYS[1], 'ft', ARGV[7])
return created
`)

// Enqueued clears a batch's pending mark once its tasks are enqueued and
// drops the chunks wholly fed before next.
func (s *Store) Enqueued(ctx context.Context, account, id string, p Pending, next Cursor) error {
	space := keys.Account(account)
	k := []string{space.Campaign(id)}
	for c := p.At.Chunk; c < next.Chunk; c++ {
		k = append(k, space.CampaignRows(id, c))
	}
	return enqueuedScript.Run(ctx, s.rdb, k, p.String()).Err()
}

var enqueuedScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'pend') == ARGV[1] then redis.call('HDEL', KEYS[1], 'pend', 'pt') end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
`)

// StopFeeding takes a campaign off its account's feeding set once nothing
// is left to feed — every row of every start fed, or the campaign cancelled
// — dropping its chunks from from on. It reports whether it did: a start
// that stored rows meanwhile keeps the campaign on.
func (s *Store) StopFeeding(ctx context.Context, account, id string, from, chunks int) (bool, error) {
	space := keys.Account(account)
	k := []string{space.Campaign(id), space.Feeding()}
	for c := from; c < chunks; c++ {
		k = append(k, space.CampaignRows(id, c))
	}
	n, err := stopFeedingScript.Run(ctx, s.rdb, k, id).Int()
	if err != nil {
		return false, fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	return n == 1, nil
}

var stopFeedingScript = redis.NewScript(`
local st, tot, fd, fin = unpack(redis.call('HMGET', KEYS[1], 'st', 'tot', 'fd', 'fin'))
if st ~= 'cancelled' and not (fin == '1' and tonumber(tot or '0') == tonumber(fd or '0')) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], 'pend', 'pt')
for i = 3, #KEYS do redis.call('UNLINK', KEYS[i]) end
return 1
`)
