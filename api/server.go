package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sendq/sendq/accounts"
)

// Limits on what one request may carry.
const (
	// MaxBatch is the most messages one batch may carry.
	MaxBatch = 1000
	// DefaultMaxMessageBytes caps the body of one message.
	DefaultMaxMessageBytes = 64 << 10
	// DefaultMaxBatchBytes caps the body of a batch.
	DefaultMaxBatchBytes = 16 << 20
	// DefaultMaxCampaignBytes caps a campaign upload.
	DefaultMaxCampaignBytes = 256 << 20
)

// Timeouts for the HTTP server that serves the API, so that a slow or idle
// client cannot hold a connection for ever. The event stream extends its own
// write deadline as it writes.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 5 * time.Minute // a campaign upload of DefaultMaxCampaignBytes at ~1 MB/s
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
)

// Config configures the API. Zero values mean the documented defaults.
type Config struct {
	// Backend is sendq (required).
	Backend Backend
	// Accounts are the configured accounts (required); an account's
	// APIToken reaches that account only.
	Accounts *accounts.Set
	// Token reaches every account (SENDQ_API_TOKEN). With neither it nor any
	// account's APIToken, every request is answered 401.
	Token string
	// MaxMessageBytes, MaxBatchBytes and MaxCampaignBytes cap the bodies.
	// Default to DefaultMaxMessageBytes, DefaultMaxBatchBytes and
	// DefaultMaxCampaignBytes.
	MaxMessageBytes, MaxBatchBytes, MaxCampaignBytes int64
	// BatchWorkers is how many messages of a batch are enqueued at once.
	// Defaults to 32.
	BatchWorkers int
	// Heartbeat is how often an idle event stream sends a comment. Defaults
	// to 15 s.
	Heartbeat time.Duration
	// Logger defaults to slog.Default(). Tokens and message bodies are never
	// logged.
	Logger *slog.Logger
}

// Server is the HTTP API.
type Server struct {
	cfg      Config
	backend  Backend
	accounts *accounts.Set
	tokens   tokens
	log      *slog.Logger
	mux      *http.ServeMux

	closing   chan struct{} // closed by Close
	closeOnce sync.Once
}

// Prefix is where the API is mounted: every path of the API starts with it.
const Prefix = "/api/v1/"

// New returns the API.
func New(cfg Config) (*Server, error) {
	if cfg.Backend == nil || cfg.Accounts == nil {
		return nil, errors.New("api: Config.Backend and Config.Accounts are required")
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if cfg.MaxCampaignBytes <= 0 {
		cfg.MaxCampaignBytes = DefaultMaxCampaignBytes
	}
	if cfg.BatchWorkers <= 0 {
		cfg.BatchWorkers = 32
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, backend: cfg.Backend, accounts: cfg.Accounts,
		tokens: newTokens(cfg.Token, cfg.Accounts), log: cfg.Logger, mux: http.NewServeMux(),
		closing: make(chan struct{})}
	s.routes()
	return s, nil
}

// Close ends the event streams (within a few seconds; their clients
// reconnect with Last-Event-ID), for an http.Server's RegisterOnShutdown:
// Shutdown waits for handlers, and a stream never ends by itself.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// ServeHTTP serves the API's paths (mount it at Prefix).
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(rw, r) }

func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
	auth := func(h handlerFunc) http.Handler { return s.authenticate(s.handle(h)) }
	s.mux.Handle("POST /api/v1/messages", auth(s.postMessage))
	s.mux.Handle("POST /api/v1/messages/batch", auth(s.postBatch))
	s.mux.Handle("GET /api/v1/messages/{id}", auth(s.getMessage))
	s.mux.Handle("GET /api/v1/contacts/{contactId}/messages", auth(s.contactMessages))
	s.mux.Handle("POST /api/v1/campaigns", auth(s.postCampaign))
	s.mux.Handle("GET /api/v1/campaigns/{id}", auth(s.getCampaign))
	s.mux.Handle("POST /api/v1/campaigns/{id}/{action}", auth(s.controlCampaign))
	s.mux.Handle("GET /api/v1/events", s.authenticate(http.HandlerFunc(s.events)))
	s.mux.Handle(Prefix, s.authenticate(http.HandlerFunc(s.unrouted)))
}

// unrouted answers a path the API does not serve (404), or serves with
// other methods (405 with Allow).
func (s *Server) unrouted(rw http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := s.mux.Handler(other); pattern != Prefix && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeProblem(rw, notFound("no such path: "+r.URL.Path))
		return
	}
	rw.Header().Set("Allow", strings.Join(allow, ", "))
	writeProblem(rw, &Problem{Type: typeMethod, Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
		Detail: fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or "))})
}

// handlerFunc is a handler that returns its refusal as an error.
type handlerFunc func(rw http.ResponseWriter, r *http.Request) error

// handle answers the error of h as a problem, and logs the unexpected ones.
func (s *Server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		err := h(rw, r)
		if err == nil {
			return
		}
		p := asProblem(err)
		if p.Status >= 500 {
			s.log.Error("api: request failed", "method", r.Method, "path", r.Pattern, "err", err)
		}
		writeProblem(rw, p)
	})
}
