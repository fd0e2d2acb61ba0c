// Package outcome keeps every message's outcome in Redis: the record that
// `sendq status`, campaign reports and the callback all read, updated at every
// transition by one Lua script so that a record, its campaign's counts and the
// event stream never disagree.
//
// The asynq archive is capped and lossy; this record is the truth.
package outcome

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// State is where a message stands.
type State string

// The outcome states (README "Outcome states").
const (
	Queued         State = "queued"
	Scheduled      State = "scheduled"
	WaitingSession State = "waiting_session"
	Retrying       State = "retrying"
	Sent           State = "sent"
	Failed         State = "failed"
	Expired        State = "expired"
	Cancelled      State = "cancelled"
	// Suppressed: never sent, the recipient opted out of marketing (Reason
	// says so). Final.
	Suppressed State = "suppressed"
)

// States lists every state, unfinished ones first.
var States = []State{Queued, Scheduled, WaitingSession, Retrying, Sent, Failed, Expired, Cancelled, Suppressed}

// Terminal reports whether s is final: no transition leaves it (except a sent
// message that the upstream later reports as failed).
func (s State) Terminal() bool {
	switch s {
	case Sent, Failed, Expired, Cancelled, Suppressed:
		return true
	}
	return false
}

// Valid reports whether s is one of States.
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// ErrNotFound is returned for an id with no record (never accepted, or past
// its retention).
var ErrNotFound = errors.New("not found")

// Record is one message's outcome: the object of `sendq status --json`.
type Record struct {
	ID         string
	Account    string
	Channel    string
	Kind       string
	State      State
	Attempts   int
	UpstreamID string
	Error      string
	Campaign   string
	// NotBefore and Reason say, for a scheduled message, when it goes and
	// why ("at", "budget", "quiet_hours", "messaging_limit"); Reason says,
	// for a suppressed one, why it never went ("opted_out").
	NotBefore time.Time
	Reason    string
	// Delivery is the last delivery status the upstream reported for a sent
	// message ("delivered", "read"), from Whautomate's outgoing-message webhook.
	Delivery  string
	CreatedAt time.Time
	UpdatedAt time.Time
	SentAt    time.Time
}

type recordJSON struct {
	ID         string `json:"id"`
	Account    string `json:"account,omitempty"`
	Channel    string `json:"channel,omitempty"`
	Kind       string `json:"kind,omitempty"`
	State      State  `json:"state"`
	Attempts   int    `json:"attempts,omitempty"`
	UpstreamID string `json:"upstream_id,omitempty"`
	Error      string `json:"error,omitempty"`
	Campaign   string `json:"campaign,omitempty"`
	Reason     string `json:"reason,omitempty"`
	NotBefore  string `json:"not_before,omitempty"`
	Delivery   string `json:"delivery,omitempty"`
	CreatedAt  string `json:"created_at,omitempty"`
	UpdatedAt  string `json:"updated_at,omitempty"`
	SentAt     string `json:"sent_at,omitempty"`
}

// MarshalJSON writes the outcome object (README "Outcome states"); fields without a value
// are omitted.
func (r Record) MarshalJSON() ([]byte, error) {
	return json.Marshal(recordJSON{
		ID: r.ID, Account: r.Account, Channel: r.Channel, Kind: r.Kind, State: r.State, Attempts: r.Attempts,
		UpstreamID: r.UpstreamID, Error: r.Error, Campaign: r.Campaign, Delivery: r.Delivery,
		CreatedAt: rfc3339(r.CreatedAt), UpdatedAt: rfc3339(r.UpdatedAt), SentAt: rfc3339(r.SentAt),
		Reason: r.Reason, NotBefore: rfc3339(r.NotBefore),
	})
}

// UnmarshalJSON reads the object MarshalJSON writes.
func (r *Record) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Record{ID: j.ID, Account: j.Account, Channel: j.Channel, Kind: j.Kind, State: j.State, Attempts: j.Attempts,
		UpstreamID: j.UpstreamID, Error: j.Error, Campaign: j.Campaign, Delivery: j.Delivery, Reason: j.Reason}
	for _, f := range []struct {
		s string
		t *time.Time
	}{{j.CreatedAt, &r.CreatedAt}, {j.UpdatedAt, &r.UpdatedAt}, {j.SentAt, &r.SentAt}, {j.NotBefore, &r.NotBefore}} {
		if f.s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.s)
		if err != nil {
			return err
		}
		*f.t = t
	}
	return nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Hash fields of a record. Short, because a campaign keeps millions of them.
const (
	fChannel  = "ch"
	fKind     = "k"
	fState    = "st"
	fAttempts = "at"
	fUpstream = "u"
	fError    = "e"
	fCampaign = "cp"
	fDelivery = "dl"
	// A scheduled message's release and its reason; move() clears them when
	// the message leaves the state.
	fNotBefore = "nb"
	fReason    = "rs"
	fCreated   = "ca"
	fUpdated   = "ua"
	fSent      = "sa"
	fLease     = "lt" // token of the run that holds the send lease
	fLeaseEnd  = "le" // when that lease ends, unix ms
)

// fromHash builds a Record from HGETALL's answer.
func fromHash(id string, h map[string]string) *Record {
	r := &Record{
		ID:         id,
		Channel:    h[fChannel],
		Kind:       h[fKind],
		State:      State(h[fState]),
		UpstreamID: h[fUpstream],
		Error:      h[fError],
		Campaign:   h[fCampaign],
		Delivery:   h[fDelivery],
		Reason:     h[fReason],
		NotBefore:  msTime(h[fNotBefore]),
		CreatedAt:  msTime(h[fCreated]),
		UpdatedAt:  msTime(h[fUpdated]),
		SentAt:     msTime(h[fSent]),
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt // not written until the first change
	}
	r.Attempts, _ = strconv.Atoi(h[fAttempts])
	return r
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func ms(t time.Time) int64 { return t.UnixMilli() }
