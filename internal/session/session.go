// Package session keeps each contact's 24-hour window: the time of the
// contact's last inbound message per channel (by contact id and by phone
// digits), a marker when the upstream refused a message as outside the
// window, and the index of messages waiting for a window to open.
//
// A window is open while now < inbound + window and no refusal came after the
// inbound message. With no record at all the window is unknown. The rule runs
// in Redis, written once (see WindowLua).
package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
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

// DefaultWindows are the channels' windows for text and media (docs/whautomate-api.md).
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
	k, a, ok := s.lookupArgs(m, now)
	if !ok {
		return func() (Status, error) { return Unknown, nil }
	}
	cmd := lookupScript.EvalSha(ctx, p, k, a...)
	return func() (Status, error) {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") { // Redis restarted: load it
			cmd = lookupScript.Run(ctx, s.rdb, k, a...)
		}
		return status(cmd, "lookup")
	}
}

// lookupArgs are lookupScript's keys and arguments for m's recipient; not
// ok for a recipient whose window is not kept (see Who).
func (s *Store) lookupArgs(m *tasks.Message, now time.Time) ([]string, []any, bool) {
	who := Who(m.To)
	if len(who) == 0 {
		return nil, nil, false
	}
	return []string{keys.Account(m.Account).Session(string(m.Channel), who[0])}, []any{s.Window(m.Channel).Milliseconds(), now.UnixMilli()}, true
}

// status reads a script's answer, the window as WindowLua tells it.
func status(cmd *redis.Cmd, op string) (Status, error) {
	v, err := cmd.Text()
	if err != nil {
		return Unknown, fmt.Errorf("session: %s: %w", op, err)
	}
	switch v {
	case "open":
		return Open, nil
	case "closed":
		return Closed, nil
	}
	return Unknown, nil
}

// RecordInbound records an inbound message from a contact of account (by
// contact id, phone, or both) at at: it opens or refreshes the window.
func (s *Store) RecordInbound(ctx context.Context, account string, ch tasks.Channel, contactID, phone string, at time.Time) error {
	for _, w := range identities(contactID, phone) {
		if _, err := s.inbound(ctx, keys.Account(account), ch, w, at, at); err != nil {
			return err
		}
	}
	return nil
}

// RecordProbed records that m's recipient last wrote at at, as the
// contact's latest messages show when its window is unknown, and returns
// the window at now.
func (s *Store) RecordProbed(ctx context.Context, m *tasks.Message, at, now time.Time) (Status, error) {
	who := Who(m.To)
	if len(who) == 0 {
		return Unknown, nil
	}
	return s.inbound(ctx, keys.Account(m.Account), m.Channel, who[0], at, now)
}

func (s *Store) inbound(ctx context.Context, space keys.Space, ch tasks.Channel, who string, at, now time.Time) (Status, error) {
	return status(inboundScript.Run(ctx, s.rdb, []string{space.Session(string(ch), who)},
		at.UnixMilli(), s.cfg.Keep.Milliseconds(), s.Window(ch).Milliseconds(), now.UnixMilli()), "record inbound")
}

// RecordClosed records that the upstream refused a message to m's recipient
// as outside the window: the window is known closed until the next inbound.
func (s *Store) RecordClosed(ctx context.Context, m *tasks.Message, at time.Time) error {
	space := keys.Account(m.Account)
	for _, w := range Who(m.To) {
		err := closedScript.Run(ctx, s.rdb, []string{space.Session(string(m.Channel), w)},
			at.UnixMilli(), s.cfg.Keep.Milliseconds()).Err()
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

// Waits returns where m waits: the session hash and the waiting set of
// each identity of its recipient, in its account's key space.
func Waits(m *tasks.Message) (sessions, waiting []string) {
	space := keys.Account(m.Account)
	for _, w := range Who(m.To) {
		sessions = append(sessions, space.Session(string(m.Channel), w))
		waiting = append(waiting, space.Waiting(string(m.Channel), w))
	}
	return sessions, waiting
}
