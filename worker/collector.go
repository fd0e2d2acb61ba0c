package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/outcome"
)

// Collector exports, at each scrape, asynq's queue state under asynq's own
// metric names (so that asynqmon's charts work when it is pointed at
// Prometheus) and the number of sendq messages in each outcome state.
type Collector struct {
	ins      *asynq.Inspector
	outcomes *outcome.Store
	accounts []string // whose messages it counts
	log      *slog.Logger

	tasksEnqueued *prometheus.Desc
	queueSize     *prometheus.Desc
	queueLatency  *prometheus.Desc
	queueMemory   *prometheus.Desc
	processed     *prometheus.Desc
	failed        *prometheus.Desc
	paused        *prometheus.Desc
	messages      *prometheus.Desc
}

// NewCollector returns a Collector reading rdb.
func NewCollector(rdb redis.UniversalClient, log *slog.Logger, accounts []string) *Collector {
	if log == nil {
		log = slog.Default()
	}
	// Only a nil rdb fails, which the inspector could not read either.
	outcomes, _ := outcome.New(rdb, outcome.Config{})
	return &Collector{
		ins:           asynq.NewInspectorFromRedisClient(rdb),
		outcomes:      outcomes,
		accounts:      accounts,
		log:           log,
		tasksEnqueued: prometheus.NewDesc("asynq_tasks_enqueued_total", "Number of tasks enqueued, by queue and state.", []string{"queue", "state"}, nil),
		queueSize:     prometheus.NewDesc("asynq_queue_size", "Number of tasks in a queue.", []string{"queue"}, nil),
		queueLatency:  prometheus.NewDesc("asynq_queue_latency_seconds", "Age of the oldest pending task in the queue.", []string{"queue"}, nil),
		queueMemory:   prometheus.NewDesc("asynq_queue_memory_usage_approx_bytes", "Approximate memory used by a queue.", []string{"queue"}, nil),
		processed:     prometheus.NewDesc("asynq_tasks_processed_total", "Number of tasks processed (succeeded or failed).", []string{"queue"}, nil),
		failed:        prometheus.NewDesc("asynq_tasks_failed_total", "Number of tasks that failed.", []string{"queue"}, nil),
		paused:        prometheus.NewDesc("asynq_queue_paused_total", "1 if the queue is paused.", []string{"queue"}, nil),
		messages:      prometheus.NewDesc("sendq_messages", "sendq messages by account and outcome state (as recorded).", []string{"account", "state"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.tasksEnqueued, c.queueSize, c.queueLatency, c.queueMemory, c.processed, c.failed, c.paused, c.messages} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A Redis error leaves the series
// out of this scrape (and is logged), never fails it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	queues, err := c.ins.Queues()
	if err != nil {
		c.log.Warn("metrics: cannot list queues", "error", err)
	}
	for _, q := range queues {
		info, err := c.ins.GetQueueInfo(q)
		if err != nil {
			c.log.Warn("metrics: cannot read queue", "queue", q, "error", err)
			continue
		}
		gauge := func(d *prometheus.Desc, v float64, l ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived, "completed": info.Completed, "aggregating": info.Aggregating} {
			gauge(c.tasksEnqueued, float64(n), q, state)
		}
		gauge(c.queueSize, float64(info.Size), q)
		gauge(c.queueLatency, info.Latency.Seconds(), q)
		gauge(c.queueMemory, float64(info.MemoryUsage), q)
		ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(info.ProcessedTotal), q)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(info.FailedTotal), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		gauge(c.paused, paused, q)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, a := range c.accounts {
		counts, err := c.outcomes.Counts(ctx, a)
		if err != nil {
			c.log.Warn("metrics: cannot read message counts", "account", a, "error", err)
			return
		}
		for _, st := range outcome.States {
			ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(counts[st]), a, string(st))
		}
	}
}
