// Package session keeps each contact's 24-hour window: the time of the
// contact's last inbound message per channel (by contact id and by phone
// digits), a marker when the upstream refused a message as outside the
// window, and the index of messages waiting for a window to open.
//
// A window is open while now < inbound + window and no refusal came after the
// inbound message. With no record at all the window is unknown.
package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

// Field names of a session hash. The outcome package's park script reads them
// too (it checks, atomically with parking, that no window opened meanwhile).
const (
	FieldInbound = "in" // unix ms of the last inbound message
	FieldClosed  = "cl" // unix ms of the last "outside the window" answer
)

// Status is what is known of a contact's window.
type Status int

// The window statuses.
const (
	Unknown Status = iota // nothing on record
	Open
	Closed
)

func (s Status) String() string {
	switch s {
	case Open:
		return "open"
	case Closed:
		return "closed"
	}
	return "unknown"
}

// DefaultWindows are the channels' windows for text and media (whautomate-api.md).
// Telegram has none.
var DefaultWindows = map[tasks.Channel]time.Duration{
	tasks.WhatsApp:  24 * time.Hour,
	tasks.Messenger: 24 * time.Hour,
	tasks.Instagram: 24 * time.Hour,
}

// Config configures a Store.
type Config struct {
	// Windows per channel; a channel absent or 0 has no window. Defaults to
	// DefaultWindows when nil.
	Windows map[tasks.Channel]time.Duration
	// Keep is how long a session record outlives its last write. Defaults to
	// 8 days (a waiting message's default expiry is 7).
	Keep time.Duration
}

// Store reads and writes session windows.
type Store struct {
	rdb redis.UniversalClient
	cfg Config
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, cfg Config) (*Store, error) {
	if rdb == nil {
		return nil, errors.New("session: nil redis client")
	}
	if cfg.Windows == nil {
		cfg.Windows = DefaultWindows
	}
	if cfg.Keep == 0 {
		cfg.Keep = 8 * 24 * time.Hour
	}
	return &Store{rdb: rdb, cfg: cfg}, nil
}

// Window returns the channel's window (0: none, any time is fine).
func (s *Store) Window(ch tasks.Channel) time.Duration { return s.cfg.Windows[ch] }

// Applies reports whether the session rule holds back m: text and media on a
// channel with a window. Templates may always go.
func (s *Store) Applies(m *tasks.Message) bool {
	return m.Kind != tasks.KindTemplate && s.Window(m.Channel) > 0
}

// Who lists the identities under which a recipient's window is kept: a
// contact id or phone digits. A client id has none (an inbound event never
// names it), so its window is only learnt by trying.
func Who(r tasks.Recipient) []string {
	switch {
	case r.ContactID != "":
		return []string{"c:" + r.ContactID}
	case r.Phone != "":
		return []string{"p:" + r.Phone}
	}
	return nil
}

// LookupIn queues on the pipeline p the look-up of what is known of m's
// recipient's window at now, to go in one round trip with other commands
// (the worker's claim); call the returned function after p.Exec for the
// answer.
func (s *Store) LookupIn(ctx context.Context, p redis.Pipeliner, m *tasks.Message, now time.Time) func() (Status, error) {
	who := Who(m.To)
	if len(who) == 0 {
		return func() (Status, error) { return Unknown, nil }
	}
	cmd := p.HMGet(ctx, keys.Session(string(m.Channel), who[0]), FieldInbound, FieldClosed)
	return func() (Status, error) {
		v, err := cmd.Result()
		if err == nil && len(v) != 2 {
			err = fmt.Errorf("%d values for 2 fields", len(v))
		}
		if err != nil {
			return Unknown, fmt.Errorf("session: lookup: %w", err)
		}
		return decide(num(v[0]), num(v[1]), s.Window(m.Channel), now), nil
	}
}

func decide(inbound, closed int64, window time.Duration, now time.Time) Status {
	switch {
	case inbound == 0 && closed == 0:
		return Unknown
	case inbound > 0 && inbound >= closed && now.UnixMilli() < inbound+window.Milliseconds():
		return Open
	}
	return Closed
}

func num(v any) int64 {
	s, _ := v.(string)
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// closedScript records a refusal, keeping the later time.
var closedScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

// inboundScript records an inbound message: the later inbound time wins, and
// any refusal on record is forgotten (the contact has written since).
var inboundScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], 'in') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'in', ARGV[1]) end
redis.call('HDEL', KEYS[1], 'cl')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

// RecordInbound records an inbound message from a contact (by contact id,
// phone, or both) at at: it opens or refreshes the window.
func (s *Store) RecordInbound(ctx context.Context, ch tasks.Channel, contactID, phone string, at time.Time) error {
	for _, w := range identities(contactID, phone) {
		err := inboundScript.Run(ctx, s.rdb, []string{keys.Session(string(ch), w)},
			at.UnixMilli(), s.cfg.Keep.Milliseconds()).Err()
		if err != nil {
			return fmt.Errorf("session: record inbound: %w", err)
		}
	}
	return nil
}

// RecordClosed records that the upstream refused a message to m's recipient
// as outside the window: the window is known closed until the next inbound.
func (s *Store) RecordClosed(ctx context.Context, m *tasks.Message, at time.Time) error {
	for _, w := range Who(m.To) {
		err := closedScript.Run(ctx, s.rdb, []string{keys.Session(string(m.Channel), w)},
			FieldClosed, at.UnixMilli(), s.cfg.Keep.Milliseconds()).Err()
		if err != nil {
			return fmt.Errorf("session: record closed: %w", err)
		}
	}
	return nil
}

func identities(contactID, phone string) []string {
	var w []string
	if contactID != "" {
		w = append(w, "c:"+contactID)
	}
	if phone != "" {
		w = append(w, "p:"+phone)
	}
	return w
}

// Waits returns where a message to r waits on ch: the session hash and the
// waiting set of each identity.
func Waits(ch tasks.Channel, r tasks.Recipient) (sessions, waiting []string) {
	for _, w := range Who(r) {
		sessions = append(sessions, keys.Session(string(ch), w))
		waiting = append(waiting, keys.Waiting(string(ch), w))
	}
	return sessions, waiting
}
