package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
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
	o := got.json(t)
	require.Equal(t, id, o["id"])
	require.Equal(t, "a", o["account"])
	require.Equal(t, "whatsapp", o["channel"])
	require.Equal(t, "template", o["kind"])
}
