package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBatch(t *testing.T) {
	f := setup(t)
	body := `{"messages": [
		{"id": "b-1", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "one"},
		{"id": "b-2", "channel": "whatsapp", "to": {"phone": "12"}, "text": "bad phone"},
		{"id": "b-3", "account": "b", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "other account"},
		{"id": "b-1", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "one again"},
		{"id": "b-4", "channel": "instagram", "to": {"contact_id": "c9"}, "template": {"elements": [{"title": "Card", "buttons": [{"text": "Go", "url": "https://example.com"}]}]}}
	]}`
	a := f.do(call{method: "POST", path: "/api/v1/messages/batch", token: tokenA, body: body, badRequest: true})
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	results := a.json(t)["results"].([]any)
	require.Len(t, results, 5)
	item := func(i int) map[string]any { return results[i].(map[string]any) }
	require.Equal(t, "b-1", item(0)["id"])
	require.Equal(t, "messages[1].to.phone", item(1)["error"].(map[string]any)["errors"].([]any)[0].(map[string]any)["field"])
	require.EqualValues(t, 403, item(2)["error"].(map[string]any)["status"])
	require.Equal(t, true, item(3)["duplicate"], "the same id twice in a batch is one message")
	require.Equal(t, "b-4", item(4)["id"])
	require.Equal(t, false, item(4)["duplicate"])

	for id, status := range map[string]int{"b-1": 200, "b-2": 404, "b-3": 404, "b-4": 200} {
		got := f.do(call{method: "GET", path: "/api/v1/messages/" + id, token: tokenAll})
		require.Equal(t, status, got.status, id)
	}
}
