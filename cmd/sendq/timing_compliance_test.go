package main

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// TestQuietHoursReleaseOnTime (README "Compliance", must-be-true 3, in real
// time): marketing templates sent within the quiet hours are held,
// scheduled with reason quiet_hours and not_before the end of the quiet
// hours, and reach the upstream within a second after it, never before;
// a utility template goes at once. The quiet hours end at the next whole
// minute at least 5 s away (the setting has minutes), so the test takes up
// to 70 s.
func TestQuietHoursReleaseOnTime(t *testing.T) {
	now := time.Now().UTC()
	end := now.Truncate(time.Minute).Add(time.Minute)
	if end.Sub(now) < 5*time.Second {
		end = end.Add(time.Minute)
	}
	quiet := fmt.Sprintf("%s-%s", end.Add(-time.Hour).Format("15:04"), end.Format("15:04"))
	f := newFleet(t, 3, whautomatetest.Options{},
		"SENDQ_QUIET_HOURS="+quiet, "SENDQ_TIMEZONE=UTC", "SENDQ_RATE_WHATSAPP=0", "SENDQ_PACE_WHATSAPP=0")
	f.start("worker")
	ctx := context.Background()
	const n = 20
	var ids []string
	for i := range n {
		m := tasks.Message{ID: fmt.Sprintf("quiet-%02d", i), Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
			To:       tasks.Recipient{ContactID: fmt.Sprintf("quiet-%02d", i)},
			Template: &tasks.Template{Name: "sale", Language: "en", Category: tasks.Marketing}}
		_, err := f.producer.Send(ctx, m)
		require.NoError(t, err)
		ids = append(ids, m.ID)
	}
	_, err := f.producer.Send(ctx, tasks.Message{ID: "receipt", Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
		To: tasks.Recipient{ContactID: "buyer"}, Template: &tasks.Template{Name: "receipt", Language: "en", Category: tasks.Utility}})
	require.NoError(t, err)
	f.waitState("receipt", producer.StateSent, 10*time.Second)
	for _, id := range ids {
		o := f.waitState(id, producer.StateScheduled, 10*time.Second)
		require.Equal(t, "quiet_hours", o.Reason)
		require.Equal(t, end, o.NotBefore)
	}
	require.Len(t, f.sandbox.Sent(), 1, "only the utility template before the end")
	f.waitFinished(ids, end.Sub(time.Now())+30*time.Second)

	var late []time.Duration
	for _, id := range ids {
		at := f.sandbox.FirstCall(id)
		require.False(t, at.Before(end), "%s sent %v before its not_before", id, end.Sub(at))
		late = append(late, at.Sub(end))
	}
	sort.Slice(late, func(i, j int) bool { return late[i] < late[j] })
	t.Logf("quiet hours %s UTC: %d held messages reached the upstream %v to %v after not_before (median %v)",
		quiet, n, late[0].Round(time.Millisecond), late[n-1].Round(time.Millisecond), late[n/2].Round(time.Millisecond))
	require.Less(t, late[n-1], time.Second, "released within a second of not_before")
}
