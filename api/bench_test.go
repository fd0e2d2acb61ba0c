package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sendq/sendq/tasks"
)

// BenchmarkThroughput sets the HTTP API next to the in-process producer on
// the real Redis, in one run: messages enqueued per second by producer.Send
// (one caller, and 32 at once), by single POSTs from 32 keep-alive clients,
// and by batches of 500 (one client, and 4 at once). Every message is new
// (its own id), as in production.
//
//	SENDQ_TEST_REDIS_URL=redis://127.0.0.1:6379/14 go test -run '^$' -bench Throughput -benchtime 20000x ./api/
func BenchmarkThroughput(b *testing.B) {
	var seq atomic.Int64
	next := func() string { return fmt.Sprintf("bench-%d", seq.Add(1)) }
	msg := func(id string) tasks.Message {
		return tasks.Message{ID: id, Channel: tasks.Telegram, Kind: tasks.KindText, To: tasks.Recipient{ContactID: "c-" + id}, Text: "hello"}
	}
	body := func(id string) string {
		return `{"id": "` + id + `", "channel": "telegram", "to": {"contact_id": "c-` + id + `"}, "text": "hello"}`
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128}}
	post := func(b *testing.B, url, data string) {
		req, _ := http.NewRequest("POST", url, strings.NewReader(data))
		req.Header.Set("Authorization", "Bearer "+tokenA)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode >= 300 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	// parallel runs n calls of fn from workers goroutines.
	parallel := func(b *testing.B, workers, n int, fn func()) {
		var left atomic.Int64
		left.Store(int64(n))
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for left.Add(-1) >= 0 {
					fn()
				}
			})
		}
		wg.Wait()
	}
	report := func(b *testing.B, start time.Time, msgs int) {
		b.ReportMetric(float64(msgs)/time.Since(start).Seconds(), "msgs/s")
	}

	b.Run("producer/1", func(b *testing.B) {
		f := setup(b)
		p := f.backend.Producer()
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			if _, err := p.Send(context.Background(), msg(next())); err != nil {
				b.Fatal(err)
			}
		}
		report(b, start, b.N)
	})
	b.Run("producer/32", func(b *testing.B) {
		f := setup(b)
		p := f.backend.Producer()
		b.ResetTimer()
		start := time.Now()
		parallel(b, 32, b.N, func() {
			if _, err := p.Send(context.Background(), msg(next())); err != nil {
				b.Error(err)
			}
		})
		report(b, start, b.N)
	})
	b.Run("http-single/32", func(b *testing.B) {
		f := setup(b)
		url := f.srv.URL + "/api/v1/messages"
		b.ResetTimer()
		start := time.Now()
		parallel(b, 32, b.N, func() { post(b, url, body(next())) })
		report(b, start, b.N)
	})
	batch := func(clients int) func(b *testing.B) {
		return func(b *testing.B) {
			f := setup(b)
			url := f.srv.URL + "/api/v1/messages/batch"
			batches := max(1, b.N/500)
			b.ResetTimer()
			start := time.Now()
			parallel(b, clients, batches, func() {
				var buf bytes.Buffer
				buf.WriteString(`{"messages": [`)
				for i := range 500 {
					if i > 0 {
						buf.WriteByte(',')
					}
					buf.WriteString(body(next()))
				}
				buf.WriteString(`]}`)
				post(b, url, buf.String())
			})
			report(b, start, batches*500)
		}
	}
	b.Run("http-batch500/1", batch(1))
	b.Run("http-batch500/4", batch(4))
}
