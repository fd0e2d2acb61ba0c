package session

import (
	"context"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

// WaitingSet is the set of messages waiting for one contact's window on a
// channel, across the identities the contact is known by (contact id,
// phone digits, or both): the outcome store's Park adds them, in enqueue
// order.
type WaitingSet struct {
	rdb  redis.UniversalClient
	keys []string
}

// Waiting returns the set of messages waiting for the contact of account,
// named by contact id, phone digits, or both, on ch.
func (s *Store) Waiting(account string, ch tasks.Channel, contactID, phone string) WaitingSet {
	set := WaitingSet{rdb: s.rdb}
	space := keys.Account(account)
	for _, w := range identities(contactID, phone) {
		set.keys = append(set.keys, space.Waiting(string(ch), w))
	}
	return set
}

// Members lists the waiting messages, as Park named them, each once and in
// enqueue order across the contact's identities.
func (w WaitingSet) Members(ctx context.Context) ([]string, error) {
	var all []redis.Z
	for _, key := range w.keys {
		zs, err := w.rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		if err != nil {
			return nil, fmt.Errorf("session: waiting messages: %w", err)
		}
		all = append(all, zs...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Score < all[j].Score })
	seen := make(map[string]bool, len(all))
	members := make([]string, 0, len(all))
	for _, z := range all {
		m := z.Member.(string)
		if !seen[m] {
			seen[m] = true
			members = append(members, m)
		}
	}
	return members, nil
}

// Remove takes member out of the contact's waiting sets: it waits no longer.
func (w WaitingSet) Remove(ctx context.Context, member string) error {
	_, err := w.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, key := range w.keys {
			p.ZRem(ctx, key, member)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("session: waiting messages: %w", err)
	}
	return nil
}
