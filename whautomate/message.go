package whautomate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/tasks"
)

// Message is one message of a contact's history (GET /v1/messages/{contactId})
// or of a webhook event's "message" object.
//
// Its JSON form (MarshalJSON is the default) reads back through
// UnmarshalJSON, which takes the upstream's loose shapes too.
type Message struct {
	// ID is the upstream message id.
	ID string `json:"id,omitempty"`
	// ContactID is the Whautomate contact the message belongs to.
	ContactID string `json:"contactId,omitempty"`
	// Phone is the contact's phone number as given, if given.
	Phone string `json:"phoneNumber,omitempty"`
	// Channel is the channel in lower case: "whatsapp", "telegram",
	// "instagram", "messenger", or what the upstream said if none of those.
	Channel string `json:"channel,omitempty"`
	// Type is the message type as given ("text", "image", "template", …).
	Type string `json:"type,omitempty"`
	// Text is the message text.
	Text string `json:"text,omitempty"`
	// Caption is a media message's caption.
	Caption string `json:"caption,omitempty"`
	// MediaURL is a media message's URL.
	MediaURL string `json:"mediaUrl,omitempty"`
	// Status is the delivery status as given ("sent", "delivered", "read", …).
	Status string `json:"status,omitempty"`
	// ErrorMessage is the upstream's reason for a failed message.
	ErrorMessage string `json:"errorMessage,omitempty"`
	// Incoming is true for a message the contact wrote.
	Incoming bool `json:"isIncoming"`
	// Timestamp is when the message was written, in UTC; zero if not given
	// or unreadable.
	Timestamp time.Time `json:"timestamp,omitzero"`
}

// ErrNotMessage is returned by ParseMessage for input that is not a JSON object.
var ErrNotMessage = errors.New("whautomate: not a JSON message object")

// ParseMessage reads one message object tolerantly: unknown fields are
// ignored, missing ones left empty, and only input that is not a JSON object
// is an error (wrapping ErrNotMessage). It never panics.
//
// ASSUMPTION (message objects): shaped like the webhook's "message":
//   - id: "id", "_id", "messageId" or "message_id";
//   - contact: "contact.id" (or "contactId", "contact_id", or "contact" as a
//     string) and "contact.phoneNumber" (or "phoneNumber");
//   - channel: the first of "channel" and "contact.channel" that names one
//     of sendq's channels, else the first given; any case; "facebook"/"fb"
//     is Messenger, "wa" WhatsApp, "ig" Instagram, "tg" Telegram (channelOf
//     has the full list);
//   - direction: "isIncoming" (bool, "true"/"false", 1/0; also "incoming",
//     "is_incoming"), else "direction" "incoming"/"inbound"/"in"/"received";
//   - text: "text" (a string, or an object with "body"), "textMessage" or
//     "body"; "caption"; "mediaUrl" ("mediaURL", "media_url", "media.url");
//     "status"; "errorMessage" ("error_message", "error" as a string or
//     an object with "message");
//   - time: "timestamp", "timeStamp", "createdAt", "created_at", "time",
//     "date" or "sentAt": RFC 3339 (with or without zone, "T" or space), RFC
//     1123, or unix seconds, milliseconds, microseconds or nanoseconds as a
//     number or a numeric string.
func ParseMessage(raw []byte) (Message, error) {
	v, err := decodeLoose(raw)
	if err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrNotMessage, err)
	}
	return messageFrom(v)
}

// UnmarshalJSON reads a message as ParseMessage does.
func (m *Message) UnmarshalJSON(b []byte) error {
	msg, err := ParseMessage(b)
	if err != nil {
		return err
	}
	*m = msg
	return nil
}

// messageFrom reads a decoded message object.
func messageFrom(v any) (Message, error) {
	o, ok := v.(map[string]any)
	if !ok {
		return Message{}, ErrNotMessage
	}
	m := Message{
		ID:           firstString(o, "id", "_id", "messageId", "message_id"),
		ContactID:    firstString(o, "contact.id", "contact._id", "contactId", "contact_id", "contact"),
		Phone:        firstString(o, "contact.phoneNumber", "phoneNumber", "contact.phone", "phone"),
		Channel:      messageChannel(o),
		Type:         firstString(o, "type"),
		Text:         firstString(o, "text", "text.body", "textMessage", "body"),
		Caption:      firstString(o, "caption"),
		MediaURL:     firstString(o, "mediaUrl", "mediaURL", "media_url", "media.url"),
		Status:       firstString(o, "status"),
		ErrorMessage: firstString(o, "errorMessage", "error_message", "error", "error.message"),
		Timestamp:    parseTime(first(o, "timestamp", "timeStamp", "createdAt", "created_at", "time", "date", "sentAt")),
	}
	m.Incoming, _ = incomingOf(o)
	return m, nil
}

// channelOf maps the upstream's channel spellings, in any case, to sendq's
// channels; ok is false for any other name. It is the one rule for channel
// names in messages, message pages and webhook events.
func channelOf(s string) (ch tasks.Channel, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "whatsapp", "wa", "whatsapp_business", "whatsappbusiness":
		return tasks.WhatsApp, true
	case "telegram", "tg":
		return tasks.Telegram, true
	case "instagram", "ig":
		return tasks.Instagram, true
	case "messenger", "facebook", "fb", "facebook_messenger", "fbmessenger":
		return tasks.Messenger, true
	}
	return "", false
}

// messageChannel reads a message object's channel: the first of "channel"
// and "contact.channel" that names a channel sendq knows, else the first
// given, in lower case.
func messageChannel(o any) string {
	other := ""
	for _, path := range []string{"channel", "contact.channel"} {
		s := looseString(lookup(o, path))
		if ch, ok := channelOf(s); ok {
			return string(ch)
		}
		if other == "" {
			other = strings.ToLower(s)
		}
	}
	return other
}

// incomingOf reads a message object's direction: "isIncoming" (or
// "incoming", "is_incoming") when it reads as a boolean, else "direction".
// stated is false when neither says.
func incomingOf(o any) (incoming, stated bool) {
	if b, ok := looseBool(first(o, "isIncoming", "incoming", "is_incoming")); ok {
		return b, true
	}
	switch strings.ToLower(firstString(o, "direction")) {
	case "incoming", "inbound", "in", "received":
		return true, true
	case "outgoing", "outbound", "out", "sent":
		return false, true
	}
	return false, false
}

// timeLayouts are the textual timestamps parseTime understands; those
// without a zone are UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	time.RFC1123,
	time.RFC1123Z,
}

// parseTime reads a timestamp; the zero time when it cannot.
func parseTime(v any) time.Time {
	if n, ok := looseInt(v); ok {
		return fromEpoch(float64(n), n)
	}
	if f, ok := looseFloat(v); ok {
		return fromEpoch(f, 0)
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}
	}
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
				return time.Time{}
			}
			return t
		}
	}
	return time.Time{}
}

// fromEpoch reads unix time in seconds, milliseconds, microseconds or
// nanoseconds, told apart by magnitude (each lands between 1973 and 5138). n
// is the exact integer when the value is integral, 0 otherwise.
func fromEpoch(f float64, n int64) time.Time {
	if !(f > 0) || f >= 9.2e18 {
		return time.Time{}
	}
	if n > 0 {
		switch {
		case n >= 1e17:
			return time.Unix(0, n).UTC()
		case n >= 1e14:
			return time.UnixMicro(n).UTC()
		case n >= 1e11:
			return time.UnixMilli(n).UTC()
		}
		return time.Unix(n, 0).UTC()
	}
	scale := 1.0
	switch {
	case f >= 1e17:
		scale = 1e9
	case f >= 1e14:
		scale = 1e6
	case f >= 1e11:
		scale = 1e3
	}
	sec, frac := math.Modf(f / scale)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// MessagePage is one page of a contact's messages, newest first.
type MessagePage struct {
	// Messages are the page's messages in the upstream's order (newest first).
	Messages []Message
	// Page is the page asked for (from 1).
	Page int
	// Limit is the page size asked for; 0 left it to the upstream.
	Limit int
	// Total is the number of messages the contact has, when the upstream
	// says; 0 otherwise.
	Total int
	// HasMore reports whether a next page is likely: the upstream said so,
	// or, when it did not, its total or a full page suggests it.
	HasMore bool
}

// LatestIncoming returns the newest message the contact wrote on ch: the
// incoming message with the latest Timestamp. Messages without a timestamp
// say nothing of when the contact wrote, and a message on another channel
// nothing of ch's window; a message without a channel counts for every one.
func (p *MessagePage) LatestIncoming(ch tasks.Channel) (Message, bool) {
	if p == nil {
		return Message{}, false
	}
	var best Message
	found := false
	for _, m := range p.Messages {
		if !m.Incoming || m.Timestamp.IsZero() || (m.Channel != "" && m.Channel != string(ch)) {
			continue
		}
		if !found || m.Timestamp.After(best.Timestamp) {
			best, found = m, true
		}
	}
	return best, found
}

// Messages returns one page of a contact's messages, newest first
// (GET /v1/messages/{contactId}?page=&limit=). A page below 1 means 1; a
// limit below 1 leaves the page size to the upstream.
func (c *Client) Messages(ctx context.Context, contactID string, page, limit int) (*MessagePage, error) {
	contactID = strings.TrimSpace(contactID)
	if contactID == "" {
		return nil, fmt.Errorf("%w: contact id is required", ErrInvalid)
	}
	page = max(page, 1)
	q := url.Values{"page": {strconv.Itoa(page)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	} else {
		limit = 0
	}
	a, err := c.do(ctx, http.MethodGet, "/v1/messages/"+url.PathEscape(contactID), q, nil)
	if err != nil {
		return nil, err
	}
	v, err := checkResponse(a.status, a.header, a.body, c.now(), c.key)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("whautomate: GET /v1/messages/{contactId}: the answer is not JSON")
	}
	p, err := parseMessagePage(v)
	if err != nil {
		return nil, err
	}
	p.Page, p.Limit = page, limit
	p.HasMore = hasMore(v, p)
	return p, nil
}

// parseMessagePage reads the messages of a decoded answer.
//
// ASSUMPTION (message list): an array at the top level, or under "data",
// "messages", "data.messages", "docs", "data.docs", "items", "data.items" or
// "results"; a missing or null list is an empty page. Items that are not
// objects are skipped. The total, if given, is in "total", "totalDocs",
// "totalCount" (also under "data", "meta" or "pagination").
func parseMessagePage(v any) (*MessagePage, error) {
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		found := false
		for _, p := range []string{"data", "messages", "data.messages", "docs", "data.docs", "items", "data.items", "results"} {
			if l, ok := lookup(x, p).([]any); ok {
				list, found = l, true
				break
			}
		}
		if !found {
			if d := x["data"]; d != nil {
				if _, isObj := d.(map[string]any); !isObj {
					return nil, fmt.Errorf("whautomate: GET /v1/messages/{contactId}: unexpected data of type %T", d)
				}
			}
		}
	default:
		return nil, fmt.Errorf("whautomate: GET /v1/messages/{contactId}: unexpected answer of type %T", v)
	}
	p := &MessagePage{Messages: make([]Message, 0, len(list))}
	for _, item := range list {
		if m, err := messageFrom(item); err == nil {
			p.Messages = append(p.Messages, m)
		}
	}
	for _, path := range []string{"total", "totalDocs", "totalCount", "data.total", "data.totalDocs",
		"data.totalCount", "meta.total", "pagination.total"} {
		if n, ok := looseInt(lookup(v, path)); ok && n >= 0 && n <= math.MaxInt32 {
			p.Total = int(n)
			break
		}
	}
	return p, nil
}

// hasMore decides MessagePage.HasMore.
//
// ASSUMPTION: "hasNextPage", "hasMore" or "has_more" (also under "data",
// "meta" or "pagination") when given.
func hasMore(v any, p *MessagePage) bool {
	for _, path := range []string{"hasNextPage", "hasMore", "has_more", "data.hasNextPage", "data.hasMore",
		"meta.hasNextPage", "meta.hasMore", "pagination.hasNextPage", "pagination.hasMore"} {
		if b, ok := looseBool(lookup(v, path)); ok {
			return b
		}
	}
	if p.Total > 0 {
		return p.Limit > 0 && p.Page*p.Limit < p.Total
	}
	return p.Limit > 0 && len(p.Messages) >= p.Limit
}
