// Package optout keeps each account's opt-out list: per channel, the
// recipients who asked for no more marketing, by contact id, client id
// and/or phone digits. The webhook's keywords and `sendq optout` write it;
// the send chain checks it before a marketing template.
//
// The list of an account and channel is one sorted set in the account's key
// space (keys.Space.OptOut), members the recipient keys of
// tasks.Recipient.Key ("c:<contact id>", "l:<client id>", "p:<digits>"),
// scored by when the recipient opted out.
package optout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

// Store is the opt-out list of every account. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
}

// Config configures a Store. It has nothing to set yet.
type Config struct{}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, _ Config) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("optout: no Redis client")
	}
	return &Store{rdb: rdb}, nil
}

// Entry is one identifier on the list: exactly one of ContactID, ClientID
// and Phone is set.
type Entry struct {
	Channel   tasks.Channel `json:"channel"`
	ContactID string        `json:"contact_id,omitempty"`
	ClientID  string        `json:"client_id,omitempty"`
	Phone     string        `json:"phone,omitempty"`
	// At is when the recipient opted out.
	At time.Time `json:"at"`
}

// members returns the list's members for every identifier of r that is set
// (the webhook knows both a contact id and a phone), the phone normalised.
func members(r tasks.Recipient) ([]any, error) {
	var ms []any
	if id := strings.TrimSpace(r.ContactID); id != "" {
		ms = append(ms, "c:"+id)
	}
	if id := strings.TrimSpace(r.ClientID); id != "" {
		ms = append(ms, "l:"+id)
	}
	if r.Phone != "" {
		p, err := tasks.NormalizePhone(r.Phone)
		if err != nil {
			return nil, err
		}
		ms = append(ms, "p:"+p)
	}
	if len(ms) == 0 {
		return nil, &tasks.ValidationError{Field: "to", Reason: "a contact_id, client_id or phone is required"}
	}
	return ms, nil
}

// score is the member's score for an opt-out at t: never 0, which ZMSCORE
// gives for a member that is not listed.
func score(t time.Time) float64 { return float64(max(t.UnixMilli(), 1)) }

func checkChannel(ch tasks.Channel) error {
	if !ch.Valid() {
		return &tasks.ValidationError{Field: "channel", Reason: "must be whatsapp, telegram, instagram or messenger"}
	}
	return nil
}

// Add puts every identifier of r that is set on the account's list for
// channel ch, as opted out at at. An identifier already listed keeps its
// first time. It reports how many identifiers were new.
func (s *Store) Add(ctx context.Context, space keys.Space, ch tasks.Channel, r tasks.Recipient, at time.Time) (int, error) {
	if err := checkChannel(ch); err != nil {
		return 0, err
	}
	ms, err := members(r)
	if err != nil {
		return 0, err
	}
	zs := make([]redis.Z, len(ms))
	for i, m := range ms {
		zs[i] = redis.Z{Score: score(at), Member: m}
	}
	n, err := s.rdb.ZAddNX(ctx, space.OptOut(string(ch)), zs...).Result()
	if err != nil {
		return 0, fmt.Errorf("optout: add: %w", err)
	}
	return int(n), nil
}

// Remove takes every identifier of r that is set off the account's list for
// channel ch. It reports how many were listed.
func (s *Store) Remove(ctx context.Context, space keys.Space, ch tasks.Channel, r tasks.Recipient) (int, error) {
	if err := checkChannel(ch); err != nil {
		return 0, err
	}
	ms, err := members(r)
	if err != nil {
		return 0, err
	}
	n, err := s.rdb.ZRem(ctx, space.OptOut(string(ch)), ms...).Result()
	if err != nil {
		return 0, fmt.Errorf("optout: remove: %w", err)
	}
	return int(n), nil
}

// Check reports whether the recipient is opted out on channel ch: whether
// any identifier of r that is set is listed. r is a validated message's
// recipient (its phone in digits); a recipient with none is not opted out.
func (s *Store) Check(ctx context.Context, space keys.Space, ch tasks.Channel, r tasks.Recipient) (bool, error) {
	p := s.rdb.Pipeline()
	res := s.CheckIn(ctx, p, space, ch, r)
	if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("optout: check: %w", err)
	}
	return res()
}

// CheckIn queues Check on pipe, so that a handler may share the round trip
// with its other look-ups; the result is ready once pipe has run.
func (s *Store) CheckIn(ctx context.Context, pipe redis.Pipeliner, space keys.Space, ch tasks.Channel, r tasks.Recipient) func() (bool, error) {
	var ms []string
	for _, m := range []struct{ prefix, id string }{{"c:", r.ContactID}, {"l:", r.ClientID}, {"p:", r.Phone}} {
		if m.id != "" {
			ms = append(ms, m.prefix+m.id)
		}
	}
	if len(ms) == 0 {
		return func() (bool, error) { return false, nil }
	}
	cmd := pipe.ZMScore(ctx, space.OptOut(string(ch)), ms...)
	return func() (bool, error) {
		scores, err := cmd.Result()
		if err != nil {
			return false, fmt.Errorf("optout: check: %w", err)
		}
		for _, sc := range scores {
			if sc != 0 {
				return true, nil
			}
		}
		return false, nil
	}
}

// List returns the account's entries for channel ch, oldest first: count of
// them from offset on (count 0: all from offset), and the total listed.
func (s *Store) List(ctx context.Context, space keys.Space, ch tasks.Channel, offset, count int) ([]Entry, int, error) {
	if err := checkChannel(ch); err != nil {
		return nil, 0, err
	}
	key := space.OptOut(string(ch))
	p := s.rdb.Pipeline()
	stop := int64(-1)
	if count > 0 {
		stop = int64(offset + count - 1)
	}
	rng := p.ZRangeWithScores(ctx, key, int64(offset), stop)
	total := p.ZCard(ctx, key)
	if _, err := p.Exec(ctx); err != nil {
		return nil, 0, fmt.Errorf("optout: list: %w", err)
	}
	zs := rng.Val()
	entries := make([]Entry, 0, len(zs))
	for _, z := range zs {
		e := Entry{Channel: ch, At: time.UnixMilli(int64(z.Score)).UTC()}
		m, _ := z.Member.(string)
		kind, id, _ := strings.Cut(m, ":")
		switch kind {
		case "c":
			e.ContactID = id
		case "l":
			e.ClientID = id
		case "p":
			e.Phone = id
		default:
			continue
		}
		entries = append(entries, e)
	}
	return entries, int(total.Val()), nil
}

// importChunk is how many entries one pipelined round trip of Import adds.
const importChunk = 1000

// Import adds many entries at once, pipelined; each entry's At, or at where
// it has none. Entries are checked first: an invalid one (its index in the
// error) adds nothing. It reports how many identifiers were new.
func (s *Store) Import(ctx context.Context, space keys.Space, entries []Entry, at time.Time) (int, error) {
	type add struct {
		key string
		z   redis.Z
	}
	adds := make([]add, 0, len(entries))
	for i, e := range entries {
		if err := checkChannel(e.Channel); err != nil {
			return 0, fmt.Errorf("optout: import: entry %d: %w", i, err)
		}
		ms, err := members(tasks.Recipient{ContactID: e.ContactID, ClientID: e.ClientID, Phone: e.Phone})
		if err != nil {
			return 0, fmt.Errorf("optout: import: entry %d: %w", i, err)
		}
		t := e.At
		if t.IsZero() {
			t = at
		}
		for _, m := range ms {
			adds = append(adds, add{space.OptOut(string(e.Channel)), redis.Z{Score: score(t), Member: m}})
		}
	}
	added := 0
	for len(adds) > 0 {
		chunk := adds[:min(importChunk, len(adds))]
		adds = adds[len(chunk):]
		p := s.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(chunk))
		for i, a := range chunk {
			cmds[i] = p.ZAddNX(ctx, a.key, a.z)
		}
		if _, err := p.Exec(ctx); err != nil {
			return added, fmt.Errorf("optout: import: %w", err)
		}
		for _, c := range cmds {
			added += int(c.Val())
		}
	}
	return added, nil
}
