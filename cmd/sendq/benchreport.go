// How bench reports its rounds: medians, the ratios of the two modes and
// their best rounds.

package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"
)

func printBench(w io.Writer, sq, bare []benchResult) {
	var rows []benchResult
	for _, rs := range [][]benchResult{sq, bare} {
		if len(rs) > 0 {
			rows = append(rows, median(rs))
		}
	}
	if len(sq)+len(bare) > 2 {
		fmt.Fprintf(w, "medians of %d rounds:\n", max(len(sq), len(bare)))
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tenqueue/s\tsend/s\tp50\tp99\tidle p50\tidle p99\tCPU ms/1k msgs\tredis CPU ms/1k\tredis B/queued msg\tsent\ttwice\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%v\t%v\t%v\t%v\t%.1f\t%.1f\t%.0f\t%d/%d\t%d\t\n", r.name, r.enqueueRate, r.sendRate,
			r.p50.Round(time.Millisecond), r.p99.Round(time.Millisecond), r.idleP50.Round(100*time.Microsecond), r.idleP99.Round(100*time.Microsecond),
			ms(r.cpuPer1000), ms(r.redisCPUPer1000), r.memPerQueued, r.totalSent, r.totalMsgs, r.sentTwice)
	}
	_ = tw.Flush()
	if len(sq) == 0 || len(sq) != len(bare) {
		return
	}
	// Each round's ratio, as well as the ratio of the medians: the spread
	// says how much the machine's other work moved the figures.
	var rate, cpu []float64
	for i := range sq {
		rate = append(rate, sq[i].sendRate/bare[i].sendRate)
		cpu = append(cpu, float64(sq[i].cpuPer1000)/float64(bare[i].cpuPer1000))
	}
	sort.Float64s(rate)
	sort.Float64s(cpu)
	fmt.Fprintf(w, "\nsendq / bare: send rate %.2f× (rounds %.2f–%.2f), CPU per message %.2f× (rounds %.2f–%.2f; this process: worker, client and sandbox)\n",
		rows[0].sendRate/rows[1].sendRate, rate[0], rate[len(rate)-1],
		float64(rows[0].cpuPer1000)/float64(rows[1].cpuPer1000), cpu[0], cpu[len(cpu)-1])
	// The machine's other work only ever slows a round down, so each mode's
	// best round is the one it disturbed least: their ratio is what the
	// chain costs with the disturbance taken out, next to the medians.
	best := func(rs []benchResult) (rate float64, cpu time.Duration) {
		rate, cpu = rs[0].sendRate, rs[0].cpuPer1000
		for _, r := range rs[1:] {
			rate, cpu = max(rate, r.sendRate), min(cpu, r.cpuPer1000)
		}
		return rate, cpu
	}
	sr, sc := best(sq)
	br, bc := best(bare)
	fmt.Fprintf(w, "best rounds: sendq %.0f msgs/s at %.1f CPU ms/1k, bare %.0f at %.1f: %.2f× the rate, %.2f× the CPU\n",
		sr, ms(sc), br, ms(bc), sr/br, float64(sc)/float64(bc))
}

// median is, column by column, the median of rs (the upper one of an even
// count); the counts of sent messages are summed and the idle latencies
// pooled.
func median(rs []benchResult) benchResult {
	m := rs[0]
	pick := func(get func(r benchResult) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	dur := func(get func(r benchResult) time.Duration) time.Duration {
		return time.Duration(pick(func(r benchResult) float64 { return float64(get(r)) }))
	}
	m.enqueueRate = pick(func(r benchResult) float64 { return r.enqueueRate })
	m.sendRate = pick(func(r benchResult) float64 { return r.sendRate })
	m.memPerQueued = pick(func(r benchResult) float64 { return r.memPerQueued })
	m.p50 = dur(func(r benchResult) time.Duration { return r.p50 })
	m.p99 = dur(func(r benchResult) time.Duration { return r.p99 })
	// The idle latencies of all rounds together: a p99 of one round's 200
	// is its second-worst sample.
	m.idle = nil
	for _, r := range rs {
		m.idle = append(m.idle, r.idle...)
	}
	m.idleP50, m.idleP99 = percentiles(m.idle)
	m.cpuPer1000 = dur(func(r benchResult) time.Duration { return r.cpuPer1000 })
	m.redisCPUPer1000 = dur(func(r benchResult) time.Duration { return r.redisCPUPer1000 })
	m.totalSent, m.totalMsgs, m.sentTwice = 0, 0, 0
	for _, r := range rs {
		m.totalSent += r.totalSent
		m.totalMsgs += r.totalMsgs
		m.sentTwice += r.sentTwice
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
