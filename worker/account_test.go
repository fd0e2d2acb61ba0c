package worker

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// twoAccounts is a chain for accounts "a" and "b", each with its own API.
func twoAccounts(t *testing.T, hold time.Duration) (c *testChain, a, b *fakeAPI) {
	t.Helper()
	a, b = &fakeAPI{t: t}, &fakeAPI{t: t}
	c = setup(t, func(cfg *Config) {
		cfg.API = nil
		cfg.Hold = hold
		cfg.Accounts = []Account{{ID: "a", API: a, Limits: cfg.Limits, RecipientLimits: cfg.RecipientLimits},
			{ID: "b", API: b, Limits: cfg.Limits, RecipientLimits: cfg.RecipientLimits}}
	})
	return c, a, b
}

// of is m sent from account.
func of(account string, m tasks.Message) tasks.Message {
	m.Account = account
	return m
}

// TestAccounts: each message goes through its own account's API, with its
// account's holds; a message of an account the worker does not send for
// waits, untouched.
func TestAccounts(t *testing.T) {
	const hold = 5 * time.Second
	c, a, b := twoAccounts(t, hold)
	requireVerdict(t, done, c.run(t, of("a", templateMsg("m1", "c1"))))
	requireVerdict(t, done, c.run(t, of("b", templateMsg("m1", "c1"))))
	require.Len(t, a.sent, 1)
	require.Len(t, b.sent, 1, "the same id in another account is another message")

	a.fail(upstream(t, whautomatetest.Answer{Status: 403, Body: `{"message":"Forbidden"}`}))
	requireVerdict(t, deferred(hold), c.run(t, of("a", templateMsg("m2", "c2"))))
	requireVerdict(t, held, c.run(t, of("a", templateMsg("m3", "c3"))))
	requireVerdict(t, done, c.run(t, of("b", templateMsg("m3", "c3"))))
	require.Len(t, b.sent, 2, "a hold of one account leaves the other alone")

	requireVerdict(t, deferred(c.w.cfg.Hold), c.run(t, of("z", templateMsg("m4", "c4"))))
	require.Len(t, a.sent, 2)
	require.Len(t, b.sent, 2, "no call for an account the worker does not send for")
}

// TestWebhookRoutes: each account's webhook has its path and token; an
// unknown account is 404 whatever the token, and the path without an
// account serves only a deployment of one.
func TestWebhookRoutes(t *testing.T) {
	c, _, _ := twoAccounts(t, time.Second)
	srv := httptest.NewServer(NewHTTPHandler(HTTPConfig{Redis: c.rdb, Worker: c.w,
		WebhookTokens: map[string]string{"a": "token-a", "b": "token-b"}}))
	t.Cleanup(srv.Close)
	body := `{"event":{"type":"incoming_whatsapp_message"},"message":{"contact":{"id":"c9","channel":"WhatsApp"},"isIncoming":"true"}}`
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"OwnToken", "/webhooks/whautomate/a", "token-a", http.StatusOK},
		{"OtherAccountsToken", "/webhooks/whautomate/a", "token-b", http.StatusUnauthorized},
		{"UnknownAccount", "/webhooks/whautomate/z", "token-a", http.StatusNotFound},
		{"UnknownAccountNoToken", "/webhooks/whautomate/z", "", http.StatusNotFound},
		{"NoAccountWithSeveral", "/webhooks/whautomate", "token-a", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+tc.path, strings.NewReader(body))
			require.NoError(t, err)
			if tc.token != "" {
				req.Header.Set("X-Webhook-Token", tc.token)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, tc.want, res.StatusCode)
		})
	}
}
