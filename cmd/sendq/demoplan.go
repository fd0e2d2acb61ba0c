package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// demoPlan is the demo's batch, for two accounts: the campaign is the
// second's, everything else the first's (whose webhooks the sandbox
// sends). Contacts whose text and media must go are given an open window
// first, as if they had written.
func demoPlan(sb *whautomatetest.Server, first, second string) []demoMessage {
	var plan []demoMessage
	add := func(expect producer.State, story string, m tasks.Message) {
		m.ID = fmt.Sprintf("demo-%02d", len(plan)+1)
		m.Account = first
		if m.Campaign != "" {
			m.Account = second
		}
		plan = append(plan, demoMessage{msg: m, expect: expect, story: story})
	}
	media := &tasks.Media{URL: "https://example.com/menu.jpg", MimeType: "image/jpeg", Caption: "Our menu"}
	for i, ch := range tasks.Channels {
		contact := fmt.Sprintf("%s-contact-%d", ch, i)
		sb.MarkInbound(ch, contact, "", time.Now())
		to := tasks.Recipient{ContactID: contact}
		add(producer.StateSent, "text in an open window", tasks.Message{Channel: ch, Kind: tasks.KindText, To: to, Text: "Your order has shipped."})
		md := *media
		if ch == tasks.Instagram || ch == tasks.Messenger {
			md.Caption = "" // no captions on these channels
		}
		add(producer.StateSent, "media in an open window", tasks.Message{Channel: ch, Kind: tasks.KindMedia, To: to, Media: &md})
		add(producer.StateSent, "template, any time", tasks.Message{Channel: ch, Kind: tasks.KindTemplate, To: to, Template: demoTemplate(ch)})
	}
	for i := range 6 {
		add(producer.StateSent, "campaign template", tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindTemplate, Campaign: "demo-campaign",
			To: tasks.Recipient{Phone: fmt.Sprintf("+65 9100 %04d", i), Name: "Guest"}, Template: demoTemplate(tasks.WhatsApp)})
	}
	add(producer.StateSent, "waits for the window, released by the webhook", tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindText,
		To: tasks.Recipient{Phone: "+" + demoLatePhone}, Text: "Thanks for writing back!"})

	sb.Script(whautomatetest.Match{Recipient: "demo-flaky"}, whautomatetest.Answer{Status: 503}, whautomatetest.Answer{Status: 503})
	add(producer.StateSent, "503, 503, then sent", tasks.Message{Channel: tasks.Telegram, Kind: tasks.KindTemplate,
		To: tasks.Recipient{ContactID: "demo-flaky"}, Template: demoTemplate(tasks.Telegram)})
	sb.Script(whautomatetest.Match{Recipient: "demo-bad"}, whautomatetest.Answer{Status: 400,
		Body: `{"error":{"message":"(#131026) Message undeliverable","code":131026}}`})
	add(producer.StateFailed, "permanent error: failed after one call", tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
		To: tasks.Recipient{ContactID: "demo-bad"}, Template: demoTemplate(tasks.WhatsApp)})
	add(producer.StateExpired, "waits for a window that never opens; expires", tasks.Message{Channel: tasks.Messenger, Kind: tasks.KindText,
		To: tasks.Recipient{Phone: "+4420 7946 0958"}, Text: "Still interested?", ExpiresAt: time.Now().Add(4 * time.Second)})
	return plan
}

func demoTemplate(ch tasks.Channel) *tasks.Template {
	switch ch {
	case tasks.WhatsApp:
		return &tasks.Template{Name: "order_update", Language: "en", Params: []string{"Ada", "#1042"}}
	case tasks.Telegram:
		return &tasks.Template{Text: "Your table is ready.", Buttons: []tasks.Button{{Text: "Directions", URL: "https://example.com/map"}}}
	}
	return &tasks.Template{Elements: []tasks.Element{{Title: "Weekend offer", Subtitle: "20% off"}}}
}

// demoProgress shows the batch moving until every message has reached a
// final state (or timeout), and returns the outcomes.
func (a *app) demoProgress(ctx context.Context, p *producer.Producer, plan []demoMessage, timeout time.Duration) (map[string]*producer.Outcome, error) {
	tty := isTerminal(a.stdout)
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := ""
	for {
		out := map[string]*producer.Outcome{}
		counts := map[producer.State]int{}
		finished := 0
		for _, d := range plan {
			o, err := p.StatusOf(ctx, d.msg.Account, d.msg.ID)
			if err != nil {
				continue
			}
			out[d.msg.ID] = o
			counts[o.State]++
			if o.State.Terminal() {
				finished++
			}
		}
		line := progressLine(finished, len(plan), counts)
		if tty {
			fmt.Fprintf(a.stdout, "\r%s", line)
		} else if line != last {
			fmt.Fprintln(a.stdout, line)
		}
		last = line
		if finished == len(plan) || time.Now().After(deadline) {
			if tty {
				fmt.Fprintln(a.stdout)
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-tick.C:
		}
	}
}

func progressLine(done, total int, counts map[producer.State]int) string {
	var parts []string
	for _, st := range producer.States {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, counts[st]))
		}
	}
	return bar(done, total) + "  " + strings.Join(parts, ", ")
}

// demoSummary prints the final table and reports whether every message ended
// as planned.
func (a *app) demoSummary(plan []demoMessage, final map[string]*producer.Outcome) bool {
	fmt.Fprintln(a.stdout)
	tw := tabwriter.NewWriter(a.stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tCHANNEL\tKIND\tSTATE\tEXPECTED\tCALLS\tSTORY\t")
	ok := true
	byState := map[producer.State]int{}
	for _, d := range plan {
		st, calls := producer.State("missing"), 0
		if o := final[d.msg.ID]; o != nil {
			st, calls = o.State, o.Attempts
		}
		mark := "ok"
		if st != d.expect {
			mark, ok = "MISMATCH", false
		}
		byState[st]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", d.msg.ID, d.msg.Account, d.msg.Channel, d.msg.Kind, st, d.expect, calls, d.story, mark)
	}
	_ = tw.Flush()
	var states []string
	for st, n := range byState {
		states = append(states, fmt.Sprintf("%s=%d", st, n))
	}
	sort.Strings(states)
	verdict := "every message ended as planned"
	if !ok {
		verdict = "SOME MESSAGES DID NOT END AS PLANNED"
	}
	fmt.Fprintf(a.stdout, "\nsummary: %d messages: %s — %s\n", len(plan), strings.Join(states, " "), verdict)
	return ok
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
