// Package keys names every Redis key that sendq itself writes (asynq names its
// own). All of them share the hash tag {sendq}, so that one Lua script may touch
// several of them atomically on Redis Cluster as well: sendq's records live on
// one cluster slot, while asynq's queues spread over the others.
package keys

import (
	"strconv"
	"strings"
)

// Prefix starts every sendq key.
const Prefix = "{sendq}:"

// Outcome is the hash that records one message's outcome.
func Outcome(messageID string) string { return Prefix + "m:" + messageID }

// Upstream maps an upstream (Whautomate) message id to ours.
func Upstream(upstreamID string) string { return Prefix + "u:" + upstreamID }

// Events is the capped stream of outcome transitions.
func Events() string { return Prefix + "events" }

// Campaign is the hash with a campaign's state and counts.
func Campaign(id string) string { return Prefix + "c:" + id }

// CampaignHeld is the sorted set of a paused campaign's messages that a worker
// has set aside, scored by enqueue order, so that resume can release them.
func CampaignHeld(id string) string { return Prefix + "c:" + id + ":held" }

// CampaignInflight is the sorted set of a campaign's messages whose send is under
// way, scored by lease expiry; cancel waits for it to empty.
func CampaignInflight(id string) string { return Prefix + "c:" + id + ":inflight" }

// CampaignRate counts a campaign's sends in one second (unix seconds).
func CampaignRate(id string, unixSecond int64) string {
	return Prefix + "c:" + id + ":r:" + strconv.FormatInt(unixSecond, 10)
}

// CampaignLock is held while a producer enqueues a campaign.
func CampaignLock(id string) string { return Prefix + "c:" + id + ":lock" }

// Campaigns is the set of known campaign ids.
func Campaigns() string { return Prefix + "campaigns" }

// Session is the hash with a contact's last inbound time and closed marker, for
// one channel. who is a recipient key such as "c:<contact id>" or "p:<digits>".
func Session(channel, who string) string { return Prefix + "s:" + channel + ":" + who }

// Waiting is the sorted set of messages waiting for that contact's window,
// scored by enqueue order.
func Waiting(channel, who string) string { return Prefix + "w:" + channel + ":" + who }

// Queue names the asynq queue of a channel's lane: transactional messages, or
// bulk (campaign) ones, which a worker takes only when the first is empty.
func Queue(channel string, bulk bool) string {
	if bulk {
		return "sendq:" + channel + ":bulk"
	}
	return "sendq:" + channel
}

// TaskMaxRetry is asynq's retry limit on every sendq task. The worker keeps
// its own, smaller budget of failed calls (worker.Config.MaxAttempts); the
// room above it absorbs failures asynq counts by itself (a crashed worker's
// lost lease), so that a message that only waits never meets asynq's limit
// (asynq archives a task at its limit even for a "not a failure" error).
const TaskMaxRetry = 30

// Counts is the hash of how many messages are in each state.
func Counts() string { return Prefix + "counts" }

// ReplicaMark is written before a WAIT so that the WAIT covers every write
// taken before it (see worker's replicated).
func ReplicaMark() string { return Prefix + "replicated" }

// Member names a message in a set of waiting or held messages: its asynq
// queue and task id, so that whoever releases it can find the task.
func Member(queue, taskID string) string { return queue + " " + taskID }

// SplitMember is Member read back.
func SplitMember(m string) (queue, taskID string, ok bool) { return strings.Cut(m, " ") }
