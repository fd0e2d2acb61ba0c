package api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
)

func TestContactMessages(t *testing.T) {
	f := setup(t)
	contact := f.sandbox.MarkInbound(tasks.WhatsApp, "contact-7", "", time.Now())
	a := f.do(call{method: "GET", path: "/api/v1/contacts/" + contact + "/messages?page=1&limit=10", token: tokenA})
	require.Equal(t, http.StatusOK, a.status, "%s", a.body)
	r := a.json(t)
	require.Equal(t, "a", r["account"])
	msgs := r["messages"].([]any)
	require.Len(t, msgs, 1)
	require.Equal(t, true, msgs[0].(map[string]any)["isIncoming"])

	empty := f.do(call{method: "GET", path: "/api/v1/contacts/nobody/messages", token: tokenAll + "x", badRequest: true})
	require.Equal(t, http.StatusUnauthorized, empty.status)
	other := f.do(call{method: "GET", path: "/api/v1/contacts/" + contact + "/messages?account=a", token: tokenB, badRequest: true})
	require.Equal(t, http.StatusForbidden, other.status)
}
