package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/redistest"
)

// TestBenchRunsBothModes runs a small bench: both modes send every message
// exactly once, and the report has its medians and its ratio line.
func TestBenchRunsBothModes(t *testing.T) {
	redistest.Client(t, 2)
	env := map[string]string{"REDIS_URL": redistest.URL(t, 2)}
	code, out, stderr := sendq(t, env, "bench", "--n", "300", "--rounds", "2", "--idle", "5", "--concurrency", "20", "--latency", "2ms", "--flush")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "medians of 2 rounds")
	require.Regexp(t, `sendq chain .* 600/600 +0`, out, "2 rounds of 300, none sent twice")
	require.Regexp(t, `bare asynq .* 600/600 +0`, out)
	require.Regexp(t, regexp.MustCompile(`sendq / bare: send rate [0-9.]+× \(rounds [0-9.]+–[0-9.]+\), CPU per message [0-9.]+×`), out)

	code, _, stderr = sendq(t, env, "bench", "--mode", "fast")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "usage: sendq bench")
}

func TestBenchMedianPoolsIdleLatencies(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	rs := []benchResult{
		{sendRate: 100, cpuPer1000: 3 * time.Millisecond, idle: ms(1, 2), totalSent: 10, totalMsgs: 10},
		{sendRate: 300, cpuPer1000: 1 * time.Millisecond, idle: ms(3, 4), totalSent: 10, totalMsgs: 10, sentTwice: 1},
		{sendRate: 200, cpuPer1000: 2 * time.Millisecond, idle: ms(5, 60), totalSent: 10, totalMsgs: 10},
	}
	m := median(rs)
	require.Equal(t, 200.0, m.sendRate)
	require.Equal(t, 2*time.Millisecond, m.cpuPer1000)
	require.Len(t, m.idle, 6)
	require.Equal(t, 4*time.Millisecond, m.idleP50, "the pooled samples' median")
	require.Equal(t, 60*time.Millisecond, m.idleP99)
	require.Equal(t, 30, m.totalSent)
	require.Equal(t, 1, m.sentTwice)
	require.Equal(t, 1*time.Millisecond, rs[0].idle[0], "the rounds' own samples are left as they were")
}

// TestBenchComparesBestRounds: the best-rounds line takes each mode's
// fastest rate and lowest CPU, whichever rounds they came from.
func TestBenchComparesBestRounds(t *testing.T) {
	sq := []benchResult{
		{name: "sendq chain", sendRate: 3000, cpuPer1000: 300 * time.Millisecond},
		{name: "sendq chain", sendRate: 4000, cpuPer1000: 260 * time.Millisecond},
		{name: "sendq chain", sendRate: 3900, cpuPer1000: 250 * time.Millisecond},
	}
	bare := []benchResult{
		{name: "bare asynq", sendRate: 5000, cpuPer1000: 200 * time.Millisecond},
		{name: "bare asynq", sendRate: 3000, cpuPer1000: 300 * time.Millisecond},
		{name: "bare asynq", sendRate: 4800, cpuPer1000: 208 * time.Millisecond},
	}
	var out strings.Builder
	printBench(&out, sq, bare)
	require.Contains(t, out.String(), "best rounds: sendq 4000 msgs/s at 250.0 CPU ms/1k, bare 5000 at 200.0: 0.80× the rate, 1.25× the CPU")
}
