package worker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

// Metrics are the worker's Prometheus measurements. Labels carry channels,
// kinds and classes only: never a recipient, a message or a key. A nil
// *Metrics measures nothing.
type Metrics struct {
	handled  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	calls    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	waits    *prometheus.CounterVec
	waitSecs *prometheus.CounterVec
	missed   *prometheus.CounterVec
	holds    *prometheus.CounterVec
	ambig    *prometheus.CounterVec
	supp     *prometheus.CounterVec
	compHold *prometheus.CounterVec
	keywords *prometheus.CounterVec
	invalids prometheus.Counter
	fed      *prometheus.CounterVec
}

// NewMetrics creates the worker's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_handled_total",
			Help: "Handler runs by channel, kind and what they came to (sent, waiting_session, rate_limited, transient, ...).",
		}, []string{"account", "channel", "kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sendq_handler_duration_seconds",
			Help:    "Time a handler run took, limiter waits included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"channel"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_api_calls_total",
			Help: "Whautomate send calls by account, channel and classified answer.",
		}, []string{"account", "channel", "class"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sendq_api_latency_seconds",
			Help:    "Latency of Whautomate send calls.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"channel"}),
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_limiter_waits_total",
			Help: "Times a message waited for a rate limit, the account's budget or a cool-down, by reason.",
		}, []string{"account", "channel", "reason"}),
		waitSecs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_limiter_wait_seconds_total",
			Help: "Time messages were told to wait by the rate limiter.",
		}, []string{"account", "channel", "reason"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_limiter_slots_missed_total",
			Help: "Rate-limit slots given up because the send could not go on time (the process was starved of CPU): a steady rise costs throughput.",
		}, []string{"account", "channel"}),
		holds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_channel_holds_total",
			Help: "Times an account (a bad key or location: 401/403/404) or one of its channels (an account block) was held: alert on any increase.",
		}, []string{"account", "channel", "class"}),
		ambig: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_ambiguous_sends_total",
			Help: "Messages whose earlier attempt died mid-send: found already sent, or sent again.",
		}, []string{"outcome"}),
		supp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_suppressed_total",
			Help: "Messages suppressed without a call, by account, channel and reason (opted_out: a marketing template to an opted-out recipient).",
		}, []string{"account", "channel", "reason"}),
		compHold: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_compliance_holds_total",
			Help: "Times a message was held (scheduled) by a compliance rule, by account, channel and reason (quiet_hours, messaging_limit).",
		}, []string{"account", "channel", "reason"}),
		keywords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_optout_keywords_total",
			Help: "Incoming messages that were an opt-out or opt-in keyword, by account, channel and action (opt_out, opt_in).",
		}, []string{"account", "channel", "action"}),
		invalids: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sendq_invalid_tasks_total",
			Help: "Tasks whose payload could not be decoded (failed without retry).",
		}),
		fed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendq_campaign_rows_fed_total",
			Help: "Campaign rows this process fed to the queues, by account (the feeder: README \"Campaigns\").",
		}, []string{"account"}),
	}
	for _, c := range []prometheus.Collector{m.handled, m.duration, m.calls, m.latency, m.waits, m.waitSecs, m.missed, m.holds, m.ambig, m.supp, m.compHold, m.keywords, m.invalids, m.fed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observeHandled(account string, msg *tasks.Message, result string, d time.Duration) {
	if m == nil {
		return
	}
	if result == "" {
		result = "unknown"
	}
	m.handled.WithLabelValues(account, string(msg.Channel), string(msg.Kind), result).Inc()
	m.duration.WithLabelValues(string(msg.Channel)).Observe(d.Seconds())
}

func (m *Metrics) observeCall(account string, ch tasks.Channel, c whautomate.Class, d time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(account, string(ch), c.String()).Inc()
	m.latency.WithLabelValues(string(ch)).Observe(d.Seconds())
}

func (m *Metrics) observeWait(account string, ch tasks.Channel, reason string, d time.Duration) {
	if m == nil {
		return
	}
	if reason == "" {
		reason = "rate"
	}
	m.waits.WithLabelValues(account, string(ch), reason).Inc()
	m.waitSecs.WithLabelValues(account, string(ch), reason).Add(d.Seconds())
}

func (m *Metrics) slotMissed(account string, ch tasks.Channel) {
	if m != nil {
		m.missed.WithLabelValues(account, string(ch)).Inc()
	}
}

func (m *Metrics) held(account string, ch tasks.Channel, c whautomate.Class) {
	if m != nil {
		m.holds.WithLabelValues(account, string(ch), c.String()).Inc()
	}
}

func (m *Metrics) suppressed(account string, ch tasks.Channel, reason string) {
	if m != nil {
		m.supp.WithLabelValues(account, string(ch), reason).Inc()
	}
}

func (m *Metrics) heldFor(account string, ch tasks.Channel, reason string) {
	if m != nil {
		m.compHold.WithLabelValues(account, string(ch), reason).Inc()
	}
}

func (m *Metrics) keyword(account string, ch tasks.Channel, action string) {
	if m != nil {
		m.keywords.WithLabelValues(account, string(ch), action).Inc()
	}
}

func (m *Metrics) ambiguous(outcome string) {
	if m != nil {
		m.ambig.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) invalid() {
	if m != nil {
		m.invalids.Inc()
	}
}

// campaignFed counts the rows the feeder fed (it is the feeder's
// feeder.Metrics.Fed).
func (m *Metrics) campaignFed(account string, rows int) {
	if m != nil {
		m.fed.WithLabelValues(account).Add(float64(rows))
	}
}
