package whautomatetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBusiest(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(offsets ...time.Duration) []time.Time {
		times := make([]time.Time, len(offsets))
		for i, o := range offsets {
			times[i] = t0.Add(o)
		}
		return times
	}
	const ms, s, m = time.Millisecond, time.Second, time.Minute
	tests := []struct {
		name  string
		times []time.Time
		d     time.Duration
		want  int
	}{
		{"none", nil, m, 0},
		{"one", at(0), s, 1},
		{"together", at(0, 0, 0), s, 3},
		{"a span d long holds neither end", at(0, s), s, 1},
		{"just inside", at(0, s-1), s, 2},
		{"the busiest is not the first", at(0, 2*s, 2*s+ms, 2*s+999*ms, 3*s), s, 3},
		{"a sliding window, not a fixed one", at(500*ms, 900*ms, 1100*ms, 1400*ms), s, 4},
		{"a fixed minute would say 2", at(59*s, 59*s+ms, 60*s, 60*s+ms), m, 4},
		{"the minute slides on", at(0, 30*s, 60*s, 90*s), m, 2},
		{"six a second, 300 a minute", spread(t0, 300, 200*ms), m, 300},
		{"six a second, 300 a minute, per second", spread(t0, 300, 200*ms), s, 5},
		{"no span", at(0, 0), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Busiest(tt.times, tt.d))
		})
	}
}

// spread returns n times from start, every gap apart.
func spread(start time.Time, n int, gap time.Duration) []time.Time {
	times := make([]time.Time, n)
	for i := range times {
		times[i] = start.Add(time.Duration(i) * gap)
	}
	return times
}

func TestTake(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	a := &account{budget: 2}
	require.True(t, a.take(t0))
	require.True(t, a.take(t0.Add(time.Second)))
	require.False(t, a.take(t0.Add(time.Minute-1)), "both still in the minute up to it")
	require.True(t, a.take(t0.Add(time.Minute)), "the first has left")
	require.False(t, a.take(t0.Add(time.Minute)))
	require.Len(t, a.counted, 2, "what left the minute is forgotten")
	unlimited := &account{}
	for range 1000 {
		require.True(t, unlimited.take(t0))
	}
	require.Empty(t, unlimited.counted, "no budget keeps nothing")
}
