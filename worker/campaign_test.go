package worker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/worker"
)

// sentAfter counts the sandbox's accepted sends to campaign recipients
// (contact ids starting with "camp-") received after t.
func (b *bundle) sentAfter(t time.Time) int {
	n := 0
	for _, s := range b.sandbox.Sent() {
		if s.At.After(t) && len(s.Recipient) > 5 && s.Recipient[:5] == "camp-" {
			n++
		}
	}
	return n
}

func TestCampaignPauseResumeCancel(t *testing.T) {
	ctx := context.Background()
	b := setup(t, func(c *worker.Config) {
		c.Concurrency = 50
		c.Limits = map[tasks.Channel]ratelimit.Limit{tasks.WhatsApp: {Rate: 400, Per: time.Second}}
	})
	const total = 10000
	msgs := make([]tasks.Message, total)
	for i := range msgs {
		msgs[i] = tasks.Message{Channel: tasks.WhatsApp, Kind: tasks.KindTemplate,
			To:       tasks.Recipient{ContactID: fmt.Sprintf("camp-%05d", i)},
			Template: &tasks.Template{Name: "sale", Language: "en", Params: []string{"10%"}}}
	}

	// Watch the report all along: the counts must always add up.
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watch sync.WaitGroup
	var mismatches []string
	watch.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-tick.C:
			}
			c, err := b.producer.CampaignStatus(ctx, "spring")
			if err != nil {
				continue // not started yet
			}
			sum := 0
			for _, n := range c.Counts {
				sum += n
			}
			if sum != c.Total {
				mismatches = append(mismatches, fmt.Sprintf("%v adds up to %d, total %d", c.Counts, sum, c.Total))
			}
		}
	})

	rep, err := b.producer.StartCampaign(ctx, "spring", msgs, producer.StartOptions{})
	require.NoError(t, err)
	require.Equal(t, total, rep.Accepted)
	poll.Eventually(t, func() bool { return b.sandbox.SentCount() >= 1000 }, 30*time.Second, 10*time.Millisecond)

	// A transactional message while the campaign saturates the channel.
	txAt := time.Now()
	_, err = b.producer.Send(ctx, template("tx-1", "vip"))
	require.NoError(t, err)
	tx := b.waitState(t, "tx-1", producer.StateSent, 10*time.Second)
	t.Logf("transactional message during the campaign: sent %v after enqueue", tx.SentAt.Sub(txAt).Round(time.Millisecond))

	require.NoError(t, b.producer.PauseCampaign(ctx, "spring"))
	paused := time.Now()
	c, err := b.producer.CampaignStatus(ctx, "spring")
	require.NoError(t, err)
	require.Equal(t, producer.CampaignState("paused"), c.State)
	// Sends already under way end; nothing new starts.
	poll.Eventually(t, func() bool {
		return b.sentAfter(paused.Add(time.Second)) == 0 && time.Since(paused) > 2500*time.Millisecond
	}, 10*time.Second, 50*time.Millisecond)
	last := b.sandbox.Sent()[b.sandbox.SentCount()-1].At
	t.Logf("pause: last send %v after pause returned", last.Sub(paused).Round(time.Millisecond))
	require.Zero(t, b.sentAfter(paused.Add(time.Second)), "no send more than a second after pause")

	require.NoError(t, b.producer.ResumeCampaign(ctx, "spring"))
	before := b.sandbox.SentCount()
	poll.Eventually(t, func() bool { return b.sandbox.SentCount() > before+500 }, 20*time.Second, 10*time.Millisecond)

	require.NoError(t, b.producer.CancelCampaign(ctx, "spring"))
	cancelled := time.Now()
	c, err = b.producer.CampaignStatus(ctx, "spring")
	require.NoError(t, err)
	require.Equal(t, producer.CampaignState("cancelled"), c.State)
	// Let the workers drain the cancelled messages from the queue.
	poll.Eventually(t, func() bool {
		info, err := b.ins.GetQueueInfo("sendq:whatsapp:bulk")
		return err == nil && info.Pending == 0 && info.Active == 0 && info.Retry == 0 && info.Scheduled == 0
	}, 30*time.Second, 50*time.Millisecond)
	require.Zero(t, b.sentAfter(cancelled), "nothing of the campaign is sent after cancel returns")

	stopWatch()
	watch.Wait()
	require.Empty(t, mismatches)
	c, err = b.producer.CampaignStatus(ctx, "spring")
	require.NoError(t, err)
	require.Equal(t, total, c.Counts[producer.StateSent]+c.Counts[producer.StateCancelled], "%v", c.Counts)
	require.Equal(t, c.Counts[producer.StateSent], b.sentAfter(time.Time{}), "sent counts match the upstream")
	t.Logf("campaign of %d: %v", total, c.Counts)
}
