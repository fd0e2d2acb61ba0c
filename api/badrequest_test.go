package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// valid is a message body that the API accepts, for cases to spoil.
const valid = `{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "hello"}`

func batchOf(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id": "batch-%d", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`, i)
	}
	return `{"messages": [` + strings.Join(items, ",") + `]}`
}

// onlyServerKnows are the bad requests that match the OpenAPI document: it
// cannot know the accounts, the tokens, the event ids or a campaign file's
// rows, nor compare two times or refuse unknown query parameters.
var onlyServerKnows = map[string]bool{
	"unknown account": true, "account required with several": true, "another account's token": true,
	"expiry before start": true, "wrong token": true, "campaign unknown parameter": true,
	"campaign of invalid rows only": true, "bad Last-Event-ID": true,
}

// TestBadRequests sends every kind of bad request the API refuses and checks
// that each gets the right 4xx problem naming the field, and that Redis holds
// no new key afterwards.
func TestBadRequests(t *testing.T) {
	f := setup(t)
	msgs := "/api/v1/messages"
	for _, tc := range []struct {
		name   string
		c      call
		status int
		field  string // "" for none
	}{
		{"malformed JSON", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram",`}, 400, "body"},
		{"not JSON", call{method: "POST", path: msgs, token: tokenA, body: `hello`}, 400, "body"},
		{"trailing data", call{method: "POST", path: msgs, token: tokenA, body: valid + `{}`}, 400, "body"},
		{"channel of the wrong type", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": 5, "to": {"contact_id": "c1"}, "text": "hi"}`}, 400, "channel"},
		{"recipient of the wrong type", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": "c1", "text": "hi"}`}, 400, "to"},
		{"params of the wrong type", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "whatsapp", "to": {"contact_id": "c1"}, "template": {"name": "t", "language": "en", "params": "x"}}`}, 400, "template.params"},
		{"unknown field", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi", "colour": "red"}`}, 400, "colour"},
		{"unknown account", call{method: "POST", path: msgs, token: tokenAll, body: `{"account": "zz", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`}, 400, "account"},
		{"account required with several", call{method: "POST", path: msgs, token: tokenAll, body: valid}, 400, "account"},
		{"another account's token", call{method: "POST", path: msgs, token: tokenA, body: `{"account": "b", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`}, 403, "account"},
		{"two recipient forms", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {"contact_id": "c1", "phone": "+6591234567"}, "text": "hi"}`}, 400, "to"},
		{"no recipient", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {}, "text": "hi"}`}, 400, "to"},
		{"bad phone", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "whatsapp", "to": {"phone": "12ab"}, "text": "hi"}`}, 400, "to.phone"},
		{"name without phone", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {"contact_id": "c1", "name": "Ann"}, "text": "hi"}`}, 400, "to.name"},
		{"text too long", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "` + strings.Repeat("x", 4097) + `"}`}, 400, "text"},
		{"http media URL", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "whatsapp", "to": {"contact_id": "c1"}, "media": {"url": "http://example.com/a.png", "mime_type": "image/png"}}`}, 400, "media.url"},
		{"bad MIME type", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "whatsapp", "to": {"contact_id": "c1"}, "media": {"url": "https://example.com/a.png", "mime_type": "png"}}`}, 400, "media.mime_type"},
		{"missing channel", call{method: "POST", path: msgs, token: tokenA, body: `{"to": {"contact_id": "c1"}, "text": "hi"}`}, 400, "channel"},
		{"unknown channel", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "sms", "to": {"contact_id": "c1"}, "text": "hi"}`}, 400, "channel"},
		{"no content", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {"contact_id": "c1"}}`}, 400, "kind"},
		{"text and media", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "whatsapp", "to": {"contact_id": "c1"}, "text": "hi", "media": {"url": "https://example.com/a.png", "mime_type": "image/png"}}`}, 400, "kind"},
		{"template without language", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "whatsapp", "to": {"contact_id": "c1"}, "template": {"name": "t"}}`}, 400, "template.language"},
		{"template category", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "whatsapp", "to": {"contact_id": "c1"}, "template": {"name": "t", "language": "en", "category": "promo"}}`}, 400, "template.category"},
		{"param with a new line", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "whatsapp", "to": {"contact_id": "c1"}, "template": {"name": "t", "language": "en", "params": ["a\nb"]}}`}, 400, "template.params[0]"},
		{"bad not_before", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi", "not_before": "tomorrow"}`}, 400, "not_before"},
		{"expiry before start", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi", "not_before": "2030-01-02T00:00:00Z", "expires_at": "2030-01-01T00:00:00Z"}`}, 400, "expires_at"},
		{"id too long", call{method: "POST", path: msgs, token: tokenA, body: `{"id": "` + strings.Repeat("i", 201) + `", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`}, 400, "id"},
		{"bad Idempotency-Key", call{method: "POST", path: msgs, token: tokenA, body: valid, header: map[string]string{"Idempotency-Key": "two words"}}, 400, "Idempotency-Key"},
		{"body over the cap", call{method: "POST", path: msgs, token: tokenA, body: `{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "` + strings.Repeat("x", 70<<10) + `"}`}, 413, "body"},
		{"not JSON content type", call{method: "POST", path: msgs, token: tokenA, body: valid, header: map[string]string{"Content-Type": "text/plain"}}, 415, "Content-Type"},
		{"no token", call{method: "POST", path: msgs, body: valid}, 401, ""},
		{"wrong token", call{method: "POST", path: msgs, token: "guess", body: valid}, 401, ""},
		{"1,001 messages", call{method: "POST", path: msgs + "/batch", token: tokenA, body: batchOf(1001)}, 400, "messages"},
		{"empty batch", call{method: "POST", path: msgs + "/batch", token: tokenA, body: `{"messages": []}`}, 400, "messages"},
		{"batch without messages", call{method: "POST", path: msgs + "/batch", token: tokenA, body: `{"message": []}`}, 400, "message"},
		{"page size out of range", call{method: "GET", path: "/api/v1/contacts/c1/messages?limit=0", token: tokenA}, 400, "limit"},
		{"campaign without id", call{method: "POST", path: "/api/v1/campaigns?channel=telegram&text=hi", token: tokenA, body: "contact_id\nc1\n", header: map[string]string{"Content-Type": "text/csv"}}, 400, "id"},
		{"campaign as JSON", call{method: "POST", path: "/api/v1/campaigns?id=c&channel=telegram&text=hi", token: tokenA, body: `{}`}, 415, "Content-Type"},
		{"campaign bad at", call{method: "POST", path: "/api/v1/campaigns?id=c&channel=telegram&text=hi&at=soon", token: tokenA, body: "contact_id\nc1\n", header: map[string]string{"Content-Type": "text/csv"}}, 400, "at"},
		{"campaign unknown parameter", call{method: "POST", path: "/api/v1/campaigns?id=c&chanel=telegram", token: tokenA, body: "contact_id\nc1\n", header: map[string]string{"Content-Type": "text/csv"}}, 400, "chanel"},
		{"campaign of invalid rows only", call{method: "POST", path: "/api/v1/campaigns?id=c&channel=telegram&text=hi", token: tokenA, body: "phone\nabc\n", header: map[string]string{"Content-Type": "text/csv"}}, 400, "body"},
		{"bad Last-Event-ID", call{method: "GET", path: "/api/v1/events", token: tokenA, header: map[string]string{"Last-Event-ID": "yesterday"}}, 400, "Last-Event-ID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.keys()
			// The document refuses every bad request its schemas can
			// describe; the others only the server can judge.
			ok, _ := f.openapi.ValidateHttpRequestSync(f.request(tc.c))
			require.Equal(t, onlyServerKnows[tc.name], ok, "the OpenAPI document's verdict on the request")
			tc.c.badRequest = true
			a := f.do(tc.c)
			require.Equal(t, tc.status, a.status, "body: %s", a.body)
			p := a.problem(t)
			if tc.field != "" {
				require.NotEmpty(t, p.Errors, "body: %s", a.body)
				require.Equal(t, tc.field, p.Errors[0].Field, "body: %s", a.body)
				require.NotEmpty(t, p.Errors[0].Message)
			}
			if tc.status == http.StatusUnauthorized {
				require.Equal(t, `Bearer realm="sendq"`, a.header.Get("WWW-Authenticate"))
			}
			require.ElementsMatch(t, before, f.keys(), "a refused request wrote to Redis")
		})
	}
}
