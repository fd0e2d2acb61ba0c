package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIDocument: the document is served without a token, names the
// full paths, and its validator refuses an answer that breaks it (so the
// checks of every other test can fail).
func TestOpenAPIDocument(t *testing.T) {
	f := setup(t)
	a := f.do(call{method: "GET", path: "/api/v1/openapi.json"})
	require.Equal(t, http.StatusOK, a.status)
	var doc struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(a.body, &doc))
	require.Equal(t, "3.1.0", doc.OpenAPI)
	for _, p := range []string{"/api/v1/messages", "/api/v1/messages/batch", "/api/v1/messages/{id}",
		"/api/v1/contacts/{contactId}/messages", "/api/v1/campaigns", "/api/v1/campaigns/{id}",
		"/api/v1/campaigns/{id}/pause", "/api/v1/campaigns/{id}/resume", "/api/v1/campaigns/{id}/cancel",
		"/api/v1/events", "/api/v1/openapi.json"} {
		require.Contains(t, doc.Paths, p)
	}

	c := call{method: "GET", path: "/api/v1/messages/x", token: tokenA}
	for name, body := range map[string]string{
		"a required field missing": `{"id": "x"}`,
		"an unknown state":         `{"id": "x", "state": "lost"}`,
	} {
		t.Run(name, func(t *testing.T) {
			res := &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader([]byte(body)))}
			ok, _ := f.openapi.ValidateHttpResponse(f.request(c), res)
			require.False(t, ok)
		})
	}
	t.Run("a problem without a status", func(t *testing.T) {
		res := &http.Response{StatusCode: 404, Header: http.Header{"Content-Type": {"application/problem+json"}},
			Body: io.NopCloser(bytes.NewReader([]byte(`{"type": "x", "title": "y"}`)))}
		ok, _ := f.openapi.ValidateHttpResponse(f.request(c), res)
		require.False(t, ok)
	})
	t.Run("a request the document refuses", func(t *testing.T) {
		bad := call{method: "POST", path: "/api/v1/messages", token: tokenA, body: `{"channel": "sms", "to": {}}`}
		ok, _ := f.openapi.ValidateHttpRequestSync(f.request(bad))
		require.False(t, ok)
	})
}
