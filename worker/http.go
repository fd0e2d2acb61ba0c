package worker

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/tasks"
)

// HTTPConfig configures the worker's HTTP server.
type HTTPConfig struct {
	// Redis is checked by /healthz (required).
	Redis redis.UniversalClient
	// Worker serves the webhooks; nil leaves /webhooks/whautomate out (as
	// in `sendq dashboard`).
	Worker *Worker
	// WebhookTokens are the X-Webhook-Token each account's webhook calls
	// must carry, by account id; an account missing or with "" takes none.
	WebhookTokens map[string]string
	// AdminToken, when set, guards /monitoring/ and /metrics with
	// Authorization: Bearer <token>.
	AdminToken string
	// Gatherer serves /metrics; nil leaves it out.
	Gatherer prometheus.Gatherer
	// Monitoring is mounted at /monitoring/ (see NewMonitoring); nil leaves it out.
	Monitoring http.Handler
	// API is mounted at /api/v1/ (package api); nil leaves it out.
	API http.Handler
}

// NewHTTPHandler returns the routes of README "HTTP server of `sendq worker`": /healthz, /metrics,
// /monitoring/, /api/v1/ and /webhooks/whautomate[/{account}].
func NewHTTPHandler(cfg HTTPConfig) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := cfg.Redis.Ping(ctx).Err(); err != nil {
			writeJSON(rw, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "redis": "down"})
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{"status": "ok", "redis": "up"})
	})
	guard := func(h http.Handler) http.Handler { return requireBearer(cfg.AdminToken, h) }
	if cfg.Gatherer != nil {
		mux.Handle("GET /metrics", guard(promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{})))
	}
	if cfg.Monitoring != nil {
		mux.Handle("/monitoring/", guard(cfg.Monitoring))
		mux.Handle("GET /monitoring", http.RedirectHandler("/monitoring/", http.StatusMovedPermanently))
	}
	if cfg.API != nil {
		mux.Handle("/api/v1/", cfg.API)
	}
	if w := cfg.Worker; w != nil {
		hooks := map[string]http.Handler{}
		for _, id := range w.Accounts() {
			hooks[id] = w.WebhookHandler(id, cfg.WebhookTokens[id])
		}
		mux.HandleFunc("/webhooks/whautomate/{account}", func(rw http.ResponseWriter, r *http.Request) {
			h, ok := hooks[r.PathValue("account")]
			if !ok {
				writeJSON(rw, http.StatusNotFound, map[string]any{"error": "unknown account"})
				return
			}
			h.ServeHTTP(rw, r)
		})
		// The path without an account serves the only one.
		mux.HandleFunc("/webhooks/whautomate", func(rw http.ResponseWriter, r *http.Request) {
			if len(hooks) != 1 {
				writeJSON(rw, http.StatusNotFound, map[string]any{"error": "several accounts: use /webhooks/whautomate/{account}"})
				return
			}
			for _, h := range hooks {
				h.ServeHTTP(rw, r)
			}
		})
	}
	return mux
}

func requireBearer(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			rw.Header().Set("WWW-Authenticate", `Bearer realm="sendq"`)
			http.Error(rw, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(rw, r)
	})
}

// NewMonitoring returns the asynq web UI (asynqmon) rooted at /monitoring,
// showing payloads without personal data. It opens its own connection
// through conn; Close it when done.
func NewMonitoring(conn asynq.RedisConnOpt, readOnly bool) *asynqmon.HTTPHandler {
	return asynqmon.New(asynqmon.Options{
		RootPath:         "/monitoring",
		RedisConnOpt:     conn,
		ReadOnly:         readOnly,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(RedactPayload),
	})
}

// RedactPayload shows a task's payload without personal data: the recipient
// shortened, text as its length. Operators see what they need to find a
// message, never what it says or the full number.
func RedactPayload(_ string, payload []byte) string {
	m, err := tasks.Decode(payload)
	if err != nil {
		return fmt.Sprintf("(undecodable payload, %d bytes)", len(payload))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "id=%s channel=%s kind=%s to=%s", m.ID, m.Channel, m.Kind, m.To.Redacted())
	switch {
	case m.Text != "":
		fmt.Fprintf(&b, " text=(%d chars)", len([]rune(m.Text)))
	case m.Media != nil:
		fmt.Fprintf(&b, " media=%s", m.Media.MimeType)
	case m.Template != nil && m.Template.Name != "":
		fmt.Fprintf(&b, " template=%s/%s params=%d", m.Template.Name, m.Template.Language, len(m.Template.Params))
	}
	if m.Campaign != "" {
		fmt.Fprintf(&b, " campaign=%s", m.Campaign)
	}
	if !m.ExpiresAt.IsZero() {
		fmt.Fprintf(&b, " expires_at=%s", m.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return b.String()
}
