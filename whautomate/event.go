package whautomate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sendq/sendq/tasks"
)

// EventKind says what a message webhook event reports.
type EventKind uint8

const (
	// EventIgnored is an event sendq does not act on: another event type,
	// or a message without what sendq needs to act on it.
	EventIgnored EventKind = iota
	// EventIncoming is a message a contact wrote: Channel is set, and
	// ContactID or Phone (or both).
	EventIncoming
	// EventStatus is the delivery status of an outgoing message: MessageID
	// and Status are set.
	EventStatus
)

// Event is what sendq takes from one message webhook event. Every field is
// read whatever the Kind; Kind says whether sendq can act on them.
type Event struct {
	// Kind is what the event reports.
	Kind EventKind
	// Type is the event type in lower case, e.g. "incoming_whatsapp_message";
	// "" when not given.
	Type string
	// Channel is the message's channel; "" when the event names none sendq
	// knows.
	Channel tasks.Channel
	// ContactID is the Whautomate contact the message belongs to.
	ContactID string
	// Phone is the contact's phone number as digits (tasks.NormalizePhone);
	// "" when not given or not a phone number.
	Phone string
	// MessageID is the upstream message id.
	MessageID string
	// Status is the delivery status of an outgoing message, in lower case.
	Status string
	// Error is the upstream's reason for a failed message.
	Error string
	// At is when the message was written, in UTC; zero when not given.
	At time.Time
	// Text is the message text.
	Text string
}

// ErrNotEvent is returned by ParseEvent for a body that is not a webhook
// event: not a JSON object, or one whose "event" or "message" is not an
// object.
var ErrNotEvent = errors.New("whautomate: malformed webhook event")

// ParseEvent reads one message webhook event. It is as tolerant as the
// upstream is loose: fields may be missing (the event is then EventIgnored)
// and the message object is read as ParseMessage reads it. Only a body that
// is not an event is an error (wrapping ErrNotEvent). It never panics.
//
// ASSUMPTION (webhook events, beyond ParseMessage's rules):
//   - the event type is "event.type"; the channel, when the message names
//     none sendq knows, is the one in the type ("incoming_telegram_message");
//   - the direction, when the message does not state one, is the type's
//     prefix: "incoming_" is a message the contact wrote;
//   - the time, when the message has none, is "event.timeStamp".
func ParseEvent(body []byte) (Event, error) {
	if !json.Valid(body) {
		return Event{}, fmt.Errorf("%w: not valid JSON", ErrNotEvent)
	}
	v, err := decodeLoose(body)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrNotEvent, err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return Event{}, fmt.Errorf("%w: not a JSON object", ErrNotEvent)
	}
	header, ok := objectOrEmpty(root["event"])
	if !ok {
		return Event{}, fmt.Errorf("%w: event is not an object", ErrNotEvent)
	}
	raw, ok := objectOrEmpty(root["message"])
	if !ok {
		return Event{}, fmt.Errorf("%w: message is not an object", ErrNotEvent)
	}
	m, _ := messageFrom(raw) // raw is an object: it cannot fail
	return eventFrom(header, raw, m), nil
}

// objectOrEmpty reads an optional JSON object: absent or null is an empty
// one; ok is false for any other type.
func objectOrEmpty(v any) (map[string]any, bool) {
	if v == nil {
		return map[string]any{}, true
	}
	o, ok := v.(map[string]any)
	return o, ok
}

// eventFrom builds the event of a header, its raw message object and the
// message read from it.
func eventFrom(header, raw map[string]any, m Message) Event {
	ev := Event{
		Type:      strings.ToLower(firstString(header, "type")),
		ContactID: m.ContactID,
		MessageID: m.ID,
		Status:    strings.ToLower(m.Status),
		Error:     m.ErrorMessage,
		At:        m.Timestamp,
		Text:      m.Text,
	}
	if ch, ok := channelOf(m.Channel); ok {
		ev.Channel = ch
	} else if ch, ok := typeChannel(ev.Type); ok {
		ev.Channel = ch
	}
	if p, err := tasks.NormalizePhone(m.Phone); err == nil {
		ev.Phone = p
	}
	if ev.At.IsZero() {
		ev.At = parseTime(header["timeStamp"])
	}
	incoming, stated := incomingOf(raw)
	if !stated {
		incoming = strings.HasPrefix(ev.Type, "incoming_")
	}
	switch {
	case incoming && ev.Channel != "" && (ev.ContactID != "" || ev.Phone != ""):
		ev.Kind = EventIncoming
	case !incoming && ev.MessageID != "" && ev.Status != "":
		ev.Kind = EventStatus
	}
	return ev
}

// typeChannel reads the channel of an event type such as
// "incoming_whatsapp_message" or "outgoing_fb_message".
func typeChannel(typ string) (tasks.Channel, bool) {
	for _, prefix := range []string{"incoming_", "outgoing_"} {
		if rest, ok := strings.CutPrefix(typ, prefix); ok {
			if ch, ok := channelOf(strings.TrimSuffix(rest, "_message")); ok {
				return ch, true
			}
			first, _, _ := strings.Cut(rest, "_")
			return channelOf(first)
		}
	}
	return "", false
}
