package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
)

func TestSendMessage(t *testing.T) {
	f := setup(t)
	body := `{"account": "a", "channel": "whatsapp", "to": {"phone": "+65 9123 4567"}, "template": {"name": "order_update", "language": "en", "params": ["Ann", "42"]}}`
	a := f.do(call{method: "POST", path: "/api/v1/messages", token: tokenA, body: body})
	require.Equal(t, http.StatusAccepted, a.status, "%s", a.body)
	r := a.json(t)
	require.Equal(t, "queued", r["state"])
	require.Equal(t, false, r["duplicate"])
	id := r["id"].(string)
	require.Equal(t, "/api/v1/messages/"+id, a.header.Get("Location"))

	got := f.do(call{method: "GET", path: "/api/v1/messages/" + id, token: tokenA})
	require.Equal(t, http.StatusOK, got.status, "%s", got.body)
	require.True(t, strings.HasPrefix(string(got.body), `{"id":"`+id+`","account":"a",`), "%s", got.body)
	o := got.json(t)
	require.Equal(t, id, o["id"])
	require.Equal(t, "a", o["account"])
	require.Equal(t, "whatsapp", o["channel"])
	require.Equal(t, "template", o["kind"])
}

func TestSendIdempotency(t *testing.T) {
	f := setup(t)
	t.Run("id in the body", func(t *testing.T) {
		body := `{"id": "order-1", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`
		first := f.do(call{method: "POST", path: "/api/v1/messages", token: tokenA, body: body})
		require.Equal(t, http.StatusAccepted, first.status)
		again := f.do(call{method: "POST", path: "/api/v1/messages", token: tokenA, body: body})
		require.Equal(t, http.StatusOK, again.status)
		r := again.json(t)
		require.Equal(t, "order-1", r["id"])
		require.Equal(t, true, r["duplicate"])
		require.Equal(t, "queued", r["state"])
	})
	t.Run("the body's id before the header", func(t *testing.T) {
		body := `{"id": "order-2", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`
		a := f.do(call{method: "POST", path: "/api/v1/messages", token: tokenA, body: body, header: map[string]string{"Idempotency-Key": "other"}})
		require.Equal(t, "order-2", a.json(t)["id"])
	})
	t.Run("another account's id is another message", func(t *testing.T) {
		body := `{"id": "order-1", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`
		a := f.do(call{method: "POST", path: "/api/v1/messages", token: tokenB, body: body})
		require.Equal(t, http.StatusAccepted, a.status, "%s", a.body)
		require.Equal(t, false, a.json(t)["duplicate"])
		got := f.do(call{method: "GET", path: "/api/v1/messages/order-1", token: tokenB})
		require.Equal(t, "b", got.json(t)["account"], "each token sees its own account's message")
		got = f.do(call{method: "GET", path: "/api/v1/messages/order-1", token: tokenA})
		require.Equal(t, "a", got.json(t)["account"])
	})
}

// TestIdempotencyKeyConcurrent sends the same Idempotency-Key 100 times at
// once: one 202, 99 duplicates, one message, one API call.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	f := setup(t)
	const n = 100
	body := `{"channel": "whatsapp", "to": {"phone": "+6591234567"}, "template": {"name": "receipt", "language": "en"}}`
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i] = f.do(call{method: "POST", path: "/api/v1/messages", token: tokenA, body: body,
				header: map[string]string{"Idempotency-Key": "key-42"}})
		})
	}
	close(start)
	wg.Wait()
	created, dups := 0, 0
	for _, a := range answers {
		r := a.json(t)
		require.Equal(t, "key-42", r["id"])
		switch a.status {
		case http.StatusAccepted:
			created++
			require.Equal(t, false, r["duplicate"])
		case http.StatusOK:
			dups++
			require.Equal(t, true, r["duplicate"])
		default:
			t.Fatalf("status %d: %s", a.status, a.body)
		}
	}
	require.Equal(t, 1, created)
	require.Equal(t, n-1, dups)
	info, err := asynq.NewInspectorFromRedisClient(f.rdb).GetQueueInfo("sendq:whatsapp")
	require.NoError(t, err)
	require.Equal(t, 1, info.Size, "one message enqueued")

	f.runWorker()
	waitState(t, f, "key-42", "sent")
	var sends int
	for _, r := range f.sandbox.Requests() {
		if r.Channel != "" {
			sends++
		}
	}
	require.Equal(t, 1, sends, "one API call")
}

// TestTokenIsolation: an account's token neither reads nor acts on another
// account's messages; SENDQ_API_TOKEN reaches both.
func TestTokenIsolation(t *testing.T) {
	f := setup(t)
	a := f.do(call{method: "POST", path: "/api/v1/messages", token: tokenA, body: valid})
	require.Equal(t, http.StatusAccepted, a.status)
	id := a.json(t)["id"].(string)
	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"its own account", tokenA, http.StatusOK},
		{"every account", tokenAll, http.StatusOK},
		{"another account", tokenB, http.StatusNotFound},
		{"a wrong token", "nope", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := f.do(call{method: "GET", path: "/api/v1/messages/" + id, token: tc.token, badRequest: tc.status == http.StatusUnauthorized})
			require.Equal(t, tc.status, got.status, "%s", got.body)
			if tc.status == http.StatusNotFound {
				p := got.problem(t)
				require.NotContains(t, p.Detail, `"a"`, "a 404 tells nothing of the owner")
			}
		})
	}
	t.Run("sending as another account", func(t *testing.T) {
		got := f.do(call{method: "POST", path: "/api/v1/messages", token: tokenB, badRequest: true,
			body: `{"account": "a", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`})
		require.Equal(t, http.StatusForbidden, got.status)
		require.Equal(t, "account", got.problem(t).Errors[0].Field)
	})
	t.Run("every account names one", func(t *testing.T) {
		got := f.do(call{method: "POST", path: "/api/v1/messages", token: tokenAll,
			body: `{"account": "b", "channel": "telegram", "to": {"contact_id": "c2"}, "text": "hi"}`})
		require.Equal(t, http.StatusAccepted, got.status, "%s", got.body)
		o := f.do(call{method: "GET", path: "/api/v1/messages/" + got.json(t)["id"].(string), token: tokenB})
		require.Equal(t, "b", o.json(t)["account"])
	})
}

// TestNoTokenConfigured: with no token, every request is refused.
func TestNoTokenConfigured(t *testing.T) {
	f := setup(t, func(o *setupOptions) {
		o.accounts = []accounts.Account{{ID: "a"}}
		o.cfg.Token = ""
	})
	for _, token := range []string{"", "anything", tokenA} {
		a := f.do(call{method: "POST", path: "/api/v1/messages", token: token, body: valid, badRequest: true})
		require.Equal(t, http.StatusUnauthorized, a.status)
		a.problem(t)
	}
	require.Empty(t, f.keys())
	doc := f.do(call{method: "GET", path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, doc.status, "the document needs no token")
}

func TestMessageNotFound(t *testing.T) {
	f := setup(t)
	a := f.do(call{method: "GET", path: "/api/v1/messages/nope", token: tokenAll})
	require.Equal(t, http.StatusNotFound, a.status)
	a.problem(t)
}

func TestUnroutedPaths(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/api/v1/messages", http.StatusMethodNotAllowed, "POST"},
		{"DELETE", "/api/v1/messages/x", http.StatusMethodNotAllowed, "GET"},
		{"GET", "/api/v1/campaigns/x/pause", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/api/v1/nothing", http.StatusNotFound, ""},
	} {
		a := f.do(call{method: tc.method, path: tc.path, token: tokenA, badRequest: true, undocumented: true})
		require.Equal(t, tc.status, a.status, "%s %s: %s", tc.method, tc.path, a.body)
		a.problem(t)
		require.Equal(t, tc.allow, a.header.Get("Allow"))
	}
}
