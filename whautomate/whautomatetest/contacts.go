package whautomatetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendq/sendq/tasks"
)

// contact is one Whautomate contact: its phone, its last inbound message per
// channel, and its messages.
type contact struct {
	id     string
	phone  string
	lastIn map[tasks.Channel]time.Time
	msgs   []message
}

// message is one message of a contact's history.
type message struct {
	id       string
	channel  tasks.Channel
	incoming bool
	typ      string
	text     string
	caption  string
	mediaURL string
	status   string
	at       time.Time
}

// contactByID returns the contact of id, creating it. s.mu is held.
func (s *Server) contactByID(id string) *contact {
	c := s.contacts[id]
	if c == nil {
		c = &contact{id: id}
		s.contacts[id] = c
	}
	return c
}

// contactByPhone returns the contact of phone, creating one with a new id,
// as Whautomate does for a "recepient". s.mu is held.
func (s *Server) contactByPhone(phone string) *contact {
	if c := s.byPhone[phone]; c != nil {
		return c
	}
	s.nextContact++
	id := "ct-" + strconv.FormatUint(s.nextContact, 10)
	for s.contacts[id] != nil {
		s.nextContact++
		id = "ct-" + strconv.FormatUint(s.nextContact, 10)
	}
	c := s.contactByID(id)
	c.phone = phone
	s.byPhone[phone] = c
	return c
}

// open reports whether c's window on ch is open at now. s.mu is held.
func (s *Server) open(c *contact, ch tasks.Channel, now time.Time) bool {
	last, ok := c.lastIn[ch]
	return ok && now.Before(last.Add(s.window))
}

// ContactID returns the id of the contact that phone (digits, or with +,
// spaces and dashes) belongs to, if the sandbox knows one.
func (s *Server) ContactID(phone string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.byPhone[digitsOf(phone)]; c != nil {
		return c.id, true
	}
	return "", false
}

// MarkInbound records that a contact wrote on ch at at (zero: now), which
// opens or refreshes its window there, and returns the contact's id. The
// contact is contactID, or, when that is "", the contact of phone (created
// if new); given both, phone is attached to contactID. With neither, a new
// contact is made.
//
// When Options.WebhookURL is set, MarkInbound also posts Whautomate's
// webhook event for the message there and returns once it is answered;
// failures are kept for WebhookErrors.
func (s *Server) MarkInbound(ch tasks.Channel, contactID, phone string, at time.Time) string {
	if at.IsZero() {
		at = s.now()
	}
	phone = digitsOf(phone)
	contactID = strings.TrimSpace(contactID)

	s.mu.Lock()
	var c *contact
	switch {
	case contactID != "":
		c = s.contactByID(contactID)
		if phone != "" {
			c.phone = phone
			s.byPhone[phone] = c
		}
	case phone != "":
		c = s.contactByPhone(phone)
	default:
		s.nextContact++
		c = s.contactByID("ct-" + strconv.FormatUint(s.nextContact, 10))
	}
	if c.lastIn == nil {
		c.lastIn = make(map[tasks.Channel]time.Time, 4)
	}
	if at.After(c.lastIn[ch]) {
		c.lastIn[ch] = at
	}
	s.nextMessage++
	m := message{id: "in-" + strconv.FormatUint(s.nextMessage, 10), channel: ch, incoming: true,
		typ: "text", text: "hi", status: "received", at: at}
	c.msgs = append(c.msgs, m)
	s.nextEvent++
	var event []byte
	if s.webhookURL != "" {
		event, _ = json.Marshal(webhookEvent{
			Event: eventHeader{ID: "evt-" + strconv.FormatUint(s.nextEvent, 10),
				Type: "incoming_" + string(ch) + "_message", TimeStamp: at.UTC().Format(time.RFC3339Nano), Key: m.id},
			Message: wire(c, m),
		})
	}
	id := c.id
	s.mu.Unlock()

	if event != nil {
		if err := s.postWebhook(event); err != nil {
			s.mu.Lock()
			s.hookErrs = append(s.hookErrs, err)
			s.mu.Unlock()
		}
	}
	return id
}

// postWebhook delivers one webhook event.
func (s *Server) postWebhook(event []byte) error {
	if s.ctx.Err() != nil {
		return errClosed
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.webhookURL, bytes.NewReader(event))
	if err != nil {
		return fmt.Errorf("whautomatetest: webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "whautomatetest")
	if s.webhookToken != "" {
		req.Header.Set("X-Webhook-Token", s.webhookToken)
	}
	resp, err := s.hook.Do(req)
	if err != nil {
		return fmt.Errorf("whautomatetest: webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("whautomatetest: webhook answered %s", resp.Status)
	}
	return nil
}

// webhookEvent is Whautomate's message webhook body.
type webhookEvent struct {
	Event   eventHeader `json:"event"`
	Message wireMessage `json:"message"`
}

type eventHeader struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	TimeStamp string `json:"timeStamp"`
	Key       string `json:"key"`
}

// wireMessage is the message object of the webhook and of
// GET /v1/messages/{contactId}, loose typing included.
type wireMessage struct {
	ID         string      `json:"id"`
	Contact    wireContact `json:"contact"`
	Channel    string      `json:"channel"`
	IsIncoming string      `json:"isIncoming"`
	Type       string      `json:"type"`
	Text       string      `json:"text,omitempty"`
	Caption    string      `json:"caption,omitempty"`
	MediaURL   string      `json:"mediaUrl,omitempty"`
	Timestamp  string      `json:"timestamp"`
	Status     string      `json:"status"`
}

type wireContact struct {
	ID          string `json:"id"`
	Channel     string `json:"channel"`
	PhoneNumber string `json:"phoneNumber,omitempty"`
}

// mixedCase is how the upstream spells channels inside message objects.
var mixedCase = map[tasks.Channel]string{
	tasks.WhatsApp:  "whatsApp",
	tasks.Telegram:  "telegram",
	tasks.Instagram: "instagram",
	tasks.Messenger: "messenger",
}

func wire(c *contact, m message) wireMessage {
	ch := mixedCase[m.channel]
	if ch == "" {
		ch = string(m.channel)
	}
	return wireMessage{
		ID:         m.id,
		Contact:    wireContact{ID: c.id, Channel: string(m.channel), PhoneNumber: c.phone},
		Channel:    ch,
		IsIncoming: strconv.FormatBool(m.incoming),
		Type:       m.typ,
		Text:       m.text,
		Caption:    m.caption,
		MediaURL:   m.mediaURL,
		Timestamp:  m.at.UTC().Format(time.RFC3339Nano),
		Status:     m.status,
	}
}

// digitsOf keeps the digits of a phone number.
func digitsOf(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
