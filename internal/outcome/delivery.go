package outcome

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

// deliveryRank orders the delivery statuses so that a late "delivered" never
// overwrites "read".
var deliveryRank = map[string]int{"sent": 1, "delivered": 2, "read": 3}

// Delivery applies a delivery status the upstream reported for the message it
// knows as upstreamID: "delivered" and "read" are noted on the record, and
// "failed" (or "undelivered") turns a sent message failed with errMsg. It
// returns the message id, or "" when no message of account has that
// upstream id.
func (s *Store) Delivery(ctx context.Context, account, upstreamID, status, errMsg string, now time.Time) (string, error) {
	space := keys.Account(account)
	id, err := s.rdb.Get(ctx, space.Upstream(upstreamID)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("outcome: delivery: %w", err)
	}
	rec, err := s.Get(ctx, account, id)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	switch status {
	case "failed", "undelivered", "error":
		if errMsg == "" {
			errMsg = "the upstream reported the message " + status
		}
		m := &tasks.Message{ID: id, Account: account, Channel: tasks.Channel(rec.Channel), Kind: tasks.Kind(rec.Kind), Campaign: rec.Campaign}
		_, err := s.Finish(ctx, m, "", Result{State: Failed, Error: errMsg}, now)
		return id, err
	}
	if deliveryRank[status] > deliveryRank[rec.Delivery] {
		if err := s.rdb.HSet(ctx, space.Outcome(id), fDelivery, status).Err(); err != nil {
			return "", fmt.Errorf("outcome: delivery: %w", err)
		}
	}
	return id, nil
}
