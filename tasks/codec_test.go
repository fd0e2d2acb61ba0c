package tasks

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTypes(t *testing.T) {
	t.Parallel()

	types := Types()
	require.Equal(t, []string{
		"send:whatsapp:text", "send:whatsapp:media", "send:whatsapp:template",
		"send:telegram:text", "send:telegram:media", "send:telegram:template",
		"send:instagram:text", "send:instagram:media", "send:instagram:template",
		"send:messenger:text", "send:messenger:media", "send:messenger:template",
	}, types)

	for _, typ := range types {
		require.True(t, strings.HasPrefix(typ, TypePrefix))
		c, k, err := ParseType(typ)
		require.NoError(t, err)
		require.Equal(t, typ, TypeName(c, k))
		require.Equal(t, typ, (&Message{Channel: c, Kind: k}).Type())
	}

	types[0] = "changed"
	require.Equal(t, "send:whatsapp:text", Types()[0], "Types returns a fresh slice")
}

func TestParseType(t *testing.T) {
	t.Parallel()

	for _, s := range []string{
		"",
		"send:",
		"send:whatsapp",
		"send:whatsapp:",
		"send::text",
		"send:sms:text",
		"send:whatsapp:sticker",
		"send:WhatsApp:text",
		"Send:whatsapp:text",
		" send:whatsapp:text",
		"send:whatsapp:text:extra",
		"whatsapp:text",
		"email:welcome",
	} {
		t.Run(fmt.Sprintf("%q", s), func(t *testing.T) {
			t.Parallel()
			c, k, err := ParseType(s)
			requireField(t, err, "type", "send:<channel>:<kind>")
			require.Empty(t, c)
			require.Empty(t, k)
		})
	}
}

// fullMessage returns a valid message of channel ch and kind k with every field
// that applies set.
func fullMessage(ch Channel, k Kind) *Message {
	m := newMessage(ch, k)
	m.ID = fmt.Sprintf("order-42/%s/%s", ch, k)
	m.Campaign = "spring-sale"
	m.NotBefore = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	m.ExpiresAt = m.NotBefore.Add(24 * time.Hour)
	m.CreatedAt = time.Date(2026, 4, 30, 12, 30, 15, 123456789, time.UTC)
	if ch == WhatsApp {
		m.To = Recipient{Phone: "6598765432", Name: "Ada Lovelace"}
		if k == KindTemplate {
			m.Template.HeaderParams = nil
			m.Template.HeaderMediaURL = "https://cdn.example.com/header.png"
		}
	}
	return m
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()

	t.Run("RoundTripEveryType", func(t *testing.T) {
		t.Parallel()
		for _, typ := range Types() {
			t.Run(typ, func(t *testing.T) {
				t.Parallel()
				c, k, err := ParseType(typ)
				require.NoError(t, err)
				m := fullMessage(c, k)
				data, err := Encode(m)
				require.NoError(t, err)
				require.Equal(t, typ, m.Type())

				got, err := DecodeTask(typ, data)
				require.NoError(t, err)
				require.Equal(t, m, got)

				again, err := Encode(got)
				require.NoError(t, err)
				require.Equal(t, string(data), string(again))
			})
		}
	})

	t.Run("WireFormat", func(t *testing.T) {
		t.Parallel()
		m := &Message{
			ID: "msg-1", Channel: "WhatsApp", Kind: KindMedia, To: Recipient{Phone: "+65 9876 5432"},
			Media:     &Media{URL: "https://cdn.example.com/a.jpg?w=1&h=2", MimeType: "image/jpeg", Caption: "<b>"},
			NotBefore: time.Date(2026, 5, 1, 17, 0, 0, 0, time.FixedZone("SGT", 8*3600)),
		}
		data, err := Encode(m)
		require.NoError(t, err)
		require.Equal(t,
			`{"id":"msg-1","ch":"whatsapp","k":"media","to":{"p":"6598765432"},`+
				`"md":{"u":"https://cdn.example.com/a.jpg?w=1&h=2","m":"image/jpeg","c":"<b>"},`+
				`"nb":"2026-05-01T09:00:00Z"}`,
			string(data))
	})

	t.Run("EncodeValidates", func(t *testing.T) {
		t.Parallel()
		m := newMessage(WhatsApp, KindText)
		m.To = Recipient{Phone: "12345"}
		data, err := Encode(m)
		requireField(t, err, "to.phone", "")
		require.Nil(t, data)

		data, err = Encode(nil)
		requireField(t, err, "message", "")
		require.Nil(t, data)
	})

	t.Run("UnknownFieldsTolerated", func(t *testing.T) {
		t.Parallel()
		m, err := Decode([]byte(`{"id":"m","ch":"telegram","k":"text","to":{"c":"c1","zz":1},"tx":"hi","future":{"a":[1,2]}}`))
		require.NoError(t, err)
		require.Equal(t, &Message{ID: "m", Channel: Telegram, Kind: KindText, To: Recipient{ContactID: "c1"}, Text: "hi"}, m)
	})

	t.Run("DecodeNormalizes", func(t *testing.T) {
		t.Parallel()
		m, err := Decode([]byte(`{"id":" m ","ch":"Telegram","k":"TEXT","to":{"p":"+44 20 7946 0958"},"tx":"hi","nb":"2026-05-01T10:00:00+01:00"}`))
		require.NoError(t, err)
		require.Equal(t, &Message{
			ID: "m", Channel: Telegram, Kind: KindText, To: Recipient{Phone: "442079460958"}, Text: "hi",
			NotBefore: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC),
		}, m)
	})
}

func TestDecodeInvalid(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		data  string
		field string // "" for a JSON error
	}{
		{name: "Empty", data: ``},
		{name: "Garbage", data: "\x00\xff\xfe garbage"},
		{name: "Truncated", data: `{"id":"m","ch":"whatsapp"`},
		{name: "Array", data: `[1,2,3]`},
		{name: "String", data: `"send:whatsapp:text"`},
		{name: "TrailingData", data: `{"id":"m","ch":"telegram","k":"text","to":{"c":"c1"},"tx":"hi"} {}`},
		{name: "WrongType", data: `{"id":42}`},
		{name: "WrongNestedType", data: `{"id":"m","ch":"whatsapp","k":"text","to":{"p":6598765432},"tx":"hi"}`},
		{name: "BadTime", data: `{"id":"m","ch":"whatsapp","k":"text","to":{"c":"c1"},"tx":"hi","nb":"tomorrow"}`},
		{name: "Null", data: `null`, field: "id"},
		{name: "EmptyObject", data: `{}`, field: "id"},
		{name: "NoChannel", data: `{"id":"m"}`, field: "channel"},
		{name: "NoRecipient", data: `{"id":"m","ch":"whatsapp","k":"text","tx":"hi"}`, field: "to"},
		{name: "TwoForms", data: `{"id":"m","ch":"whatsapp","k":"text","to":{"c":"c1"},"tx":"hi","md":{}}`, field: "kind"},
		{name: "HTTPMedia", data: `{"id":"m","ch":"whatsapp","k":"media","to":{"c":"c1"},"md":{"u":"http://x.example/a.png","m":"image/png"}}`, field: "media.url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := Decode([]byte(tt.data))
			require.Nil(t, m)
			require.ErrorIs(t, err, ErrInvalid)
			if tt.field != "" {
				requireField(t, err, tt.field, "")
			}
		})
	}
}

func TestDecodeTask(t *testing.T) {
	t.Parallel()

	data, err := Encode(newMessage(Telegram, KindMedia))
	require.NoError(t, err)

	t.Run("Match", func(t *testing.T) {
		t.Parallel()
		m, err := DecodeTask("send:telegram:media", data)
		require.NoError(t, err)
		require.Equal(t, "send:telegram:media", m.Type())
	})

	tests := []struct {
		name     string
		typename string
		data     []byte
		field    string
	}{
		{name: "OtherChannel", typename: "send:whatsapp:media", data: data, field: "type"},
		{name: "OtherKind", typename: "send:telegram:text", data: data, field: "type"},
		{name: "UnknownType", typename: "email:welcome", data: data, field: "type"},
		{name: "InvalidPayload", typename: "send:telegram:media", data: []byte(`{"id":""}`), field: "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := DecodeTask(tt.typename, tt.data)
			require.Nil(t, m)
			requireField(t, err, tt.field, "")
		})
	}

	t.Run("Garbage", func(t *testing.T) {
		t.Parallel()
		m, err := DecodeTask("send:telegram:media", []byte("{"))
		require.Nil(t, m)
		require.ErrorIs(t, err, ErrInvalid)
	})
}

func TestRecipient(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		r        Recipient
		key      string
		redacted string
	}{
		{name: "Contact", r: Recipient{ContactID: "abc123"}, key: "c:abc123", redacted: "c:abc123"},
		{name: "Client", r: Recipient{ClientID: "cl-9"}, key: "l:cl-9", redacted: "l:cl-9"},
		{name: "Phone", r: Recipient{Phone: "6598765432", Name: "Ada"}, key: "p:6598765432", redacted: "p:…5432"},
		{name: "PhoneNotNormalized", r: Recipient{Phone: "+65 9876 5432"}, key: "p:+65 9876 5432", redacted: "p:…5432"},
		{name: "PhoneInvalid", r: Recipient{Phone: "123"}, key: "p:123", redacted: "p:…"},
		{name: "Empty", r: Recipient{}, key: "", redacted: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.key, tt.r.Key())
			require.Equal(t, tt.redacted, tt.r.Redacted())
		})
	}

	t.Run("RedactedNeverShowsTheNumber", func(t *testing.T) {
		t.Parallel()
		m := newMessage(WhatsApp, KindText)
		m.To = Recipient{Phone: "+44 20 7946 0958", Name: "Ada"}
		require.NoError(t, m.Validate())
		red := m.To.Redacted()
		require.NotContains(t, red, "2079")
		require.NotContains(t, red, "Ada")
		require.Equal(t, "p:…0958", red)
	})
}

func TestEncodeIsCompactJSON(t *testing.T) {
	t.Parallel()

	for _, typ := range Types() {
		c, k, err := ParseType(typ)
		require.NoError(t, err)
		data, err := Encode(fullMessage(c, k))
		require.NoError(t, err)
		require.True(t, json.Valid(data))
		require.NotContains(t, string(data), "\n")
		require.NotContains(t, string(data), `": `)
	}
}
