// Package worker takes sendq's messages off their Redis queues and sends
// them through Whautomate, within the channels' rules: it is `sendq worker`
// without its flags and environment (README "Commands", "Configuration").
//
// A Worker (New, with a Config whose required fields are the Redis
// connection and the API client, *whautomate.Client in production) runs
// asynq servers, one pool per channel so that one channel's backlog never
// holds up another, until Run's context is done; then it stops taking
// messages and lets the sends in flight finish. Messages come from package
// producer, in this process or any other on the same Redis, and any number
// of workers may share that Redis: the rate limits, cool-downs, session
// windows, campaign state and the send guard live there and hold for all of
// them together (README "In production").
//
// Every message goes through one chain: decode → expiry → claim (already
// finished? campaign cancelled or paused? another run sending it?) → session
// window → rate limit → API call → classify → record. Its outcome record,
// which producer.Status reads, says where it stands at each step. Waiting is
// not failing: a closed window, a rate limit, a 429 or a configuration error
// defers the message without using an attempt; only transient errors count
// against Config.MaxAttempts. Why nothing accepted is lost and nothing is
// sent twice by sendq is README "How it holds together".
//
// Around the chain:
//
//   - NewHTTPHandler serves the worker's HTTP routes (README "HTTP server of
//     `sendq worker`"): /healthz, /metrics, the web UI from NewMonitoring,
//     and Whautomate's webhook (WebhookHandler, ParseWebhook), through which
//     a contact's message opens its 24-hour window and releases the messages
//     waiting for it.
//   - NewMetrics and NewCollector are the Prometheus measurements: the
//     worker's own, and asynq's queue state under asynq's names.
//   - Callback delivers every final outcome to an HTTP endpoint, at least
//     once, signed (Sign).
package worker
