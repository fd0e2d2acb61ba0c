package tasks

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseCategory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Category
		bad  bool
	}{
		{in: "", want: Utility},
		{in: "marketing", want: Marketing},
		{in: " Utility ", want: Utility},
		{in: "AUTHENTICATION", want: Authentication},
		{in: "promo", bad: true},
		{in: "market", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCategory(tt.in)
			if tt.bad {
				requireField(t, err, "template.category", "marketing, utility or authentication")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMessageCategory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		m         *Message
		want      Category
		marketing bool
	}{
		{"Text", newMessage(WhatsApp, KindText), Utility, false},
		{"Media", newMessage(WhatsApp, KindMedia), Utility, false},
		{"TemplateUnset", newMessage(WhatsApp, KindTemplate), Utility, false},
		{"TemplateMarketing", withCategory(newMessage(WhatsApp, KindTemplate), Marketing), Marketing, true},
		{"TemplateAuthentication", withCategory(newMessage(Telegram, KindTemplate), Authentication), Authentication, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.m.Category())
			require.Equal(t, tt.marketing, tt.m.IsMarketing())
		})
	}
}

func TestCategoryJSON(t *testing.T) {
	t.Parallel()
	m := withCategory(newMessage(WhatsApp, KindTemplate), Marketing)
	b, err := json.Marshal(m.Template)
	require.NoError(t, err)
	require.Contains(t, string(b), `"cg":"marketing"`)

	b, err = json.Marshal(newMessage(WhatsApp, KindTemplate).Template)
	require.NoError(t, err)
	require.NotContains(t, string(b), `"cg"`, "an unset category costs no bytes")
}

func withCategory(m *Message, c Category) *Message {
	m.Template.Category = c
	return m
}
