package whautomatetest_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// The paths the account tests call, each (but the look-up) with its body.
const (
	waTemplate = "/v1/messages/whatsapp/sendtemplate"
	tgText     = "/v1/messages/telegram/sendtext"
	igTemplate = "/v1/messages/instagram/sendtemplate"
	msTemplate = "/v1/messages/messenger/sendtemplate"
	badMedia   = "/v1/messages/telegram/sendmedia" // its body lacks the media: 400
	noChannel  = "/v1/messages/sms/sendtext"       // 404
	lookup     = "/v1/messages/c1"                 // GET
)

var bodies = map[string]string{
	waTemplate: `{"contact":{"id":"c1"},"template":{"name":"hello","language":"en"}}`,
	tgText:     `{"contact":{"id":"c1"},"textMessage":"hi"}`,
	igTemplate: `{"contact":{"id":"c1"},"elements":[{"title":"t"}]}`,
	msTemplate: `{"contact":{"id":"c1"},"elements":[{"title":"t"}]}`,
	badMedia:   `{"contact":{"id":"c1"}}`,
	noChannel:  `{"contact":{"id":"c1"},"textMessage":"hi"}`,
}

// call makes one request to path with key ("" for none): a POST of the
// path's body, or a GET for a look-up. It returns the status, the
// Retry-After header and the decoded body.
func call(t *testing.T, sb *whautomatetest.Server, path, key string) (int, string, map[string]any) {
	t.Helper()
	method, body := http.MethodGet, ""
	if b, ok := bodies[path]; ok {
		method, body = http.MethodPost, b
	}
	return request(t, method, sb.URL()+path, key, body)
}

func TestAPIKey(t *testing.T) {
	one := whautomatetest.Options{APIKey: "k1"}
	two := whautomatetest.Options{APIKey: "k1", Keys: map[string]whautomatetest.KeyOptions{"k2": {}}}
	revoke := func(sb *whautomatetest.Server) { require.True(t, sb.RevokeKey("k1")) }
	tests := []struct {
		name  string
		opts  whautomatetest.Options
		setup func(sb *whautomatetest.Server)
		key   string
		path  string
		want  int
	}{
		{"missing", one, nil, "", waTemplate, http.StatusForbidden},
		{"wrong", one, nil, "k2", waTemplate, http.StatusForbidden},
		{"right", one, nil, "k1", waTemplate, http.StatusOK},
		{"missing on a look-up", one, nil, "", lookup, http.StatusForbidden},
		{"missing on an unknown path", one, nil, "", noChannel, http.StatusForbidden},
		{"the default key", whautomatetest.Options{}, nil, whautomatetest.DefaultAPIKey, waTemplate, http.StatusOK},
		{"no default key beside Keys", whautomatetest.Options{Keys: two.Keys}, nil, whautomatetest.DefaultAPIKey, waTemplate, http.StatusForbidden},
		{"APIKey beside Keys", two, nil, "k1", waTemplate, http.StatusOK},
		{"one of Keys", two, nil, "k2", lookup, http.StatusOK},
		{"revoked", one, revoke, "k1", waTemplate, http.StatusForbidden},
		{"revoked, on a look-up", one, revoke, "k1", lookup, http.StatusForbidden},
		{"revoked, then accepted", one, func(sb *whautomatetest.Server) {
			revoke(sb)
			require.True(t, sb.AcceptKey("k1"))
		}, "k1", waTemplate, http.StatusOK},
		{"another key revoked", two, revoke, "k2", waTemplate, http.StatusOK},
		{"added at run time", one, func(sb *whautomatetest.Server) {
			require.Equal(t, 1, sb.AddKey("k3", whautomatetest.KeyOptions{}))
		}, "k3", waTemplate, http.StatusOK},
		{"rotated: the old key", one, func(sb *whautomatetest.Server) { sb.SetAPIKey("k9") }, "k1", waTemplate, http.StatusForbidden},
		{"rotated: the new key", one, func(sb *whautomatetest.Server) { sb.SetAPIKey("k9") }, "k9", waTemplate, http.StatusOK},
		{"rotated away", one, func(sb *whautomatetest.Server) { sb.SetAPIKey("") }, "k1", waTemplate, http.StatusForbidden},
		{"rotation leaves Keys", two, func(sb *whautomatetest.Server) { sb.SetAPIKey("") }, "k2", waTemplate, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := setup(t, tt.opts).sb
			if tt.setup != nil {
				tt.setup(sb)
			}
			status, _, v := call(t, sb, tt.path, tt.key)
			require.Equal(t, tt.want, status, "answer: %v", v)
			if status == http.StatusForbidden {
				require.Equal(t, map[string]any{"message": "Forbidden"}, v, "as upstream documents it")
			}
		})
	}

	t.Run("the client takes the 403 for a configuration error", func(t *testing.T) {
		b := setup(t, one)
		b.sb.SetAPIKey("k2")
		_, err := b.client.SendWhatsAppTemplate(context.Background(), tasks.Recipient{ContactID: "c1"}, tasks.Template{Name: "hello", Language: "en"})
		require.Equal(t, whautomate.Configuration, whautomate.Classify(err))
		_, err = b.client.Messages(context.Background(), "c1", 1, 10)
		var ae *whautomate.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusForbidden, ae.Status)
		require.Equal(t, "Forbidden", ae.Message)
	})
	t.Run("unknown keys", func(t *testing.T) {
		sb := setup(t, one).sb
		require.False(t, sb.RevokeKey("nope"))
		require.False(t, sb.AcceptKey("nope"))
		require.Equal(t, -1, sb.AddKey("", whautomatetest.KeyOptions{}))
		require.Equal(t, -1, sb.KeyIndex("nope"))
		require.Equal(t, -1, sb.KeyIndex(""))
	})
}

// step is one or more requests at one time of the sandbox's clock.
type step struct {
	at   time.Duration // after t0
	key  string
	path string
	n    int // how many requests, each answered want
	want int
}

func TestBudget(t *testing.T) {
	const a, b, def = "key-a", "key-b", whautomatetest.DefaultAPIKey
	const ok, over, minute, ms = http.StatusOK, http.StatusTooManyRequests, time.Minute, time.Millisecond
	tests := []struct {
		name  string
		opts  whautomatetest.Options
		steps []step
	}{
		{"the 61st in a minute at 60/m is refused, and accepted once the window slides", whautomatetest.Options{Budget: 60}, []step{
			{0, def, waTemplate, 30, ok},
			{30 * time.Second, def, lookup, 30, ok},
			{minute - ms, def, tgText, 1, over},
			{minute, def, tgText, 30, ok}, // those of t0 have left the window
			{minute, def, lookup, 1, over},
			{90*time.Second - ms, def, waTemplate, 1, over},
			{90 * time.Second, def, waTemplate, 1, ok},
		}},
		{"two keys, each with its own budget", whautomatetest.Options{APIKey: a, Budget: 5,
			Keys: map[string]whautomatetest.KeyOptions{b: {Budget: 10}}}, []step{
			{0, a, waTemplate, 5, ok},
			{0, a, lookup, 1, over},
			{0, b, tgText, 10, ok},
			{time.Second, b, waTemplate, 1, over},
			{time.Second, a, waTemplate, 1, over},
			{minute - ms, a, waTemplate, 1, over},
			{minute, a, waTemplate, 5, ok},
			{minute, a, waTemplate, 1, over},
			{minute, b, lookup, 10, ok},
			{minute, b, tgText, 1, over},
		}},
		{"every channel and the look-ups take from one budget", whautomatetest.Options{Budget: 5}, []step{
			{0, def, waTemplate, 1, ok},
			{0, def, tgText, 1, ok},
			{0, def, igTemplate, 1, ok},
			{0, def, msTemplate, 1, ok},
			{0, def, lookup, 1, ok},
			{0, def, waTemplate, 1, over},
			{0, def, tgText, 1, over},
			{0, def, lookup, 1, over},
		}},
		{"refused requests are not counted", whautomatetest.Options{Budget: 2}, []step{
			{0, def, waTemplate, 2, ok},
			{30 * time.Second, def, waTemplate, 3, over},
			{minute - ms, def, lookup, 1, over},
			{minute, def, waTemplate, 2, ok},
			{minute, def, waTemplate, 1, over},
		}},
		{"a bad request and an unknown path count", whautomatetest.Options{Budget: 2}, []step{
			{0, def, badMedia, 1, http.StatusBadRequest},
			{0, def, noChannel, 1, http.StatusNotFound},
			{0, def, waTemplate, 1, over},
			{0, def, badMedia, 1, over},
		}},
		{"a wrong or missing key counts against no budget", whautomatetest.Options{Budget: 1}, []step{
			{0, "wrong", waTemplate, 5, http.StatusForbidden},
			{0, "", lookup, 5, http.StatusForbidden},
			{0, def, waTemplate, 1, ok},
			{0, def, waTemplate, 1, over},
		}},
		{"no budget", whautomatetest.Options{}, []step{
			{0, def, tgText, 400, ok},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bu := setup(t, tt.opts)
			for i, st := range tt.steps {
				bu.clock.Set(t0.Add(st.at))
				for j := range st.n {
					status, retryAfter, v := call(t, bu.sb, st.path, st.key)
					require.Equal(t, st.want, status, "step %d, request %d: %v", i, j, v)
					if status == over {
						require.Equal(t, map[string]any{"message": "Too Many Requests"}, v)
						require.Empty(t, retryAfter, "none by default")
					}
				}
			}
		})
	}
}
