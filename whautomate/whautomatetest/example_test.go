package whautomatetest_test

import (
	"context"
	"fmt"
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
