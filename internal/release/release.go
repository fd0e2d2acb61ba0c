// Package release puts messages that wait outside asynq's queues back into
// them: a contact's messages waiting for a session window (package session)
// and a paused campaign's held messages (package outcome). The stores keep
// the sets of waiting messages; this package is the asynq side, which moves
// each one's task to pending through the Inspector.
package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/sendq/sendq/internal/keys"
)

// Set is a store's ordered set of waiting messages, named by keys.Member.
type Set interface {
	// Members lists the messages in the order they are to be released.
	Members(ctx context.Context) ([]string, error)
	// Remove takes a message out of the set: it waits no longer.
	Remove(ctx context.Context, member string) error
}

// Once moves the tasks of the set's messages to their queues' pending
// lists, at once and in order, and removes the messages from the set.
//
// A message whose handler is still running (it is being parked right now)
// is returned in busy and kept in the set: the caller tries again shortly.
// Messages whose task no longer exists (sent or expired meanwhile) are
// removed.
func Once(ctx context.Context, ins *asynq.Inspector, set Set) (released int, busy []string, err error) {
	members, err := set.Members(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("release: %w", err)
	}
	for _, m := range members {
		if queue, id, ok := keys.SplitMember(m); ok {
			err := ins.RunTask(queue, id)
			switch {
			case err == nil:
				released++
			case gone(err):
			case running(err):
				busy = append(busy, m)
				continue
			default:
				return released, busy, fmt.Errorf("release %s: %w", id, err)
			}
		}
		// A failure here leaves the member to be dropped by a later release.
		_ = set.Remove(ctx, m)
	}
	return released, busy, nil
}

// gone reports whether RunTask found nothing to release: the task or its
// queue no longer exists, or the task is pending already.
func gone(err error) bool {
	// asynq v0.26 exports no sentinel for a task that is pending already.
	return errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) ||
		strings.Contains(err.Error(), "already in pending")
}

// running reports whether RunTask refused because the task's handler is
// running (asynq v0.26 exports no sentinel for it either).
func running(err error) bool { return strings.Contains(err.Error(), "already running") }

// All is Once, tried again every poll while some messages are still being
// parked by their handlers, for at most patience. It returns how many
// messages it released in all; those still busy at the end are found by
// their handlers' own re-check.
func All(ctx context.Context, ins *asynq.Inspector, set Set, patience, poll time.Duration) (int, error) {
	total := 0
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		n, busy, err := Once(ctx, ins, set)
		total += n
		if err != nil || len(busy) == 0 {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-deadline.C:
			return total, nil
		case <-tick.C:
		}
	}
}
