package worker

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/sendq/sendq/compliance"
	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/release"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

// maxWebhookBody bounds what the webhook reads.
const maxWebhookBody = 1 << 20

// WebhookHandler serves POST /webhooks/whautomate/{account} for account:
// an incoming message opens or refreshes the contact's window with that
// account and releases the messages waiting for it, and one whose text is
// an opt-out or opt-in keyword puts its sender on the account's opt-out
// list or takes them off; an outgoing message's
// status updates the matching sent message. With a token set, requests must
// carry it in X-Webhook-Token. An account the worker does not send for is
// 404, whatever the token.
func (w *Worker) WebhookHandler(account, token string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			rw.Header().Set("Allow", http.MethodPost)
			writeJSON(rw, http.StatusMethodNotAllowed, map[string]any{"error": "POST only"})
			return
		}
		if _, ok := w.accts[account]; !ok {
			writeJSON(rw, http.StatusNotFound, map[string]any{"error": "unknown account"})
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
		ev, err := whautomate.ParseEvent(body)
		if err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		res, err := w.applyWebhook(r, account, ev)
		if err != nil {
			w.log.Error("webhook: redis error", "error", err)
			writeJSON(rw, http.StatusServiceUnavailable, map[string]any{"error": "temporarily unavailable"})
			return
		}
		writeJSON(rw, http.StatusOK, res)
	})
}

func (w *Worker) applyWebhook(r *http.Request, account string, ev whautomate.Event) (map[string]any, error) {
	ctx := r.Context()
	now := w.now()
	switch {
	case ev.Kind == whautomate.EventIncoming:
		at := ev.At
		if at.IsZero() || at.After(now) {
			at = now // the event cannot open a window later than its arrival
		}
		// An opt-out holds before anything the message releases can go.
		act, err := w.applyKeyword(ctx, account, ev, at)
		if err != nil {
			return nil, err
		}
		if err := w.sessions.RecordInbound(ctx, account, ev.Channel, ev.ContactID, ev.Phone, at); err != nil {
			return nil, err
		}
		n, err := release.All(ctx, w.ins, w.sessions.Waiting(account, ev.Channel, ev.ContactID, ev.Phone), 2*time.Second, 20*time.Millisecond)
		if err != nil {
			return nil, err
		}
		w.log.Info("webhook: contact wrote; window open", "account", account, "channel", string(ev.Channel), "released", n)
		res := map[string]any{"ok": true, "released": n}
		if act != compliance.None {
			res["keyword"] = act.String()
		}
		return res, nil
	case ev.Kind == whautomate.EventStatus:
		id, err := w.outcomes.Delivery(ctx, account, ev.MessageID, ev.Status, ev.Error, now)
		if err != nil {
			return nil, err
		}
		return map[string]any{"ok": true, "matched": id != ""}, nil
	}
	return map[string]any{"ok": true, "ignored": true}, nil
}

// applyKeyword puts the sender of an incoming message whose whole text is
// an opt-out keyword on the account's opt-out list for the channel, by
// contact id and phone, or takes them off for an opt-in keyword (README
// "Compliance"), and returns which it was.
func (w *Worker) applyKeyword(ctx context.Context, account string, ev whautomate.Event, at time.Time) (compliance.Action, error) {
	act := w.keywords.Match(ev.Text)
	to := tasks.Recipient{ContactID: ev.ContactID, Phone: ev.Phone}
	var err error
	switch act {
	case compliance.OptOut:
		_, err = w.optouts.Add(ctx, keys.Account(account), ev.Channel, to, at)
	case compliance.OptIn:
		_, err = w.optouts.Remove(ctx, keys.Account(account), ev.Channel, to)
	default:
		return act, nil
	}
	if err != nil {
		return act, err
	}
	w.m.keyword(account, ev.Channel, act.String())
	w.log.Info("webhook: opt-out keyword", "account", account, "channel", string(ev.Channel), "action", act.String())
	return act, nil
}

// Accounts returns the ids of the accounts the worker sends for, sorted.
func (w *Worker) Accounts() []string {
	ids := make([]string, 0, len(w.accts))
	for id := range w.accts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}
