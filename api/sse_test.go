package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/worker"
)

// sseEvent is one event as a client reads it.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// sseStream is a client connected to /api/v1/events.
type sseStream struct {
	res    *http.Response
	cancel context.CancelFunc
	events chan sseEvent
	done   chan error
}

// connect opens the event stream, resuming after lastID when set, and
// returns once the server has started it.
func (f *fixture) connect(token, lastID string) *sseStream {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := call{method: "GET", path: "/api/v1/events", token: token}
	if lastID != "" {
		c.header = map[string]string{"Last-Event-ID": lastID}
	}
	req := f.request(c).WithContext(ctx)
	ok, errs := f.openapi.ValidateHttpRequestSync(f.request(c))
	require.True(f.t, ok, "%v", errs)
	res, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	require.Equal(f.t, http.StatusOK, res.StatusCode)
	// The answer's status and type against the document (its body is the
	// stream, read below).
	head := *res
	head.Body = io.NopCloser(bytes.NewReader(nil))
	f.checkAnswer(c, &head, nil)
	s := &sseStream{res: res, cancel: cancel, events: make(chan sseEvent, 4096), done: make(chan error, 1)}
	started := make(chan struct{})
	go s.read(started)
	select {
	case <-started:
	case err := <-s.done:
		f.t.Fatalf("event stream ended before it started: %v", err)
	}
	f.t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.res.Body.Close()
}

// read parses the stream: comments, then events of id, event and data.
func (s *sseStream) read(started chan struct{}) {
	sc := bufio.NewScanner(s.res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev sseEvent
	var data strings.Builder
	once := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ":"):
			if !once {
				once = true
				close(started)
			}
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data.WriteString(strings.TrimPrefix(line, "data: "))
		case line == "" && ev.id != "":
			if err := json.Unmarshal([]byte(data.String()), &ev.data); err != nil {
				s.done <- err
				return
			}
			s.events <- ev
			ev, data = sseEvent{}, strings.Builder{}
		}
	}
	s.done <- sc.Err()
}

// next returns the next n events, failing after a generous deadline.
func (s *sseStream) next(t testing.TB, n int) []sseEvent {
	t.Helper()
	out := make([]sseEvent, 0, n)
	deadline := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case ev := <-s.events:
			out = append(out, ev)
		case err := <-s.done:
			t.Fatalf("event stream ended after %d of %d events: %v", len(out), n, err)
		case <-deadline:
			t.Fatalf("%d of %d events before the deadline", len(out), n)
		}
	}
	return out
}

// sendMany sends n WhatsApp templates (through the API, in batches of 500)
// with ids prefix-0 … prefix-(n-1), each to its own phone.
func (f *fixture) sendMany(token, prefix string, n int) {
	f.t.Helper()
	for start := 0; start < n; start += 500 {
		items := make([]string, 0, 500)
		for i := start; i < min(start+500, n); i++ {
			items = append(items, fmt.Sprintf(`{"id": "%s-%d", "channel": "whatsapp", "to": {"phone": "+65%08d"}, "template": {"name": "hello", "language": "en"}}`, prefix, i, 80000000+i+len(prefix)*100000))
		}
		a := f.do(call{method: "POST", path: "/api/v1/messages/batch", token: token, body: `{"messages": [` + strings.Join(items, ",") + `]}`})
		require.Equal(f.t, http.StatusOK, a.status, "%s", a.body)
	}
}

// runWorker runs a real worker on the test database, sending to the
// sandbox, until the test ends.
func (f *fixture) runWorker() {
	f.t.Helper()
	client, err := whautomate.New(whautomate.Config{BaseURL: f.sandbox.URL(), APIKey: "sandbox-key"})
	require.NoError(f.t, err)
	none := map[tasks.Channel]ratelimit.Limit{}
	var accts []worker.Account
	for _, id := range []string{"a", "b"} {
		accts = append(accts, worker.Account{ID: id, API: client, Limits: none, RecipientLimits: none})
	}
	w, err := worker.New(worker.Config{Redis: f.rdb, Accounts: accts, Concurrency: 20,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(f.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	f.t.Cleanup(func() {
		cancel()
		require.NoError(f.t, <-done)
	})
}

// TestEvents: a client connected while 1,000 messages are sent receives
// every outcome change of its account, exactly as the event stream holds
// them, and nothing of another account; one that reconnects with
// Last-Event-ID gets the rest without loss or repeat.
func TestEvents(t *testing.T) {
	f := setup(t)
	f.sendMany(tokenA, "before", 3)
	f.runWorker()
	for _, id := range []string{"before-0", "before-1", "before-2"} {
		waitState(t, f, id, "sent") // changes before connecting: not in the stream
	}
	live := f.connect(tokenA, "")
	start := time.Now()
	const n = 1000
	f.sendMany(tokenA, "m-x", n/2)
	var got []sseEvent
	sent := map[string]bool{}
	take := func(ev sseEvent) {
		got = append(got, ev)
		require.Equal(t, "outcome", ev.event)
		require.Equal(t, "a", ev.data["account"])
		id := ev.data["id"].(string)
		require.True(t, strings.HasPrefix(id, "m-"), "only the changes after connecting, of the token's account: %s", id)
		if ev.data["state"] == "sent" {
			require.False(t, sent[id], "sent twice: %s", id)
			sent[id] = true
		}
	}
	take(live.next(t, 1)[0])
	f.sendMany(tokenB, "other", 50) // b's changes, amid a's
	f.sendMany(tokenA, "m-y", n/2)
	// Read until every message of a has been seen sent.
	for len(sent) < n {
		take(live.next(t, 1)[0])
	}
	t.Logf("%d outcome changes of %d messages streamed in %v", len(got), n, time.Since(start).Round(time.Millisecond))

	// No gap: the client saw every change of a's messages that a's event
	// stream holds after it connected, in order, each once. A cursor of a
	// token of one account is that account's position: "a=<stream id>".
	streamID := func(cursor string) string {
		id, ok := strings.CutPrefix(cursor, "a=")
		require.True(t, ok, "cursor %q", cursor)
		return id
	}
	all, err := f.rdb.XRange(context.Background(), keys.Account("a").Events(), "-", "+").Result()
	require.NoError(t, err)
	var want []string
	for _, m := range all {
		if id, _ := m.Values["id"].(string); strings.HasPrefix(id, "m-") && !streamLess(streamID(got[len(got)-1].id), m.ID) {
			want = append(want, m.ID)
		}
	}
	ids := make([]string, len(got))
	for i, ev := range got {
		ids[i] = streamID(ev.id)
	}
	require.Equal(t, want, ids)

	t.Run("resume with Last-Event-ID", func(t *testing.T) {
		resumed := f.connect(tokenA, got[399].id)
		rest := resumed.next(t, len(got)-400)
		for i, ev := range rest {
			require.Equal(t, got[400+i].id, ev.id, "resumed stream differs at %d", i)
			require.Equal(t, got[400+i].data["id"], ev.data["id"])
			require.Equal(t, got[400+i].data["state"], ev.data["state"])
		}
	})
	t.Run("every account", func(t *testing.T) {
		// SENDQ_API_TOKEN's cursor holds a position on each account's
		// stream: from a's first event above, and b's from its start.
		total := 0
		for _, m := range all {
			if streamLess(streamID(got[0].id), m.ID) {
				total++
			}
		}
		others, err := f.rdb.XLen(context.Background(), keys.Account("b").Events()).Result()
		require.NoError(t, err)
		require.Positive(t, others, "b's messages changed while a's did")
		rest := f.connect(tokenAll, got[0].id+",b=0-0").next(t, total+int(others))
		var b int
		for _, ev := range rest {
			if ev.data["account"] == "b" {
				b++
			}
		}
		require.Equal(t, int(others), b, "SENDQ_API_TOKEN's stream has b's changes too")
	})
}

// waitState polls a message's state until it is want.
func waitState(t testing.TB, f *fixture, id, want string) {
	t.Helper()
	var a answer
	defer func() {
		if t.Failed() {
			t.Logf("%s's last answer: %s", id, a.body)
		}
	}()
	poll.Eventually(t, func() bool {
		a = f.do(call{method: "GET", path: "/api/v1/messages/" + id, token: tokenAll})
		return a.status == http.StatusOK && a.json(t)["state"] == want
	}, 30*time.Second, 10*time.Millisecond, "%s never became %s", id, want)
}

// streamLess orders Redis stream ids.
func streamLess(a, b string) bool {
	var am, as, bm, bs uint64
	fmt.Sscanf(a, "%d-%d", &am, &as)
	fmt.Sscanf(b, "%d-%d", &bm, &bs)
	return am < bm || am == bm && as < bs
}

// TestEventsEndOnClose: Close (the server's shutdown) ends the streams, which
// never end by themselves.
func TestEventsEndOnClose(t *testing.T) {
	f := setup(t)
	s := f.connect(tokenA, "")
	f.api.Close()
	select {
	case err := <-s.done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the stream went on after Close")
	}
}
