package worker_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
	"github.com/sendq/sendq/worker"
)

func Example() {
	// An in-process Redis and Whautomate sandbox; in production, your Redis
	// and whautomate.New with your API key.
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()
	sandbox := whautomatetest.NewServer(whautomatetest.Options{})
	defer sandbox.Close()
	api, err := whautomate.New(whautomate.Config{BaseURL: sandbox.URL(), APIKey: whautomatetest.DefaultAPIKey})
	if err != nil {
		panic(err)
	}

	w, err := worker.New(worker.Config{
		Redis:  rdb,
		API:    api,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	// A producer enqueues a template, which may go at any time.
	p, err := producer.New(producer.Config{Redis: rdb})
	if err != nil {
		panic(err)
	}
	_, err = p.Send(ctx, tasks.Message{ID: "welcome-c1", Channel: tasks.Telegram, Kind: tasks.KindTemplate,
		To: tasks.Recipient{ContactID: "c1"}, Template: &tasks.Template{Text: "Welcome!"}})
	if err != nil {
		panic(err)
	}

	// The worker sends it and records the outcome.
	o := waitFinished(ctx, p, "welcome-c1")
	fmt.Println(o.ID, o.State, "attempts:", o.Attempts, "upstream id set:", o.UpstreamID != "")
	fmt.Println("the sandbox received:", len(sandbox.Sent()))

	stop() // Run drains the sends in flight, then returns
	fmt.Println("run:", <-done)
	// Output:
	// welcome-c1 sent attempts: 1 upstream id set: true
	// the sandbox received: 1
	// run: <nil>
}

// waitFinished polls the message's outcome until it is final.
func waitFinished(ctx context.Context, p *producer.Producer, id string) *producer.Outcome {
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		o, err := p.Status(ctx, id)
		if err == nil && o.State.Terminal() {
			return o
		}
		select {
		case <-deadline:
			panic(fmt.Sprintf("%s not finished after 30s: %+v %v", id, o, err))
		case <-tick.C:
		}
	}
}
