package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

// Member is how a waiting message is named in a waiting set: its asynq queue
// and task id, so that it can be released without looking anything up.
func Member(queue, id string) string { return queue + " " + id }

func splitMember(m string) (queue, id string, ok bool) {
	return strings.Cut(m, " ")
}

// Release moves every message waiting for the contact (named by contact id,
// phone digits, or both) on ch to its queue, at once and in enqueue order.
//
// A message whose handler is still running (it is being parked right now) is
// returned in busy, still indexed: the caller tries again shortly. Messages
// that no longer exist (sent or expired meanwhile) are dropped from the index.
func (s *Store) Release(ctx context.Context, ins *asynq.Inspector, ch tasks.Channel, contactID, phone string) (released int, busy []string, err error) {
	var sets []string
	for _, w := range identities(contactID, phone) {
		sets = append(sets, keys.Waiting(string(ch), w))
	}
	return ReleaseSets(ctx, s.rdb, ins, sets...)
}

// ReleaseSets moves the messages named in the sorted sets (members made by
// Member, scored in enqueue order) to their queues' pending lists, in order,
// and removes them from the sets. It serves waiting contacts and resumed
// campaigns alike. Messages still running are returned in busy and kept.
func ReleaseSets(ctx context.Context, rdb redis.UniversalClient, ins *asynq.Inspector, sets ...string) (released int, busy []string, err error) {
	type waiting struct {
		key, member string
		score       float64
	}
	var all []waiting
	for _, key := range sets {
		zs, err := rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		if err != nil {
			return 0, nil, fmt.Errorf("session: release: %w", err)
		}
		for _, z := range zs {
			all = append(all, waiting{key, z.Member.(string), z.Score})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].score < all[j].score })

	done := map[string]bool{}
	for _, w := range all {
		if done[w.member] {
			rdb.ZRem(ctx, w.key, w.member)
			continue
		}
		queue, id, ok := splitMember(w.member)
		if ok {
			err := ins.RunTask(queue, id)
			switch {
			case err == nil:
				released++
			case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound),
				strings.Contains(err.Error(), "already in pending"):
			case strings.Contains(err.Error(), "already running"):
				busy = append(busy, w.member)
				continue
			default:
				return released, busy, fmt.Errorf("session: release %s: %w", id, err)
			}
		}
		done[w.member] = true
		// A failure here leaves the member to be dropped by a later release.
		rdb.ZRem(ctx, w.key, w.member)
	}
	return released, busy, nil
}

// ReleaseAll is Release, tried again every poll while some messages are still
// being parked by their handlers, for at most patience.
func (s *Store) ReleaseAll(ctx context.Context, ins *asynq.Inspector, ch tasks.Channel, contactID, phone string, patience, poll time.Duration) (int, error) {
	total := 0
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		n, busy, err := s.Release(ctx, ins, ch, contactID, phone)
		total += n
		if err != nil || len(busy) == 0 {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-deadline.C:
			return total, nil // the rest are found by their own re-check
		case <-tick.C:
		}
	}
}
