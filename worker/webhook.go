package worker

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/internal/release"
	"github.com/sendq/sendq/tasks"
)

// WebhookEvent is what sendq takes from one Whautomate message webhook.
type WebhookEvent struct {
	Type      string        // the event type, e.g. incoming_whatsapp_message
	Incoming  bool          // a message from the contact
	Channel   tasks.Channel // "" when the event names none sendq knows
	ContactID string
	Phone     string    // digits only
	MessageID string    // the upstream message id
	Status    string    // delivery status of an outgoing message, lower case
	Error     string    // the upstream's error message, if any
	At        time.Time // when the message was written (zero if not given)
}

// ErrMalformed is returned by ParseWebhook for a body that is not a JSON object.
var ErrMalformed = errors.New("malformed webhook body")

// ParseWebhook reads one webhook event. It is tolerant as the upstream is
// loose: booleans may come as strings, channel names in any case, fields may
// be missing (the event is then ignored by the caller). Only a body that is
// not a JSON object is an error.
func ParseWebhook(body []byte) (WebhookEvent, error) {
	var raw struct {
		Event   map[string]any `json:"event"`
		Message map[string]any `json:"message"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return WebhookEvent{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ev := WebhookEvent{Type: strings.ToLower(str(raw.Event["type"]))}
	msg := raw.Message
	contact, _ := msg["contact"].(map[string]any)

	// The channel: the contact's, the message's, or the event type's.
	for _, c := range []string{str(contact["channel"]), str(msg["channel"]), channelOfType(ev.Type)} {
		if ch, err := tasks.ParseChannel(c); err == nil && c != "" {
			ev.Channel = ch
			break
		}
	}
	if v, ok := msg["isIncoming"]; ok {
		ev.Incoming = truthy(v)
	} else {
		ev.Incoming = strings.HasPrefix(ev.Type, "incoming_") ||
			strings.EqualFold(str(msg["direction"]), "incoming") || strings.EqualFold(str(msg["direction"]), "inbound")
	}
	ev.ContactID = str(contact["id"])
	if ev.ContactID == "" {
		ev.ContactID = str(msg["contactId"])
	}
	if p := str(contact["phoneNumber"]); p != "" {
		if digits, err := tasks.NormalizePhone(p); err == nil {
			ev.Phone = digits
		}
	}
	ev.MessageID = str(msg["id"])
	ev.Status = strings.ToLower(str(msg["status"]))
	ev.Error = str(msg["errorMessage"])
	ev.At = parseTime(msg["timestamp"])
	if ev.At.IsZero() {
		ev.At = parseTime(raw.Event["timeStamp"])
	}
	return ev, nil
}

func channelOfType(t string) string {
	for _, p := range []string{"incoming_", "outgoing_"} {
		if rest, ok := strings.CutPrefix(t, p); ok {
			ch, _, _ := strings.Cut(rest, "_")
			return ch
		}
	}
	return ""
}

// str reads a string-ish JSON value: strings as they are, numbers in full.
func str(v any) string {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		s := strings.ToLower(strings.TrimSpace(x))
		return s == "true" || s == "1" || s == "yes"
	case float64:
		return x != 0
	}
	return false
}

// parseTime reads RFC 3339, or unix seconds or milliseconds (number or string).
func parseTime(v any) time.Time {
	s := str(v)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1e14 {
		return time.Time{}
	}
	if f > 1e11 { // milliseconds
		return time.UnixMilli(int64(f)).UTC()
	}
	return time.Unix(int64(f), 0).UTC()
}

// maxWebhookBody bounds what the webhook reads.
const maxWebhookBody = 1 << 20

// WebhookHandler serves POST /webhooks/whautomate: an incoming message opens
// or refreshes the contact's window and releases the messages waiting for
// it; an outgoing message's status updates the matching sent message. With a
// token set, requests must carry it in X-Webhook-Token.
func (w *Worker) WebhookHandler(token string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			writeJSON(rw, http.StatusMethodNotAllowed, map[string]any{"error": "POST only"})
			return
		}
		if token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Webhook-Token")), []byte(token)) != 1 {
			writeJSON(rw, http.StatusUnauthorized, map[string]any{"error": "missing or wrong X-Webhook-Token"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxWebhookBody))
		if err != nil {
			writeJSON(rw, http.StatusRequestEntityTooLarge, map[string]any{"error": "body too large"})
			return
		}
		ev, err := ParseWebhook(body)
		if err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		res, err := w.applyWebhook(r, ev)
		if err != nil {
			w.log.Error("webhook: redis error", "error", err)
			writeJSON(rw, http.StatusServiceUnavailable, map[string]any{"error": "temporarily unavailable"})
			return
		}
		writeJSON(rw, http.StatusOK, res)
	})
}

func (w *Worker) applyWebhook(r *http.Request, ev WebhookEvent) (map[string]any, error) {
	ctx := r.Context()
	now := w.now()
	switch {
	case ev.Incoming && ev.Channel != "" && (ev.ContactID != "" || ev.Phone != ""):
		at := ev.At
		if at.IsZero() || at.After(now) {
			at = now // the event cannot open a window later than its arrival
		}
		if err := w.sessions.RecordInbound(ctx, ev.Channel, ev.ContactID, ev.Phone, at); err != nil {
			return nil, err
		}
		n, err := release.All(ctx, w.ins, w.sessions.Waiting(ev.Channel, ev.ContactID, ev.Phone), 2*time.Second, 20*time.Millisecond)
		if err != nil {
			return nil, err
		}
		w.log.Info("webhook: contact wrote; window open", "channel", string(ev.Channel), "released", n)
		return map[string]any{"ok": true, "released": n}, nil
	case !ev.Incoming && ev.MessageID != "" && ev.Status != "":
		id, err := w.outcomes.Delivery(ctx, ev.MessageID, ev.Status, ev.Error, now)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "matched": id != ""}, nil
	}
	return map[string]any{"ok": true, "ignored": true}, nil
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}
