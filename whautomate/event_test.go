package whautomate

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
)

func TestParseEvent(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		body string
		want Event
	}{
		{"documented", `{"event":{"id":"e1","type":"incoming_whatsapp_message","timeStamp":"2026-11-23T10:00:00Z"},
			"message":{"id":"u1","contact":{"id":"c1","channel":"whatsapp","phoneNumber":"6598765432"},"channel":"whatsApp",
			"isIncoming":"true","type":"text","text":"hi","timestamp":"2026-11-23T10:00:00Z"}}`,
			Event{Kind: EventIncoming, Type: "incoming_whatsapp_message", Channel: tasks.WhatsApp, ContactID: "c1",
				Phone: "6598765432", MessageID: "u1", At: at, Text: "hi"}},
		{"channel from type only", `{"event":{"type":"incoming_telegram_message"},"message":{"contact":{"id":7}}}`,
			Event{Kind: EventIncoming, Type: "incoming_telegram_message", Channel: tasks.Telegram, ContactID: "7"}},
		{"outgoing status with unix millis", `{"event":{"type":"outgoing_whatsapp_message"},"message":{"id":"u2",
			"isIncoming":false,"status":"DELIVERED","timestamp":1795428000000}}`,
			Event{Kind: EventStatus, Type: "outgoing_whatsapp_message", Channel: tasks.WhatsApp, MessageID: "u2",
				Status: "delivered", At: time.UnixMilli(1795428000000).UTC()}},
		{"failed status with its reason", `{"message":{"id":"u3","direction":"outbound","status":"Failed",
			"errorMessage":"undeliverable"}}`,
			Event{Kind: EventStatus, MessageID: "u3", Status: "failed", Error: "undeliverable"}},
		{"bad phone and unknown channel ignored", `{"message":{"contact":{"phoneNumber":"abc","channel":"fax"},"isIncoming":"1"}}`,
			Event{}},
		{"phone only", `{"message":{"channel":"telegram","contact":{"phoneNumber":"+65 9876 5432"},"isIncoming":true}}`,
			Event{Kind: EventIncoming, Channel: tasks.Telegram, Phone: "6598765432"}},
		{"flat contact id", `{"message":{"channel":"instagram","contactId":"c4","direction":"inbound"}}`,
			Event{Kind: EventIncoming, Channel: tasks.Instagram, ContactID: "c4"}},
		{"type says incoming when the message does not", `{"event":{"type":"INCOMING_MESSENGER_MESSAGE"},
			"message":{"contact":{"id":"c5"}}}`,
			Event{Kind: EventIncoming, Type: "incoming_messenger_message", Channel: tasks.Messenger, ContactID: "c5"}},
		{"the message's direction beats the type's", `{"event":{"type":"incoming_whatsapp_message"},
			"message":{"id":"u6","isIncoming":"false","status":"read","contact":{"id":"c6"}}}`,
			Event{Kind: EventStatus, Type: "incoming_whatsapp_message", Channel: tasks.WhatsApp, ContactID: "c6",
				MessageID: "u6", Status: "read"}},
		{"incoming without a contact", `{"message":{"channel":"whatsapp","isIncoming":true}}`,
			Event{Channel: tasks.WhatsApp}},
		{"incoming without a channel", `{"message":{"contact":{"id":"c7"},"isIncoming":true}}`,
			Event{ContactID: "c7"}},
		{"outgoing without a status", `{"message":{"id":"u8","isIncoming":false}}`, Event{MessageID: "u8"}},
		{"another event type", `{"event":{"type":"contact_updated"}}`, Event{Type: "contact_updated"}},
		{"null parts", `{"event":null,"message":null}`, Event{}},
		{"empty object", `{}`, Event{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.body))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseEventRejectsNonEvents(t *testing.T) {
	for _, body := range []string{``, `{`, `"x"`, `[]`, `[1,2]`, `1`, `null`, `{"message":[]}`, `{"event":"x"}`,
		`{"message":"m1"}`, `{} {}`, `{"event":{}} x`} {
		t.Run(body, func(t *testing.T) {
			_, err := ParseEvent([]byte(body))
			require.ErrorIs(t, err, ErrNotEvent)
		})
	}
}

// TestEventChannel holds every channel spelling: the same rule reads the
// message's channel, the contact's and the event type's.
func TestEventChannel(t *testing.T) {
	spellings := []struct {
		want  tasks.Channel
		names []string
	}{
		{tasks.WhatsApp, []string{"whatsapp", "WhatsApp", "whatsApp", "WHATSAPP", " whatsapp ", "wa", "WA",
			"whatsapp_business", "WhatsAppBusiness"}},
		{tasks.Telegram, []string{"telegram", "Telegram", "tg", "TG"}},
		{tasks.Instagram, []string{"instagram", "Instagram", "ig", "IG"}},
		{tasks.Messenger, []string{"messenger", "Messenger", "facebook", "Facebook", "fb", "FB",
			"facebook_messenger", "FBMessenger"}},
		{"", []string{"sms", "fax", "whats app", "face book", ""}},
	}
	for _, sp := range spellings {
		for _, name := range sp.names {
			for _, where := range []string{
				`{"message":{"channel":%q}}`,
				`{"message":{"contact":{"channel":%q}}}`,
				`{"event":{"type":"incoming_%s_message"}}`,
				`{"event":{"type":"outgoing_%s"}}`,
			} {
				body := fmt.Sprintf(where, name)
				ev, err := ParseEvent([]byte(body))
				require.NoError(t, err, body)
				require.Equal(t, sp.want, ev.Channel, body)
			}
		}
	}
	t.Run("the message's own channel first", func(t *testing.T) {
		ev, err := ParseEvent([]byte(`{"event":{"type":"incoming_telegram_message"},
			"message":{"channel":"ig","contact":{"channel":"whatsapp"}}}`))
		require.NoError(t, err)
		require.Equal(t, tasks.Instagram, ev.Channel)
	})
	t.Run("an unknown name does not hide a known one", func(t *testing.T) {
		ev, err := ParseEvent([]byte(`{"event":{"type":"incoming_telegram_message"},
			"message":{"channel":"fax","contact":{"channel":"fb"}}}`))
		require.NoError(t, err)
		require.Equal(t, tasks.Messenger, ev.Channel)
		ev, err = ParseEvent([]byte(`{"event":{"type":"incoming_telegram_message"},"message":{"channel":"fax"}}`))
		require.NoError(t, err)
		require.Equal(t, tasks.Telegram, ev.Channel)
	})
}

// TestEventTime holds every time format: the message's "timestamp" (or
// ParseMessage's other names), else the event's "timeStamp".
func TestEventTime(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		want  time.Time
	}{
		{"rfc3339", `"2024-05-06T07:08:09Z"`, ts},
		{"rfc3339 with fraction", `"2024-05-06T07:08:09.25Z"`, ts.Add(250 * time.Millisecond)},
		{"rfc3339 with nanoseconds", `"2024-05-06T07:08:09.000000001Z"`, ts.Add(1)},
		{"rfc3339 with offset", `"2024-05-06T09:08:09+02:00"`, ts},
		{"no zone is utc", `"2024-05-06T07:08:09"`, ts},
		{"space for T", `"2024-05-06 07:08:09Z"`, ts},
		{"rfc1123", `"Mon, 06 May 2024 07:08:09 GMT"`, ts},
		{"rfc1123 numeric zone", `"Mon, 06 May 2024 09:08:09 +0200"`, ts},
		{"unix seconds", `1714979289`, ts},
		{"unix seconds string", `"1714979289"`, ts},
		{"unix seconds with fraction", `1714979289.5`, ts.Add(500 * time.Millisecond)},
		{"unix seconds string with fraction", `"1714979289.5"`, ts.Add(500 * time.Millisecond)},
		{"unix milliseconds", `1714979289000`, ts},
		{"unix milliseconds string", `"1714979289000"`, ts},
		{"unix milliseconds as a float", `1.714979289e12`, ts},
		{"unix microseconds", `1714979289000000`, ts},
		{"unix nanoseconds", `1714979289000000000`, ts},
		{"unreadable", `"yesterday"`, time.Time{}},
		{"zero", `0`, time.Time{}},
		{"negative", `-5`, time.Time{}},
		{"huge", `1e300`, time.Time{}},
		{"an object", `{"$date":1}`, time.Time{}},
		{"a boolean", `true`, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, body := range []string{
				`{"message":{"timestamp":` + tt.value + `}}`,
				`{"event":{"timeStamp":` + tt.value + `},"message":{}}`,
			} {
				ev, err := ParseEvent([]byte(body))
				require.NoError(t, err, body)
				require.True(t, tt.want.Equal(ev.At), "%s: got %v", body, ev.At)
				require.Equal(t, time.UTC, ev.At.Location(), body)
			}
		})
	}
	t.Run("the message's time first", func(t *testing.T) {
		ev, err := ParseEvent([]byte(`{"event":{"timeStamp":"2030-01-01T00:00:00Z"},"message":{"createdAt":1714979289}}`))
		require.NoError(t, err)
		require.Equal(t, ts, ev.At)
	})
}

// FuzzParseEvent feeds the webhook parser arbitrary bytes: it must never
// panic, and what it returns must hold what its Kind promises. The seed
// corpus is in testdata/fuzz/FuzzParseEvent.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(`{"event":{"type":"incoming_whatsapp_message"},"message":{"contact":{"id":"c1","phoneNumber":"+65 9876 5432"},"isIncoming":"true","timestamp":"1795428000"}}`))
	f.Add([]byte(`{"event":{"type":"outgoing_fb_message","timeStamp":1714979289000},"message":{"id":"u1","status":"read"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := ParseEvent(body)
		if err != nil {
			if !errors.Is(err, ErrNotEvent) {
				t.Fatalf("error %v does not wrap ErrNotEvent", err)
			}
			return
		}
		if ev.Channel != "" && !ev.Channel.Valid() {
			t.Fatalf("invalid channel %q", ev.Channel)
		}
		if ev.Phone != "" {
			if p, err := tasks.NormalizePhone(ev.Phone); err != nil || p != ev.Phone {
				t.Fatalf("phone %q not normalised", ev.Phone)
			}
		}
		if !ev.At.IsZero() && ev.At.Location() != time.UTC {
			t.Fatalf("time %v not in UTC", ev.At)
		}
		switch ev.Kind {
		case EventIncoming:
			if ev.Channel == "" || (ev.ContactID == "" && ev.Phone == "") {
				t.Fatalf("incoming event without channel or contact: %+v", ev)
			}
		case EventStatus:
			if ev.MessageID == "" || ev.Status == "" {
				t.Fatalf("status event without message id or status: %+v", ev)
			}
		case EventIgnored:
		default:
			t.Fatalf("unknown kind %d", ev.Kind)
		}
	})
}
