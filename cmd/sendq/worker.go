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
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/api"
	"github.com/sendq/sendq/compliance"
	"github.com/sendq/sendq/internal/redisurl"
	"github.com/sendq/sendq/worker"
)

// workerSetup is what `sendq worker` and `sendq demo` run: a worker, its HTTP
// server and what they share.
type workerSetup struct {
	rdb      redis.UniversalClient
	set      *accounts.Set         // the accounts the worker sends for
	apis     map[string]worker.API // each account's client, by id
	httpAddr string
	// listener, when set, is used instead of listening on httpAddr.
	listener net.Listener
}

func (a *app) worker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	if pos, err := a.parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("worker takes no arguments")
	}
	set, err := a.accountSet("worker")
	if err != nil {
		return err
	}
	apis := map[string]worker.API{}
	for _, acc := range set.All() {
		if apis[acc.ID], err = apiClient(acc); err != nil {
			return err
		}
	}
	rdb, err := a.redis(ctx, 4*a.env.Concurrency+32)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := a.checkRedis(ctx, rdb); err != nil {
		return err
	}
	return a.runWorker(ctx, workerSetup{rdb: rdb, set: set, apis: apis, httpAddr: a.env.HTTPAddr}, nil)
}

// checkRedis refuses a Redis too old for asynq, and warns about settings
// that put messages at risk.
func (a *app) checkRedis(ctx context.Context, rdb redis.UniversalClient) error {
	info, err := rdb.Info(ctx, "server").Result()
	if err == nil {
		if v := strings.TrimSpace(infoField(info, "redis_version")); v != "" && versionLess(v, "6.2") {
			return fmt.Errorf("redis %s is older than 6.2, which asynq needs", v)
		}
	}
	cfg, err := rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err == nil {
		if p := cfg["maxmemory-policy"]; p != "" && p != "noeviction" {
			a.log.Warn("Redis maxmemory-policy is not noeviction: under memory pressure Redis may DROP queued messages; set maxmemory-policy noeviction",
				"maxmemory_policy", p)
		}
	}
	return nil
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

func versionLess(v, than string) bool {
	a, b := strings.Split(v, "."), strings.Split(than, ".")
	for i := 0; i < len(b); i++ {
		x, y := 0, 0
		if i < len(a) {
			x, _ = strconv.Atoi(a[i])
		}
		y, _ = strconv.Atoi(b[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// runWorker runs a worker and its HTTP server until ctx is done. ready, when
// set, is called once both are up.
func (a *app) runWorker(ctx context.Context, s workerSetup, ready func(*worker.Worker, string)) error {
	reg, w, err := a.newWorker(s)
	if err != nil {
		return err
	}
	hs, err := a.serveHTTP(s, w, reg)
	if err != nil {
		return err
	}
	defer hs.closeMonitoring()

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopCallback, err := a.startCallback(wctx, cancel, s.rdb)
	if err != nil {
		return err
	}
	defer stopCallback()
	runDone := make(chan error, 1)
	go func() { runDone <- w.Run(wctx) }()
	if ready != nil {
		ready(w, hs.addr)
	}
	var runErr error
	select {
	case runErr = <-runDone:
	case err := <-hs.done:
		cancel()
		runErr = errors.Join(fmt.Errorf("http server: %w", err), <-runDone)
	}
	hs.shutdown()
	return runErr
}

// newWorker is the worker of the environment's settings, with its metrics
// registered in reg.
func (a *app) newWorker(s workerSetup) (*prometheus.Registry, *worker.Worker, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := worker.NewMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
	reg.MustRegister(worker.NewCollector(s.rdb, a.log, s.set.IDs()))
	var accts []worker.Account
	for _, acc := range s.set.All() {
		accts = append(accts, worker.Account{ID: acc.ID, API: s.apis[acc.ID], Budget: acc.Budget,
			Limits: acc.Rates, RecipientLimits: acc.Paces,
			QuietHours: compliance.QuietHours{Start: acc.QuietHours.Start, End: acc.QuietHours.End},
			Timezone:   acc.Timezone, MessagingLimit: int(acc.MessagingLimit)})
	}
	w, err := worker.New(worker.Config{
		Redis:           s.rdb,
		Accounts:        accts,
		Concurrency:     a.env.Concurrency,
		MaxAttempts:     a.env.MaxAttempts,
		WaitReplicas:    a.env.WaitReplicas,
		ShutdownTimeout: a.env.ShutdownAfter,
		PollInterval:    a.env.PollInterval,
		Keywords:        &a.env.Keywords,
		Logger:          a.log,
		Metrics:         metrics,
	})
	return reg, w, err
}

// workerHTTP is the worker's HTTP server while it serves: none when
// SENDQ_HTTP_ADDR is empty.
type workerHTTP struct {
	srv  *http.Server
	mon  io.Closer
	addr string
	// done receives the server's error if it stops serving.
	done chan error
}

// serveHTTP starts the worker's HTTP server on s's listener or address.
func (a *app) serveHTTP(s workerSetup, w *worker.Worker, reg *prometheus.Registry) (*workerHTTP, error) {
	hs := &workerHTTP{done: make(chan error, 1)}
	if s.listener == nil && s.httpAddr == "" {
		return hs, nil
	}
	ln := s.listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.httpAddr); err != nil {
			return nil, fmt.Errorf("SENDQ_HTTP_ADDR %s: %v", s.httpAddr, err)
		}
	}
	apiSrv, err := newAPI(s.rdb, s.set, a.env.APIToken, a.log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	hs.addr = ln.Addr().String()
	mon := worker.NewMonitoring(urlConn{a.env.RedisURL}, a.env.ReadOnlyUI)
	hs.mon = mon
	hs.srv = newHTTPServer(worker.NewHTTPHandler(worker.HTTPConfig{
		Redis: s.rdb, Worker: w, WebhookTokens: webhookTokens(s.set), AdminToken: a.env.AdminToken,
		Gatherer: reg, Monitoring: mon, API: apiSrv,
	}))
	hs.srv.RegisterOnShutdown(apiSrv.Close)
	go func() { hs.done <- hs.srv.Serve(ln) }()
	a.log.Info("http server listening", "addr", hs.addr)
	return hs, nil
}

// webhookTokens are the accounts' webhook tokens, by id.
func webhookTokens(set *accounts.Set) map[string]string {
	tokens := map[string]string{}
	for _, acc := range set.All() {
		tokens[acc.ID] = acc.WebhookToken
	}
	return tokens
}

// newHTTPServer is the HTTP server of worker and dashboard, with timeouts
// that let go of slow and idle clients (the API's event stream extends its
// own write deadline).
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: api.ReadHeaderTimeout, ReadTimeout: api.ReadTimeout,
		WriteTimeout: api.WriteTimeout, IdleTimeout: api.IdleTimeout}
}

// shutdown stops the server, giving requests under way 5 s.
func (hs *workerHTTP) shutdown() {
	if hs.srv == nil {
		return
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = hs.srv.Shutdown(sctx)
	scancel()
}

// closeMonitoring closes the web UI's own Redis connection.
func (hs *workerHTTP) closeMonitoring() {
	if hs.mon != nil {
		hs.mon.Close()
	}
}

// startCallback delivers outcomes to SENDQ_CALLBACK_URL, when set, until
// ctx is done; stop cancels ctx and waits for the delivery to end.
func (a *app) startCallback(ctx context.Context, cancel context.CancelFunc, rdb redis.UniversalClient) (stop func(), err error) {
	if a.env.CallbackURL == "" {
		return func() {}, nil
	}
	cb, err := worker.NewCallback(worker.CallbackConfig{Redis: rdb, URL: a.env.CallbackURL,
		Secret: a.env.CallbackKey, Logger: a.log})
	if err != nil {
		return nil, usagef("%v", err)
	}
	cbDone := make(chan error, 1)
	go func() { cbDone <- cb.Run(ctx) }()
	return func() { cancel(); <-cbDone }, nil
}

// urlConn makes asynq (and so asynqmon) open its own client on REDIS_URL.
type urlConn struct{ url string }

// MakeRedisClient implements asynq.RedisConnOpt.
func (u urlConn) MakeRedisClient() any {
	c, err := redisurl.Open(u.url, 0)
	if err != nil {
		panic(err) // the URL was checked before: cannot happen
	}
	return c
}

var _ asynq.RedisConnOpt = urlConn{}

func (a *app) messages(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("messages", flag.ContinueOnError)
	page := fs.Int("page", 1, "page, from 1")
	limit := fs.Int("limit", 20, "page size")
	asJSON := fs.Bool("json", false, "print JSON")
	account := fs.String("account", "", "the account whose contact it is (required when several are configured)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usagef("usage: %s", helps[fs.Name()].synopsis)
	}
	if *page < 1 || *limit < 1 {
		return usagef("--page and --limit: want whole numbers of at least 1")
	}
	acc, err := a.account("messages", *account)
	if err != nil {
		return err
	}
	api, err := apiClient(acc)
	if err != nil {
		return err
	}
	res, err := api.Messages(ctx, pos[0], *page, *limit)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(a.stdout).Encode(res.Messages)
	}
	for _, m := range res.Messages {
		dir := "out"
		if m.Incoming {
			dir = "in"
		}
		fmt.Fprintf(a.stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Timestamp.Format(time.RFC3339), dir, m.Channel, m.Type, m.Status, m.Text)
	}
	return nil
}

func (a *app) dashboard(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	if _, err := a.parse(fs, args); err != nil {
		return err
	}
	if a.env.HTTPAddr == "" {
		return usagef("SENDQ_HTTP_ADDR: the dashboard needs an address")
	}
	rdb, err := a.redis(ctx, 0)
	if err != nil {
		return err
	}
	defer rdb.Close()
	reg := prometheus.NewRegistry()
	var ids []string
	if a.env.Accounts != nil {
		ids = a.env.Accounts.IDs()
	}
	reg.MustRegister(worker.NewCollector(rdb, a.log, ids))
	mon := worker.NewMonitoring(urlConn{a.env.RedisURL}, a.env.ReadOnlyUI)
	defer mon.Close()
	apiSrv, err := newAPI(rdb, a.env.Accounts, a.env.APIToken, a.log)
	if err != nil {
		return err
	}
	srv := newHTTPServer(worker.NewHTTPHandler(worker.HTTPConfig{Redis: rdb, AdminToken: a.env.AdminToken,
		Gatherer: reg, Monitoring: mon, API: apiSrv}))
	srv.RegisterOnShutdown(apiSrv.Close)
	ln, err := net.Listen("tcp", a.env.HTTPAddr)
	if err != nil {
		return fmt.Errorf("SENDQ_HTTP_ADDR %s: %v", a.env.HTTPAddr, err)
	}
	a.log.Info("dashboard listening", "addr", ln.Addr().String(), "ui", "/monitoring/", "metrics", "/metrics")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-done:
		return err
	}
}
