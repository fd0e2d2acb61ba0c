package worker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/internal/poll"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/worker"
)

// TestSentinelFailoverMidRun forces a Sentinel failover in the middle of a
// run and checks that every message is still sent. It runs when
// SENDQ_TEST_FAILOVER_CMD names the command that forces the failover (.ci/run
// sets it, with SENDQ_TEST_REDIS_URL a redis-sentinel:// URL).
func TestSentinelFailoverMidRun(t *testing.T) {
	failover := os.Getenv("SENDQ_TEST_FAILOVER_CMD")
	if failover == "" {
		t.Skip("set SENDQ_TEST_FAILOVER_CMD (and a redis-sentinel:// SENDQ_TEST_REDIS_URL) to run")
	}
	ctx := context.Background()
	b := setup(t, func(c *worker.Config) { c.WaitReplicas = 2 })
	b.sandbox.SetLatency(50 * time.Millisecond)
	var ids []string
	for i := range 2000 {
		id := fmt.Sprintf("f%04d", i)
		_, err := b.producer.Send(ctx, template(id, "c-"+id))
		require.NoError(t, err)
		ids = append(ids, id)
	}
	poll.Eventually(t, func() bool { return b.sandbox.SentCount() >= 300 }, 30*time.Second, 10*time.Millisecond)
	out, err := exec.Command("bash", "-c", failover).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("%s at %d of %d sent", strings.TrimSpace(string(out)), b.sandbox.SentCount(), len(ids))
	for _, id := range ids {
		b.waitState(t, id, producer.StateSent, 2*time.Minute)
	}
	per := map[string]int{}
	for _, s := range b.sandbox.Sent() {
		per[s.Recipient]++
	}
	twice := 0
	for _, n := range per {
		if n > 1 {
			twice++
		}
	}
	t.Logf("failover mid-run: %d messages, lost 0, sent twice %d", len(ids), twice)
	require.Zero(t, twice, "with min-replicas-to-write and WaitReplicas at the number of replicas, no outcome is lost")
}

// TestNoSendBeforeTheLeaseIsReplicated asks for a replica the test Redis
// (a single server) does not have: WAIT never reaches it, so no run may call
// the API, and the message stays queued rather than failing.
func TestNoSendBeforeTheLeaseIsReplicated(t *testing.T) {
	if os.Getenv("SENDQ_TEST_REDIS_URL") != "" {
		t.Skip("for a single Redis without replicas (Sentinel has them; Cluster does not WAIT)")
	}
	ctx := context.Background()
	b := setup(t, func(c *worker.Config) { c.WaitReplicas = 1 })
	_, err := b.producer.Send(ctx, template("lonely", "c-lonely"))
	require.NoError(t, err)
	poll.Never(t, func() bool { return b.sandbox.CallsFor("c-lonely") > 0 }, 3*time.Second, 50*time.Millisecond,
		"sent without the lease on a replica")
	o, err := b.producer.Status(ctx, "lonely")
	require.NoError(t, err)
	require.NotEqual(t, producer.StateFailed, o.State)
}
