package outcome

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
)

// Event is one transition on an account's event stream: every change of a
// message's state adds one, capped at Config.EventsMax.
type Event struct {
	// ID is the event's id on its account's stream: unique there, ordered,
	// and the same when an event is read again.
	ID        string
	Account   string
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

// EventGroup reads the event streams of some accounts as one consumer of a
// consumer group: each event goes to one consumer of the group, and stays
// pending for it until it acknowledges the event (or another consumer
// claims it).
//
// Each account's stream lives in its key space. On one Redis server (or
// Sentinel) one command reads every stream; Redis Cluster refuses a command
// over keys of several slots, so there the streams are read one by one,
// without blocking, and an idle Next waits in the process instead.
type EventGroup struct {
	rdb      redis.UniversalClient
	group    string
	consumer string
	accounts []string
	streams  []string // accounts' event streams, in the same order
	cluster  bool
}

// EventGroup returns the reader of accounts' event streams for consumer, in
// group. Call Join before reading.
func (s *Store) EventGroup(group, consumer string, accounts []string) *EventGroup {
	g := &EventGroup{rdb: s.rdb, group: group, consumer: consumer, accounts: accounts}
	for _, a := range accounts {
		g.streams = append(g.streams, keys.Account(a).Events())
	}
	_, g.cluster = s.rdb.(*redis.ClusterClient)
	return g
}

// Join creates the group on every stream, which then starts from the
// stream's first event, unless it exists already.
func (g *EventGroup) Join(ctx context.Context) error {
	for _, stream := range g.streams {
		err := g.rdb.XGroupCreateMkStream(ctx, stream, g.group, "0").Err()
		if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
			return fmt.Errorf("outcome: join event group %s: %w", g.group, err)
		}
	}
	return nil
}

// Pending returns up to count of the events this consumer was given and has
// not acknowledged, oldest first within an account, without waiting.
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
	return readEach(ctx, g.cluster, g.accounts, block, func(accounts []string, block time.Duration) ([]Event, error) {
		streams := make([]string, len(accounts))
		for i, a := range accounts {
			streams[i] = keys.Account(a).Events()
		}
		return g.readStreams(ctx, streams, accounts, from, block, count)
	})
}

// readEach reads the event streams of accounts with read: all at once on
// one Redis server, or, on Redis Cluster, which refuses one command over
// keys of several slots, one account at a time without blocking, until one
// has events; an idle wait of block is then spent in the process.
func readEach(ctx context.Context, cluster bool, accounts []string, block time.Duration,
	read func(accounts []string, block time.Duration) ([]Event, error)) ([]Event, error) {
	if !cluster || len(accounts) == 1 {
		return read(accounts, block)
	}
	for i := range accounts {
		evs, err := read(accounts[i:i+1], -1)
		if len(evs) > 0 || err != nil {
			return evs, err
		}
	}
	if block > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(block):
		}
	}
	return nil, nil
}

func (g *EventGroup) readStreams(ctx context.Context, streams, accounts []string, from string, block time.Duration, count int) ([]Event, error) {
	args := append([]string{}, streams...)
	for range streams {
		args = append(args, from)
	}
	res, err := g.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: g.group, Consumer: g.consumer,
		Streams: args, Count: int64(count), Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outcome: read events: %w", err)
	}
	var out []Event
	for _, s := range res {
		out = append(out, events(accounts[slices.Index(streams, s.Stream)], s.Messages)...)
	}
	return out, nil
}

// Claim takes over up to count events that other consumers of the group
// were given and left unacknowledged for at least minIdle (they died), and
// returns them.
func (g *EventGroup) Claim(ctx context.Context, minIdle time.Duration, count int) ([]Event, error) {
	var out []Event
	for i, stream := range g.streams {
		msgs, _, err := g.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: g.group,
			Consumer: g.consumer, MinIdle: minIdle, Start: "0-0", Count: int64(count)}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("outcome: claim events: %w", err)
		}
		if out = append(out, events(g.accounts[i], msgs)...); len(out) >= count {
			break
		}
	}
	return out, nil
}

// Ack acknowledges ev: no consumer of the group is given it again.
func (g *EventGroup) Ack(ctx context.Context, ev Event) error {
	if err := g.rdb.XAck(ctx, keys.Account(ev.Account).Events(), g.group, ev.ID).Err(); err != nil {
		return fmt.Errorf("outcome: ack event %s: %w", ev.ID, err)
	}
	return nil
}

func events(account string, msgs []redis.XMessage) []Event {
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		id, _ := m.Values[evMessage].(string)
		st, _ := m.Values[evState].(string)
		at, _ := m.Values[evAt].(string)
		out = append(out, Event{ID: m.ID, Account: account, MessageID: id, State: State(st), At: msTime(at)})
	}
	return out
}
