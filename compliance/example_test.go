package compliance_test

import (
	"fmt"
	"time"

	"github.com/sendq/sendq/compliance"
)

func Example() {
	quiet, _ := compliance.ParseQuietHours("21:00-08:00")
	now := time.Date(2026, 3, 8, 12, 30, 0, 0, time.UTC)

	// A number in Idaho may be in Boise (MDT) or in the north (PDT).
	zones := compliance.Zones("12085550123", time.UTC)
	release, held := quiet.Release(now, zones)
	fmt.Println(held, release.UTC().Format(time.RFC3339))

	k := compliance.DefaultKeywords()
	fmt.Println(k.Match(" Stop\n"), k.Match("ARRÊT"), k.Match("start"), k.Match("stop it"))
	// Output:
	// true 2026-03-08T15:00:00Z
	// opt_out opt_out opt_in none
}
