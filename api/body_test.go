package api_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/api"
	"github.com/sendq/sendq/tasks"
)

func TestDecodeMessage(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		field      string // "" for a valid body
		kind       tasks.Kind
	}{
		{"text", `{"channel": "Telegram", "to": {"contact_id": " c1 "}, "text": "hi"}`, "", tasks.KindText},
		{"media", `{"channel": "whatsapp", "to": {"phone": "+65 9123 4567", "name": "Ann"}, "media": {"url": "https://x.io/a.png", "mime_type": "image/png", "caption": "c"}}`, "", tasks.KindMedia},
		{"telegram buttons", `{"channel": "telegram", "to": {"client_id": "k"}, "template": {"text": "t", "buttons": [{"text": "Go", "url": "https://x.io"}]}}`, "", tasks.KindTemplate},
		{"times", `{"channel": "telegram", "to": {"contact_id": "c"}, "text": "hi", "not_before": "2030-01-01T00:00:00+08:00", "expires_at": "2030-01-02T00:00:00Z"}`, "", tasks.KindText},
		{"null recipient", `{"channel": "telegram", "to": null, "text": "hi"}`, "to", ""},
		{"number as text", `{"channel": "telegram", "to": {"contact_id": "c"}, "text": 5}`, "text", ""},
		{"nested unknown", `{"channel": "telegram", "to": {"contact": "c"}, "text": "hi"}`, "contact", ""},
		{"empty body", ``, "body", ""},
		{"array", `[]`, "body", ""},
		{"buttons on whatsapp", `{"channel": "whatsapp", "to": {"contact_id": "c"}, "template": {"name": "n", "language": "en", "buttons": [{"text": "x"}]}}`, "template.buttons", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, m, err := api.DecodeMessage([]byte(tc.body))
			if tc.field == "" {
				require.NoError(t, err)
				require.Equal(t, tc.kind, m.Kind)
				require.Empty(t, m.ID, "the caller gives the id")
				return
			}
			var v *tasks.ValidationError
			require.True(t, errors.As(err, &v), "%v", err)
			require.Equal(t, tc.field, v.Field)
		})
	}
}

// FuzzDecodeMessage: whatever the body, the decoder returns a message that
// validates, or a *tasks.ValidationError naming a field; it never panics.
// The seed corpus is in testdata/fuzz/FuzzDecodeMessage.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, m, err := api.DecodeMessage(data)
		if err != nil {
			var v *tasks.ValidationError
			if !errors.As(err, &v) || v.Field == "" {
				t.Fatalf("not a validation error naming a field: %#v", err)
			}
			return
		}
		m.ID = "fuzz"
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded message does not validate again: %v", err)
		}
		if !m.Kind.Valid() || !m.Channel.Valid() {
			t.Fatalf("decoded message without kind or channel: %+v", m)
		}
	})
}
