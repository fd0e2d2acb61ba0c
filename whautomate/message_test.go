package whautomate

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
)

func TestParseMessage(t *testing.T) {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name string
		raw  string
		want Message
	}{
		{"webhook message", `{"id":"m1","contact":{"id":"c1","channel":"whatsapp","phoneNumber":"6598765432"},
			"channel":"whatsApp","isIncoming":"true","type":"text","text":"hi","timestamp":"2024-05-06T07:08:09Z",
			"status":"received","errorMessage":"","mediaUrl":"","caption":""}`,
			Message{ID: "m1", ContactID: "c1", Phone: "6598765432", Channel: "whatsapp", Type: "text", Text: "hi",
				Status: "received", Incoming: true, Timestamp: ts}},
		{"isIncoming bool false", `{"id":"m2","isIncoming":false,"timestamp":1714979289}`,
			Message{ID: "m2", Timestamp: ts}},
		{"isIncoming string false", `{"isIncoming":"FALSE","direction":"incoming"}`, Message{}},
		{"isIncoming number", `{"isIncoming":1}`, Message{Incoming: true}},
		{"direction inbound", `{"direction":"Inbound"}`, Message{Incoming: true}},
		{"direction incoming", `{"direction":"incoming"}`, Message{Incoming: true}},
		{"direction outbound", `{"direction":"outbound"}`, Message{}},
		{"unix seconds string", `{"timestamp":"1714979289"}`, Message{Timestamp: ts}},
		{"unix milliseconds", `{"timestamp":1714979289000}`, Message{Timestamp: ts}},
		{"unix milliseconds string", `{"timeStamp":"1714979289000"}`, Message{Timestamp: ts}},
		{"unix microseconds", `{"timestamp":1714979289000000}`, Message{Timestamp: ts}},
		{"unix nanoseconds", `{"timestamp":1714979289000000000}`, Message{Timestamp: ts}},
		{"fractional seconds", `{"timestamp":1714979289.5}`, Message{Timestamp: ts.Add(500 * time.Millisecond)}},
		{"rfc3339 with zone", `{"createdAt":"2024-05-06T09:08:09+02:00"}`, Message{Timestamp: ts}},
		{"rfc3339 nano", `{"timestamp":"2024-05-06T07:08:09.000Z"}`, Message{Timestamp: ts}},
		{"no zone", `{"created_at":"2024-05-06 07:08:09"}`, Message{Timestamp: ts}},
		{"rfc1123", `{"date":"Mon, 06 May 2024 07:08:09 GMT"}`, Message{Timestamp: ts}},
		{"bad timestamp", `{"timestamp":"yesterday"}`, Message{}},
		{"negative timestamp", `{"timestamp":-5}`, Message{}},
		{"huge timestamp", `{"timestamp":1e300}`, Message{}},
		{"timestamp object", `{"timestamp":{"$date":1}}`, Message{}},
		{"numeric id", `{"id":123456789012345678901}`, Message{ID: "123456789012345678901"}},
		{"mongo id", `{"_id":"65a1"}`, Message{ID: "65a1"}},
		{"contactId flat", `{"contactId":"c9","phoneNumber":"+1 555"}`, Message{ContactID: "c9", Phone: "+1 555"}},
		{"contact as string", `{"contact":"c8"}`, Message{ContactID: "c8"}},
		{"channel from contact", `{"contact":{"channel":"Instagram"}}`, Message{Channel: "instagram"}},
		{"facebook is messenger", `{"channel":"Facebook"}`, Message{Channel: "messenger"}},
		{"unknown channel kept", `{"channel":"SMS"}`, Message{Channel: "sms"}},
		{"unknown channel does not hide the contact's", `{"channel":"SMS","contact":{"channel":"fb"}}`,
			Message{Channel: "messenger"}},
		{"text object", `{"text":{"body":"hello"}}`, Message{Text: "hello"}},
		{"textMessage", `{"textMessage":"hey"}`, Message{Text: "hey"}},
		{"media", `{"type":"image","mediaUrl":"https://x/y.jpg","caption":"menu"}`,
			Message{Type: "image", MediaURL: "https://x/y.jpg", Caption: "menu"}},
		{"error object", `{"status":"failed","error":{"message":"undeliverable"}}`,
			Message{Status: "failed", ErrorMessage: "undeliverable"}},
		{"wrong types ignored", `{"id":["x"],"text":5,"isIncoming":{"a":1},"contact":[1]}`, Message{Text: "5"}},
		{"empty object", `{}`, Message{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMessage([]byte(tt.raw))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseMessageRejectsNonObjects(t *testing.T) {
	for _, raw := range []string{``, `null`, `[]`, `"text"`, `{"id":`, `42`} {
		t.Run(raw, func(t *testing.T) {
			_, err := ParseMessage([]byte(raw))
			require.True(t, errors.Is(err, ErrNotMessage), "got %v", err)
		})
	}
}

func TestMessageJSONRoundTrip(t *testing.T) {
	in := Message{ID: "m1", ContactID: "c1", Phone: "65", Channel: "telegram", Type: "image", Text: "t",
		Caption: "c", MediaURL: "https://x", Status: "sent", ErrorMessage: "e", Incoming: true,
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var out Message
	require.NoError(t, json.Unmarshal(b, &out))
	require.Equal(t, in, out)

	var list []Message
	require.NoError(t, json.Unmarshal([]byte(`[{"id":"a","isIncoming":"true"},{"id":"b"}]`), &list))
	require.Equal(t, []Message{{ID: "a", Incoming: true}, {ID: "b"}}, list)
}

func TestParseMessagePage(t *testing.T) {
	msgs := `[{"id":"2","isIncoming":"false"},{"id":"1","isIncoming":"true"}]`
	want := []Message{{ID: "2"}, {ID: "1", Incoming: true}}
	tests := []struct {
		name      string
		body      string
		wantTotal int
	}{
		{"top-level array", msgs, 0},
		{"data", `{"data":` + msgs + `,"total":7}`, 7},
		{"messages", `{"messages":` + msgs + `,"totalCount":"9"}`, 9},
		{"data.messages", `{"data":{"messages":` + msgs + `,"total":3}}`, 3},
		{"data.docs", `{"data":{"docs":` + msgs + `,"totalDocs":4}}`, 4},
		{"non-objects skipped", `{"data":[{"id":"2"},1,"x",null,{"id":"1","direction":"inbound"}]}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := decodeLoose([]byte(tt.body))
			require.NoError(t, err)
			p, err := parseMessagePage(v)
			require.NoError(t, err)
			require.Equal(t, want, p.Messages)
			require.Equal(t, tt.wantTotal, p.Total)
		})
	}
	t.Run("empty", func(t *testing.T) {
		for _, body := range []string{`{}`, `{"data":null}`, `{"data":[]}`, `[]`, `{"success":true,"data":{}}`} {
			v, err := decodeLoose([]byte(body))
			require.NoError(t, err)
			p, err := parseMessagePage(v)
			require.NoError(t, err, body)
			require.Empty(t, p.Messages, body)
		}
	})
	t.Run("unexpected", func(t *testing.T) {
		for _, body := range []string{`"x"`, `{"data":"x"}`, `5`} {
			v, err := decodeLoose([]byte(body))
			require.NoError(t, err)
			_, err = parseMessagePage(v)
			require.Error(t, err, body)
		}
	})
}

func TestLatestIncoming(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		msgs   []Message
		wantID string
		wantOK bool
	}{
		{"none", nil, "", false},
		{"only outgoing", []Message{{ID: "o1", Timestamp: t0}, {ID: "o2", Timestamp: t0}}, "", false},
		{"newest first", []Message{{ID: "o", Timestamp: t0.Add(3)}, {ID: "i2", Incoming: true, Timestamp: t0.Add(2)},
			{ID: "i1", Incoming: true, Timestamp: t0.Add(1)}}, "i2", true},
		{"order does not matter", []Message{{ID: "i1", Incoming: true, Timestamp: t0.Add(1)},
			{ID: "i2", Incoming: true, Timestamp: t0.Add(2)}}, "i2", true},
		{"without timestamps, none", []Message{{ID: "i2", Incoming: true}, {ID: "i1", Incoming: true}}, "", false},
		{"timestamped beats untimed", []Message{{ID: "u", Incoming: true}, {ID: "t", Incoming: true, Timestamp: t0}}, "t", true},
		{"another channel says nothing", []Message{{ID: "tg", Channel: "telegram", Incoming: true, Timestamp: t0.Add(2)},
			{ID: "wa", Channel: "whatsapp", Incoming: true, Timestamp: t0.Add(1)}}, "wa", true},
		{"only another channel", []Message{{ID: "tg", Channel: "telegram", Incoming: true, Timestamp: t0}}, "", false},
		{"no channel counts", []Message{{ID: "n", Incoming: true, Timestamp: t0}}, "n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &MessagePage{Messages: tt.msgs}
			m, ok := p.LatestIncoming(tasks.WhatsApp)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.wantID, m.ID)
		})
	}
	t.Run("nil page", func(t *testing.T) {
		var p *MessagePage
		_, ok := p.LatestIncoming(tasks.WhatsApp)
		require.False(t, ok)
	})
}

// FuzzParseMessage feeds the message parser arbitrary bytes: it must never
// panic, and a parsed message must survive a JSON round trip unchanged.
func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"id":"m1","contact":{"id":"c1","channel":"whatsapp","phoneNumber":"65"},"isIncoming":"true","timestamp":"2024-05-06T07:08:09Z"}`))
	f.Add([]byte(`{"timestamp":1714979289000,"direction":"inbound"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseMessage(raw)
		if err != nil {
			if !errors.Is(err, ErrNotMessage) {
				t.Fatalf("error %v does not wrap ErrNotMessage", err)
			}
			return
		}
		if !m.Timestamp.IsZero() && m.Timestamp.Location() != time.UTC {
			t.Fatalf("timestamp %v not in UTC", m.Timestamp)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if !m.Timestamp.Equal(back.Timestamp) {
			t.Fatalf("timestamp %v came back as %v", m.Timestamp, back.Timestamp)
		}
		m.Timestamp, back.Timestamp = time.Time{}, time.Time{}
		if m != back {
			t.Fatalf("round trip changed %+v into %+v", m, back)
		}
	})
}
