package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/tasks"
)

// TestAPIBackend drives the HTTP API through the adapter that sendq worker
// and dashboard mount: a message sent, read back as the one account's, and
// its outcome change streamed.
//
// The stream is read under a deadline: a change that never arrives fails
// the test instead of hanging it.
func TestAPIBackend(t *testing.T) {
	rdb := redistest.Client(t, 2)
	set, err := accounts.NewSet(accounts.Account{ID: "clinic"})
	require.NoError(t, err)
	srv, err := newAPI(rdb, set, "tok", slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	do := func(method, path, body string, header ...string) (int, map[string]any) {
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var v map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
		return res.StatusCode, v
	}
	status, r := do("POST", "/api/v1/messages", `{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`, "Idempotency-Key", "m1")
	require.Equal(t, http.StatusAccepted, status, "%v", r)
	status, o := do("GET", "/api/v1/messages/m1", "")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "clinic", o["account"])
	require.Equal(t, "queued", o["state"])
	status, p := do("POST", "/api/v1/messages", `{"account": "other", "channel": "telegram", "to": {"contact_id": "c1"}, "text": "hi"}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "account", p["errors"].([]any)[0].(map[string]any)["field"])

	// The event stream: a change made after connecting arrives with its id.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	lines := bufio.NewScanner(res.Body)
	require.True(t, lines.Scan())
	require.True(t, strings.HasPrefix(lines.Text(), ": "), "the stream starts: %q", lines.Text())

	store, err := outcome.New(rdb, outcome.Config{})
	require.NoError(t, err)
	m := &tasks.Message{ID: "m1", Account: "clinic", Channel: tasks.Telegram, Kind: tasks.KindText}
	_, err = store.Finish(context.Background(), m, "", outcome.Result{State: outcome.Expired}, time.Now())
	require.NoError(t, err)
	var id, data string
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "id: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			data = v
			break
		}
	}
	require.NotEmpty(t, id)
	var ev map[string]any
	require.NoError(t, json.Unmarshal([]byte(data), &ev))
	require.Equal(t, "m1", ev["id"])
	require.Equal(t, "expired", ev["state"])
	require.Equal(t, "clinic", ev["account"])
}
