package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/whautomate/whautomatetest"
	"github.com/sendq/sendq/worker"
)

// receiver is a callback endpoint that is down until told otherwise and
// records what it accepts.
type receiver struct {
	mu       sync.Mutex
	up       atomic.Bool
	refused  atomic.Int64
	events   map[string][]worker.CallbackEvent // by message id
	eventIDs map[string]int                    // deliveries per event id
	badSigs  int
}

func (rc *receiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if !rc.up.Load() {
		rc.refused.Add(1)
		http.Error(rw, "down", http.StatusServiceUnavailable)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var ev worker.CallbackEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Header.Get("X-Sendq-Signature") != worker.Sign("s3cret", r.Header.Get("X-Sendq-Timestamp"), body) ||
		r.Header.Get("X-Sendq-Event-Id") != ev.EventID {
		rc.badSigs++
	}
	rc.events[ev.Message.ID] = append(rc.events[ev.Message.ID], ev)
	rc.eventIDs[ev.EventID]++
	if ev.Message.ID == "m03" && len(rc.events["m03"]) == 1 {
		// Taken in, but the answer is lost: the event must come again.
		http.Error(rw, "lost", http.StatusBadGateway)
	}
}

func TestCallbackDeliversEveryTerminalOutcomeAfterAnOutage(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	rc := &receiver{events: map[string][]worker.CallbackEvent{}, eventIDs: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	cb, err := worker.NewCallback(worker.CallbackConfig{Redis: b.rdb, URL: srv.URL, Secret: "s3cret",
		MaxBackoff: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cb.Run(cctx) }()
	defer func() {
		stop()
		require.NoError(t, <-done)
	}()

	b.sandbox.Script(whautomatetest.Match{Recipient: "c-bad"}, whautomatetest.Answer{Status: 400})
	var ids []string
	for i := range 50 {
		contact := fmt.Sprintf("c-%d", i)
		if i == 7 {
			contact = "c-bad"
		}
		id := fmt.Sprintf("m%02d", i)
		_, err := b.producer.Send(ctx, template(id, contact))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	poll.Eventually(t, func() bool { return rc.refused.Load() > 3 }, 10*time.Second, 10*time.Millisecond,
		"the callback tries while the receiver is down")
	// The outage lasts SENDQ_TEST_CALLBACK_OUTAGE (a Go duration) when set:
	// 60s to reproduce the figure in the README.
	if d, err := time.ParseDuration(os.Getenv("SENDQ_TEST_CALLBACK_OUTAGE")); err == nil {
		<-time.After(d)
		t.Logf("receiver down for %v: %d deliveries refused", d, rc.refused.Load())
	}
	rc.up.Store(true)
	poll.Eventually(t, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.events) == len(ids)
	}, 20*time.Second, 20*time.Millisecond)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.Zero(t, rc.badSigs, "every delivery is signed")
	for _, id := range ids {
		ev := rc.events[id][0]
		want := producer.StateSent
		if id == "m07" {
			want = producer.StateFailed
		}
		require.Equal(t, want, ev.State, id)
		require.Equal(t, want, ev.Message.State, id)
	}
	require.Len(t, rc.events["m03"], 2, "an unacknowledged event comes again")
	require.Equal(t, rc.events["m03"][0].EventID, rc.events["m03"][1].EventID, "with the same event id")
}
