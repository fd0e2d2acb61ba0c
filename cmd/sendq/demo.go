package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
	"github.com/sendq/sendq/worker"
)

// demoMessage is one message of the demo and the state it must end in.
type demoMessage struct {
	msg    tasks.Message
	expect producer.State
	story  string
}

// demo runs the whole system on one machine: an embedded Redis (unless
// REDIS_URL is set), the Whautomate sandbox, a worker with its HTTP server
// and web UI, and a batch that shows every path a message can take.
func (a *app) demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	once := fs.Bool("once", false, "exit after the summary")
	if _, err := a.parse(fs, args); err != nil {
		return err
	}
	a.log = newLogger(a.env.LogFormat, io.Discard) // the demo shows its own progress
	if lvl := os.Getenv("SENDQ_DEMO_LOG"); lvl != "" {
		a.log = newLogger(a.env.LogFormat, a.stderr)
	}
	closeRedis, err := a.demoRedis()
	if err != nil {
		return err
	}
	defer closeRedis()
	rdb, err := a.redis(ctx, 256)
	if err != nil {
		return err
	}
	defer rdb.Close()
	d, err := a.demoSandbox()
	if err != nil {
		return err
	}
	if a.env.APIToken == "" {
		a.env.APIToken = "demo-" + producer.NewID() // the HTTP API needs a token
	}
	defer d.sandbox.Close()
	stopWorker, err := a.startDemoWorker(ctx, rdb, d)
	if err != nil {
		return err
	}
	// However the demo ends, the worker drains before Redis goes away.
	defer stopWorker()
	fmt.Fprintf(a.stdout, "worker      running; web UI %s/monitoring/  metrics %s/metrics\n", d.base, d.base)
	fmt.Fprintf(a.stdout, "http api    %s/api/v1/ (OpenAPI: %s/api/v1/openapi.json); try:\n%s\n\n", d.base, d.base, demoCurl(d.base, a.env.APIToken, d.set.IDs()[0]))

	ok, err := a.demoBatch(ctx, rdb, d)
	if err != nil {
		return err
	}
	if err := a.demoAPICheck(ctx, d.base, d.set.IDs()[0]); err != nil {
		return err
	}
	if *once {
		if !ok {
			return errors.New("demo: some messages did not end as planned")
		}
		return nil
	}
	fmt.Fprintf(a.stdout, "\nstill serving: web UI %s/monitoring/ — Ctrl-C to stop\n", d.base)
	<-ctx.Done()
	return nil
}

// demoRedis starts an embedded Redis unless REDIS_URL is set, and says
// which Redis the demo uses; stop shuts the embedded one down.
func (a *app) demoRedis() (stop func(), err error) {
	if a.env.RedisURLSet {
		fmt.Fprintf(a.stdout, "redis       %s\n", redactURL(a.env.RedisURL))
		return func() {}, nil
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		return nil, fmt.Errorf("embedded redis: %v", err)
	}
	a.env.RedisURL = "redis://" + mr.Addr() + "/0"
	fmt.Fprintf(a.stdout, "redis       embedded (miniredis) at %s — set REDIS_URL to use a real one\n", mr.Addr())
	return mr.Close, nil
}

// demoSetup is the demo's sandbox, its client, and the listener of the
// worker's HTTP server, where the sandbox posts its webhooks.
type demoSetup struct {
	ln      net.Listener
	base    string // the HTTP server's URL
	sandbox *whautomatetest.Server
	set     *accounts.Set
	apis    map[string]worker.API // each account's client of the sandbox
}

// demoSandbox listens on SENDQ_HTTP_ADDR (any free port when that one is
// taken) and starts the sandbox, whose webhooks go there.
func (a *app) demoSandbox() (*demoSetup, error) {
	ln, err := net.Listen("tcp", a.env.HTTPAddr)
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
	}
	base := "http://" + ln.Addr().String()
	set := demoAccounts(a.env)
	first := set.All()[0]
	// The sandbox's webhooks (contacts writing) are the first account's.
	sandbox := whautomatetest.NewServer(whautomatetest.Options{
		Latency:    20 * time.Millisecond,
		WebhookURL: base + "/webhooks/whautomate/" + first.ID, WebhookToken: first.WebhookToken,
	})
	apis := map[string]worker.API{}
	for _, acc := range set.All() {
		// The sandbox enforces each account's budget, as Whautomate does.
		sandbox.AddKey(acc.APIKey, whautomatetest.KeyOptions{Budget: int(acc.Budget.Rate)})
		api, err := whautomate.New(whautomate.Config{BaseURL: sandbox.URL(), APIKey: acc.APIKey})
		if err != nil {
			sandbox.Close()
			ln.Close()
			return nil, err
		}
		apis[acc.ID] = api
	}
	fmt.Fprintf(a.stdout, "whautomate  sandbox at %s, accounts %s\n", sandbox.URL(), strings.Join(set.IDs(), " and "))
	return &demoSetup{ln: ln, base: base, sandbox: sandbox, set: set, apis: apis}, nil
}

// startDemoWorker runs the worker and its HTTP server on d until stop, and
// returns once both are up.
func (a *app) startDemoWorker(ctx context.Context, rdb redis.UniversalClient, d *demoSetup) (stop func(), err error) {
	done := make(chan error, 1)
	ready := make(chan struct{})
	wctx, stopWorker := context.WithCancel(ctx)
	go func() {
		done <- a.runWorker(wctx, workerSetup{rdb: rdb, set: d.set, apis: d.apis, listener: d.ln}, func(*worker.Worker, string) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		stopWorker()
		return nil, err
	}
	return func() { stopWorker(); <-done }, nil
}

// demoBatch enqueues the demo's batch, shows it moving, prints the summary
// and reports whether every message ended as planned.
func (a *app) demoBatch(ctx context.Context, rdb redis.UniversalClient, d *demoSetup) (bool, error) {
	sandbox := d.sandbox
	ids := d.set.IDs()
	plan := demoPlan(sandbox, ids[0], ids[1])
	p, err := producer.New(producer.Config{Redis: rdb, Accounts: d.set})
	if err != nil {
		return false, err
	}
	for i := range plan {
		if _, err := p.Send(ctx, plan[i].msg); err != nil {
			return false, fmt.Errorf("demo: enqueue %s: %w", plan[i].msg.ID, err)
		}
	}
	fmt.Fprintf(a.stdout, "enqueued %d messages for two accounts: all four channels, all three kinds, a campaign, and the hard cases\n", len(plan))

	// The contact of the waiting message writes two seconds later: the
	// sandbox sends Whautomate's webhook to the worker, which releases it.
	release := time.AfterFunc(2*time.Second, func() {
		sandbox.MarkInbound(tasks.WhatsApp, "", demoLatePhone, time.Now())
	})
	defer release.Stop()

	final, err := a.demoProgress(ctx, p, plan, 30*time.Second)
	if err != nil {
		return false, err
	}
	return a.demoSummary(plan, final), nil
}

const demoLatePhone = "6598765432"

// redactURL hides a password in a Redis URL.
func redactURL(raw string) string {
	if i := strings.Index(raw, "@"); i > 0 {
		if j := strings.Index(raw, "://"); j > 0 && j < i {
			return raw[:j+3] + "***" + raw[i:]
		}
	}
	return raw
}

// demoAccounts are the accounts the demo sends for: a clinic on
// Whautomate's default budget and one on a trial account's, with Meta's
// channel figures, and the environment's webhook token if any.
func demoAccounts(e *env) *accounts.Set {
	token := ""
	if e.Accounts != nil {
		if only, ok := e.Accounts.Only(); ok {
			token = only.WebhookToken
		}
	}
	trial := ratelimit.Limit{Rate: 60, Per: time.Minute}
	set, err := accounts.NewSet(
		accounts.Account{ID: "clinic-sg", APIKey: "demo-key-sg", Budget: accounts.DefaultBudget,
			Rates: accounts.DefaultRates(), Paces: accounts.DefaultPaces(), WebhookToken: token},
		accounts.Account{ID: "clinic-in", APIKey: "demo-key-in", Budget: trial,
			Rates: accounts.DefaultRates(), Paces: accounts.DefaultPaces(), WebhookToken: token},
	)
	if err != nil {
		panic(err) // two fixed, valid accounts
	}
	return set
}

// demoCurlBody is the message the demo's curl command sends from account.
func demoCurlBody(account string) string {
	return `{"account": "` + account + `", "channel": "telegram", "to": {"contact_id": "demo-api"}, "text": "Hello from curl"}`
}

// demoCurl is a working curl command that sends a message from account
// through the demo's HTTP API.
func demoCurl(base, token, account string) string {
	return fmt.Sprintf("  curl -s -X POST %s/api/v1/messages -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n"+
		"    -d '%s'", base, token, demoCurlBody(account))
}

// demoAPICheck does what the printed curl command does and follows the
// message until it is sent, so that the demo proves the command works.
func (a *app) demoAPICheck(ctx context.Context, base, account string) error {
	do := func(method, path, body string) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+a.env.APIToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode/100 != 2 {
			return nil, fmt.Errorf("demo: %s %s: %s %v", method, path, res.Status, v)
		}
		return v, nil
	}
	r, err := do(http.MethodPost, "/api/v1/messages", demoCurlBody(account))
	if err != nil {
		return err
	}
	id, _ := r["id"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := do(http.MethodGet, "/api/v1/messages/"+url.PathEscape(id), "")
		if err != nil {
			return err
		}
		if o["state"] == "sent" {
			fmt.Fprintf(a.stdout, "http api    the curl command above: accepted, and sent (message %s of %s)\n", id, account)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: the HTTP API's message %s is still %v", id, o["state"])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
