package feeder

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		room  int
		left  []int
		first int
		give  []int
		next  int
	}{
		{"an equal share each", 10, []int{50, 50}, 0, []int{5, 5}, 0},
		{"the odd row to the one whose turn it is", 3, []int{50, 50}, 1, []int{1, 2}, 0},
		{"one row", 1, []int{50, 50, 50}, 2, []int{0, 0, 1}, 0},
		{"a campaign near its end takes what it has", 10, []int{3, 50}, 0, []int{3, 7}, 0},
		{"more room than rows", 10, []int{2, 3}, 1, []int{2, 3}, 1},
		{"no rows at all", 5, []int{0, 0}, 0, []int{0, 0}, 0},
		{"no room", 0, []int{5, 5}, 1, []int{0, 0}, 1},
		{"one campaign", 4, []int{9}, 0, []int{4}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			give, next := split(tc.room, tc.left, tc.first)
			require.Equal(t, tc.give, give)
			require.Equal(t, tc.next, next)
		})
	}

	t.Run("turns carry over from look to look", func(t *testing.T) {
		// Room that comes one row in a look and two in the next — as sends
		// at 1.5 a tick make it — must not favour either campaign.
		fed := []int{0, 0}
		turn := 0
		for look := range 1000 {
			room := 1 + look%2
			give, next := split(room, []int{1000, 1000}, turn)
			turn = next
			fed[0] += give[0]
			fed[1] += give[1]
			require.LessOrEqual(t, fed[0]-fed[1], 1, "look %d: %v", look, fed)
			require.LessOrEqual(t, fed[1]-fed[0], 1, "look %d: %v", look, fed)
		}
	})
}
