package outcome

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
)

// ErrEventID is returned (wrapped) by EventsAfter for an id that is not an
// event id.
var ErrEventID = errors.New("not an event id")

// LastEventIDs returns the id of the newest event on each account's
// stream ("0-0" for an empty one), in one round trip per Redis node:
// reading after them gives the events from now on.
func (s *Store) LastEventIDs(ctx context.Context, accounts []string) (map[string]string, error) {
	p := s.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(accounts))
	for i, a := range accounts {
		cmds[i] = p.XRevRangeN(ctx, keys.Account(a).Events(), "+", "-", 1)
	}
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("outcome: last events: %w", err)
	}
	last := make(map[string]string, len(accounts))
	for i, a := range accounts {
		last[a] = "0-0"
		if msgs := cmds[i].Val(); len(msgs) > 0 {
			last[a] = msgs[0].ID
		}
	}
	return last, nil
}

// EventsAfter returns up to count events of the accounts of after, each
// after the event id after names for its account, oldest first within an
// account, waiting up to block for the first one (block <= 0: not at all).
// Unlike an EventGroup it keeps no state in Redis: any number of readers
// may follow the streams, each from its own positions (see readEach for
// Redis Cluster).
func (s *Store) EventsAfter(ctx context.Context, after map[string]string, block time.Duration, count int) ([]Event, error) {
	accounts := make([]string, 0, len(after))
	for a, id := range after {
		if !validEventID(id) {
			return nil, fmt.Errorf("event id %q: %w", id, ErrEventID)
		}
		accounts = append(accounts, a)
	}
	slices.Sort(accounts)
	if block <= 0 {
		block = -1 // no BLOCK
	}
	_, cluster := s.rdb.(*redis.ClusterClient)
	return readEach(ctx, cluster, accounts, block, func(accounts []string, block time.Duration) ([]Event, error) {
		return s.readAfter(ctx, accounts, after, block, count)
	})
}

func (s *Store) readAfter(ctx context.Context, accounts []string, after map[string]string, block time.Duration, count int) ([]Event, error) {
	streams := make([]string, 0, 2*len(accounts))
	for _, a := range accounts {
		streams = append(streams, keys.Account(a).Events())
	}
	for _, a := range accounts {
		streams = append(streams, after[a])
	}
	res, err := s.rdb.XRead(ctx, &redis.XReadArgs{Streams: streams, Count: int64(count), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outcome: read events: %w", err)
	}
	var out []Event
	for _, st := range res {
		out = append(out, events(accounts[slices.Index(streams[:len(accounts)], st.Stream)], st.Messages)...)
	}
	return out, nil
}

// validEventID reports whether id is a stream id: MS-SEQ, two whole numbers.
func validEventID(id string) bool {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}

// GetMany returns the records of account's ids in one round trip, nil for
// an id with no record. Unlike Get it does not read the campaigns' state.
func (s *Store) GetMany(ctx context.Context, account string, ids []string) ([]*Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, keys.Account(account).Outcome(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("outcome: get records: %w", err)
	}
	out := make([]*Record, len(ids))
	for i, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			out[i] = fromHash(ids[i], h)
			out[i].Account = cmp.Or(account, keys.DefaultAccount)
		}
	}
	return out, nil
}
