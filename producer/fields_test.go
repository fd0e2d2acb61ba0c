package producer_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
)

func TestFieldsCategory(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		f      producer.Fields
		want   tasks.Category // on the template; "" when unset
		field  string         // the error's field; "" when valid
		reason string
	}{
		{name: "TemplateMarketing", f: producer.Fields{Channel: "whatsapp", ContactID: "c1", Template: "sale", Language: "en", Category: "Marketing"}, want: tasks.Marketing},
		{name: "TemplateUnset", f: producer.Fields{Channel: "whatsapp", ContactID: "c1", Template: "otp", Language: "en"}},
		{name: "TelegramAuthentication", f: producer.Fields{Channel: "telegram", ContactID: "c1", Template: "Code 1234", Category: "authentication"}, want: tasks.Authentication},
		{name: "Unknown", f: producer.Fields{Channel: "whatsapp", ContactID: "c1", Template: "sale", Language: "en", Category: "promo"}, field: "template.category", reason: "marketing, utility or authentication"},
		{name: "OnText", f: producer.Fields{Channel: "whatsapp", ContactID: "c1", Text: "hi", Category: "marketing"}, field: "template.category", reason: "only a template"},
		{name: "OnMedia", f: producer.Fields{Channel: "whatsapp", ContactID: "c1", MediaURL: "https://x.example/a.jpg", MimeType: "image/jpeg", Category: "utility"}, field: "template.category", reason: "only a template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := tt.f.Message()
			if tt.field != "" {
				var v *tasks.ValidationError
				require.ErrorAs(t, err, &v)
				require.Equal(t, tt.field, v.Field)
				require.Contains(t, v.Reason, tt.reason)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, m.Template.Category)
		})
	}
}
