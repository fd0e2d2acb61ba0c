package outcome

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/rowpack"
	"github.com/sendq/sendq/tasks"
)

// A campaign's rows are stored once, packed (package rowpack), in chunks
// under the campaign, with the set of its recipients beside them; the
// campaign's feeder (see feed.go) turns them into records and tasks a few
// seconds ahead of their sends. The campaign hash keeps, besides its state
// and counts:
//
//	tot   rows stored (every start's)   nc  chunks stored
//	fd    rows fed so far               fc, fo  the next row: chunk, row in it
//	b<i>  start bases (rowpack.Base)    nbase  how many
//	nb    a start's --at (unix ms)      mx  1 if a row's channel or kind may
//	                                        not be base b0's (see unfed)
//	pend  a fed batch whose tasks may not all be enqueued: "chunk:row:n"
//	pt    when that batch was fed (unix ms)
//	ft    when the first row was fed (unix ms)
//
// A row not yet fed has no record: it counts, and reads, as queued (as
// scheduled before nb, as cancelled once its campaign is).

// RowsStart is where one start of a campaign stores its rows.
type RowsStart struct {
	Base      int // the start's base number
	NextChunk int // the number its next chunk takes
}

// BeginRows prepares a start of account's campaign id whose rows share
// base: it stores base unless an earlier start stored the same, and notes
// the start's notBefore (zero: none).
func (s *Store) BeginRows(ctx context.Context, account, id string, base tasks.Message, notBefore time.Time) (RowsStart, error) {
	var rs RowsStart
	data, err := json.Marshal(rowpack.Base(base))
	if err != nil {
		return rs, fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	key := keys.Account(account).Campaign(id)
	h, err := s.rdb.HMGet(ctx, key, "nbase", "nc").Result()
	if err != nil {
		return rs, fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	nbase := atoi(h[0])
	rs.NextChunk = atoi(h[1])
	rs.Base = -1
	var first tasks.Message
	for i := range nbase {
		b, err := s.rdb.HGet(ctx, key, "b"+strconv.Itoa(i)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return rs, fmt.Errorf("outcome: campaign %s: %w", id, err)
		}
		if b == string(data) {
			rs.Base = i
		}
		if i == 0 {
			_ = json.Unmarshal([]byte(b), &first)
		}
	}
	fields := []any{}
	if rs.Base < 0 {
		rs.Base = nbase
		fields = append(fields, "b"+strconv.Itoa(nbase), data, "nbase", nbase+1)
		// An unfed row reads its channel and kind from b0 (see unfed):
		// a start of another channel or kind makes them unknown.
		if nbase > 0 && (first.Channel != base.Channel || first.Kind != base.Kind) {
			fields = append(fields, "mx", 1)
		}
	}
	if !notBefore.IsZero() {
		fields = append(fields, "nb", ms(notBefore))
	}
	if len(fields) > 0 {
		if err := s.rdb.HSet(ctx, key, fields...).Err(); err != nil {
			return rs, fmt.Errorf("outcome: campaign %s: %w", id, err)
		}
	}
	return rs, nil
}

// KnownMembers reports which of members account's campaign id holds
// already (stored by an earlier start).
func (s *Store) KnownMembers(ctx context.Context, account, id string, members [][rowpack.MemberSize]byte) ([]bool, error) {
	args := make([]any, len(members))
	for i, m := range members {
		args[i] = m[:]
	}
	known, err := s.rdb.SMIsMember(ctx, keys.Account(account).CampaignMembers(id), args...).Result()
	if err != nil {
		return nil, fmt.Errorf("outcome: campaign %s: %w", id, err)
	}
	return known, nil
}

// AppendRows stores one chunk of a start's rows (rowpack.Writer.Chunk) as
// chunk number rs.NextChunk, with the rows' members, and makes the campaign
// one to feed. whole says a row of it differs from its base. A start holds
// the campaign's lock; a chunk number already taken means another start
// stored one meanwhile, and is an error.
func (s *Store) AppendRows(ctx context.Context, account, id string, rs *RowsStart, chunk []byte, members [][rowpack.MemberSize]byte, whole bool, now time.Time) error {
	space := keys.Account(account)
	args := []any{rs.NextChunk, len(members), b2i(whole), ms(now), id, chunk}
	for _, m := range members {
		args = append(args, m[:])
	}
	k := []string{space.Campaign(id), space.CampaignMembers(id), space.CampaignRows(id, rs.NextChunk), space.Feeding()}
	ok, err := appendRowsScript.Run(ctx, s.rdb, k, args...).Int()
	if err != nil {
		return fmt.Errorf("outcome: campaign %s: store rows: %w", id, err)
	}
	if ok == 0 {
		return fmt.Errorf("campaign %q: %w", id, ErrCampaignBusy)
	}
	rs.NextChunk++
	return nil
}

// appendRowsScript: KEYS 1 campaign, 2 members, 3 the chunk, 4 the account's
// feeding set. ARGV 1 chunk number, 2 rows, 3 whole (0/1), 4 now ms,
// 5 campaign id, 6 the chunk, 7.. members.
var appendRowsScript = redis.NewScript(`
if tonumber(redis.call('HGET', KEYS[1], 'nc') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[3], ARGV[6])
for i = 7, #ARGV, 5000 do
  redis.call('SADD', KEYS[2], unpack(ARGV, i, math.min(i + 4999, #ARGV)))
end
redis.call('HINCRBY', KEYS[1], 'tot', ARGV[2])
redis.call('HSET', KEYS[1], 'nc', ARGV[1] + 1)
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'mx', 1) end
redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[5])
return 1
`)

// MarkFeeding lists account among those with campaigns to feed; a start
// calls it after storing rows (see DropFeedingAccount for the order).
func (s *Store) MarkFeeding(ctx context.Context, account string) error {
	return s.rdb.SAdd(ctx, keys.FeedingAccounts(), account).Err()
}

// unfed finds the implicit record of id in accounts: a campaign's row not
// fed yet. It returns ErrNotFound when id is no such row.
func (s *Store) unfed(ctx context.Context, accounts []string, id string) (*Record, error) {
	notFound := fmt.Errorf("message %q: %w", id, ErrNotFound)
	campaign, member, ok := rowpack.ParseMessageID(id)
	if !ok {
		return nil, notFound
	}
	owner, err := s.rdb.HGet(ctx, keys.Campaigns(), campaign).Result()
	if errors.Is(err, redis.Nil) || (err == nil && !slices.Contains(accounts, owner)) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("outcome: find %s: %w", id, err)
	}
	space := keys.Account(owner)
	p := s.rdb.Pipeline()
	in := p.SIsMember(ctx, space.CampaignMembers(campaign), member[:])
	h := p.HMGet(ctx, space.Campaign(campaign), "st", "nb", "b0", "mx", "ca")
	if _, err := p.Exec(ctx); err != nil {
		return nil, fmt.Errorf("outcome: find %s: %w", id, err)
	}
	if !in.Val() {
		return nil, notFound
	}
	v := h.Val()
	r := &Record{ID: id, Account: owner, Campaign: campaign, State: Queued, CreatedAt: msTime(str(v[4]))}
	if nb := msTime(str(v[1])); time.Now().Before(nb) {
		r.State, r.NotBefore, r.Reason = Scheduled, nb, "at"
	}
	if str(v[0]) == string(CampaignCancelled) {
		r.State, r.NotBefore, r.Reason = Cancelled, time.Time{}, ""
	}
	var base tasks.Message
	if str(v[3]) != "1" && json.Unmarshal([]byte(str(v[2])), &base) == nil {
		r.Channel, r.Kind = string(base.Channel), string(base.Kind)
	}
	return r, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func atoi(v any) int {
	n, _ := strconv.Atoi(str(v))
	return n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
