package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
	"github.com/sendq/sendq/worker"
)

func TestMetricsMatchTheRecordedOutcomes(t *testing.T) {
	ctx := context.Background()
	b := setup(t)
	b.sandbox.Script(whautomatetest.Match{Recipient: "c-bad"}, whautomatetest.Answer{Status: 400})
	var ids []string
	for i := range 30 {
		var m tasks.Message
		switch {
		case i == 3:
			m = template(fmt.Sprint("m", i), "c-bad")
		case i%5 == 0:
			m = textTo(fmt.Sprint("m", i), tasks.Recipient{ContactID: fmt.Sprint("closed-", i)}) // waits
		default:
			m = template(fmt.Sprint("m", i), fmt.Sprint("c-", i))
		}
		_, err := b.producer.Send(ctx, m)
		require.NoError(t, err)
		ids = append(ids, m.ID)
	}
	want := map[producer.State]int{}
	poll.Eventually(t, func() bool {
		want = map[producer.State]int{}
		for _, id := range ids {
			o, err := b.producer.Status(ctx, id)
			if err != nil {
				return false
			}
			want[o.State]++
		}
		return want[producer.StateSent] == 23 && want[producer.StateFailed] == 1 && want[producer.StateWaitingSession] == 6
	}, 15*time.Second, 20*time.Millisecond, "%v", want)

	reg := prometheus.NewRegistry()
	reg.MustRegister(worker.NewCollector(b.rdb, slog.New(slog.NewTextHandler(io.Discard, nil)), []string{"default"}))
	srv := httptest.NewServer(worker.NewHTTPHandler(worker.HTTPConfig{Redis: b.rdb, Gatherer: reg, AdminToken: "admin"}))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode, "the admin token guards /metrics")

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer admin")
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	text := string(body)
	for _, st := range []producer.State{producer.StateQueued, producer.StateWaitingSession, producer.StateSent, producer.StateFailed} {
		require.Contains(t, text, fmt.Sprintf("sendq_messages{account=\"default\",state=%q} %d\n", st, want[st]), "state %s", st)
	}
	require.Contains(t, text, `asynq_queue_size{queue="sendq:whatsapp"}`, "asynq's own metric names")
	require.NotContains(t, text, "c-bad", "no recipient in metrics")

	res, err = http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.False(t, strings.Contains(text, "test-key"), "no key in metrics")
}

func TestHealthzWithoutRedis(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer dead.Close()
	srv := httptest.NewServer(worker.NewHTTPHandler(worker.HTTPConfig{Redis: dead}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/healthz")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
}
