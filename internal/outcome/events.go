package outcome

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
)

// Event is one transition on the event stream: every change of a message's
// state adds one, capped at Config.EventsMax.
type Event struct {
	// ID is the event's id on the stream: unique, ordered, and the same when
	// an event is read again.
	ID        string
	MessageID string
	// State is the message's state from this transition on. An event that
	// the cap removed after it was read reads with neither State nor
	// MessageID.
	State State
	At    time.Time
}

// Event stream fields, as the scripts in lua.go write them.
const (
	evMessage = "id"
	evState   = "st"
	evAt      = "t"
)

// EventGroup reads the event stream as one consumer of a consumer group:
// each event goes to one consumer of the group, and stays pending for it
// until it acknowledges the event (or another consumer claims it).
type EventGroup struct {
	rdb      redis.UniversalClient
	group    string
	consumer string
}

// EventGroup returns the reader of the event stream for consumer, in group.
// Call Join before reading.
func (s *Store) EventGroup(group, consumer string) *EventGroup {
	return &EventGroup{rdb: s.rdb, group: group, consumer: consumer}
}

// Join creates the group, which then starts from the stream's first event,
// unless it exists already.
func (g *EventGroup) Join(ctx context.Context) error {
	err := g.rdb.XGroupCreateMkStream(ctx, keys.Events(), g.group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("outcome: join event group %s: %w", g.group, err)
	}
	return nil
}

// Pending returns up to count of the events this consumer was given and has
// not acknowledged, oldest first, without waiting.
func (g *EventGroup) Pending(ctx context.Context, count int) ([]Event, error) {
	return g.read(ctx, "0", -1, count)
}

// Next returns up to count events that no consumer of the group was given
// yet, waiting up to block for the first one (block <= 0: not at all).
func (g *EventGroup) Next(ctx context.Context, block time.Duration, count int) ([]Event, error) {
	if block <= 0 {
		block = -1 // no BLOCK: return at once
	}
	return g.read(ctx, ">", block, count)
}

func (g *EventGroup) read(ctx context.Context, from string, block time.Duration, count int) ([]Event, error) {
	res, err := g.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: g.group, Consumer: g.consumer,
		Streams: []string{keys.Events(), from}, Count: int64(count), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outcome: read events: %w", err)
	}
	var out []Event
	for _, s := range res {
		out = append(out, events(s.Messages)...)
	}
	return out, nil
}

// Claim takes over up to count events that other consumers of the group
// were given and left unacknowledged for at least minIdle (they died), and
// returns them.
func (g *EventGroup) Claim(ctx context.Context, minIdle time.Duration, count int) ([]Event, error) {
	msgs, _, err := g.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: keys.Events(), Group: g.group,
		Consumer: g.consumer, MinIdle: minIdle, Start: "0-0", Count: int64(count)}).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("outcome: claim events: %w", err)
	}
	return events(msgs), nil
}

// Ack acknowledges the event id: no consumer of the group is given it again.
func (g *EventGroup) Ack(ctx context.Context, id string) error {
	if err := g.rdb.XAck(ctx, keys.Events(), g.group, id).Err(); err != nil {
		return fmt.Errorf("outcome: ack event %s: %w", id, err)
	}
	return nil
}

func events(msgs []redis.XMessage) []Event {
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		id, _ := m.Values[evMessage].(string)
		st, _ := m.Values[evState].(string)
		at, _ := m.Values[evAt].(string)
		out = append(out, Event{ID: m.ID, MessageID: id, State: State(st), At: msTime(at)})
	}
	return out
}
