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

// ErrEventID is returned (wrapped) by EventsAfter for an id that is not an
// event id.
var ErrEventID = errors.New("not an event id")

// LastEventID returns the id of the newest event on the stream, or "0-0"
// when it is empty: reading after it gives the events from now on.
func (s *Store) LastEventID(ctx context.Context) (string, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, keys.Events(), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("outcome: last event: %w", err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// EventsAfter returns up to count events after the event id after, oldest
// first, waiting up to block for the first one (block <= 0: not at all).
// Unlike an EventGroup it keeps no state in Redis: any number of readers
// may follow the stream, each from its own position.
func (s *Store) EventsAfter(ctx context.Context, after string, block time.Duration, count int) ([]Event, error) {
	if !validEventID(after) {
		return nil, fmt.Errorf("event id %q: %w", after, ErrEventID)
	}
	if block <= 0 {
		block = -1 // no BLOCK
	}
	res, err := s.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{keys.Events(), after}, Count: int64(count), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outcome: read events: %w", err)
	}
	var out []Event
	for _, st := range res {
		out = append(out, events(st.Messages)...)
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

// GetMany returns the records of ids in one round trip, nil for an id with
// no record. Unlike Get it does not read the campaigns' state.
func (s *Store) GetMany(ctx context.Context, ids []string) ([]*Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, keys.Outcome(id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("outcome: get records: %w", err)
	}
	out := make([]*Record, len(ids))
	for i, c := range cmds {
		if h := c.Val(); len(h) > 0 {
			out[i] = fromHash(ids[i], h)
		}
	}
	return out, nil
}
