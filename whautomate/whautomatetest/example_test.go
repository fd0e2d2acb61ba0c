package whautomatetest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

func Example() {
	sb := whautomatetest.NewServer(whautomatetest.Options{})
	defer sb.Close()
	c, err := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: whautomatetest.DefaultAPIKey})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	to := tasks.Recipient{ContactID: "c1"}

	// Text needs the contact's 24-hour window; a template does not.
	_, err = c.SendWhatsAppText(ctx, to, "Your order has shipped.")
	fmt.Println("text, window closed:", whautomate.Classify(err))
	res, err := c.SendWhatsAppTemplate(ctx, to, tasks.Template{Name: "order_update", Language: "en"})
	fmt.Println("template, window closed:", whautomate.Classify(err), res.ID)

	// The contact writes: the window opens.
	sb.MarkInbound(tasks.WhatsApp, "c1", "", time.Time{})
	res, err = c.SendWhatsAppText(ctx, to, "Your order has shipped.")
	fmt.Println("text, window open:", whautomate.Classify(err), res.ID)

	// A scripted rate limit, then normal behaviour again.
	sb.Script(whautomatetest.Match{Recipient: "c1"}, whautomatetest.Answer{Status: 429, RetryAfter: "2"})
	_, err = c.SendWhatsAppText(ctx, to, "Thanks!")
	fmt.Println("scripted:", whautomate.Classify(err), "retry after", whautomate.RetryAfter(err))
	_, err = c.SendWhatsAppText(ctx, to, "Thanks!")
	fmt.Println("then:", whautomate.Classify(err))

	fmt.Println("requests for c1:", sb.CallsFor("c1"), "accepted:", len(sb.Sent()))
	// Output:
	// text, window closed: session_closed
	// template, window closed: sent whatsapp-1
	// text, window open: sent whatsapp-3
	// scripted: rate_limited retry after 2s
	// then: sent
	// requests for c1: 5 accepted: 3
}

// Two accounts, each behind its own key with its own minute budget, on a
// clock the example moves.
func Example_accounts() {
	var clock atomic.Int64
	clock.Store(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	sb := whautomatetest.NewServer(whautomatetest.Options{
		Now:    func() time.Time { return time.Unix(0, clock.Load()).UTC() },
		APIKey: "key-a", Budget: 2,
		Keys: map[string]whautomatetest.KeyOptions{"key-b": {Budget: 300}},
	})
	defer sb.Close()
	a, errA := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: "key-a"})
	b, errB := whautomate.New(whautomate.Config{BaseURL: sb.URL(), APIKey: "key-b"})
	if errA != nil || errB != nil {
		panic("no client")
	}
	ctx := context.Background()
	send := func(c *whautomate.Client) whautomate.Class {
		_, err := c.SendTelegramText(ctx, tasks.Recipient{ContactID: "c1"}, "hi")
		return whautomate.Classify(err)
	}

	// Every request takes from its account's budget, look-ups too.
	_, err := a.Messages(ctx, "c1", 1, 10)
	fmt.Println("A looks up, error:", err)
	fmt.Println("A sends:", send(a))
	fmt.Println("A sends again:", send(a))
	fmt.Println("B sends:", send(b))

	// The minute slides past A's requests.
	clock.Add(int64(time.Minute))
	fmt.Println("A, a minute later:", send(a))

	// A revoked key answers 403 until it is accepted again.
	sb.RevokeKey("key-b")
	fmt.Println("B, revoked:", send(b))
	sb.AcceptKey("key-b")
	fmt.Println("B, accepted again:", send(b))
	fmt.Println("429s of A:", sb.Count429("key-a"), "of B:", sb.Count429("key-b"))
	// Output:
	// A looks up, error: <nil>
	// A sends: sent
	// A sends again: rate_limited
	// B sends: sent
	// A, a minute later: sent
	// B, revoked: configuration
	// B, accepted again: sent
	// 429s of A: 1 of B: 0
}
