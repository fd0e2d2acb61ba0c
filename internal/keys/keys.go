// Package keys names every Redis key that sendq itself writes (asynq names its
// own). An account's keys live in its Space, under the account's own hash tag,
// so that one Lua script may touch several of them atomically on Redis Cluster
// while the accounts spread over its masters. The few global keys carry the
// hash tag {sendq}.
package keys

import (
	"strconv"
	"strings"
)

// Prefix starts every sendq key.
const Prefix = "{sendq}:"

// Outcome is the hash that records one message's outcome.
func (s Space) Outcome(messageID string) string { return s.prefix + "m:" + messageID }

// Upstream maps an upstream (Whautomate) message id to ours.
func (s Space) Upstream(upstreamID string) string { return s.prefix + "u:" + upstreamID }

// Events is the capped stream of outcome transitions.
func (s Space) Events() string { return s.prefix + "events" }

// Campaign is the hash with a campaign's state and counts.
func (s Space) Campaign(id string) string { return s.prefix + "c:" + id }

// CampaignHeld is the sorted set of a paused campaign's messages that a worker
// has set aside, scored by enqueue order, so that resume can release them.
func (s Space) CampaignHeld(id string) string { return s.prefix + "c:" + id + ":held" }

// CampaignInflight is the sorted set of a campaign's messages whose send is under
// way, scored by lease expiry; cancel waits for it to empty.
func (s Space) CampaignInflight(id string) string { return s.prefix + "c:" + id + ":inflight" }

// CampaignRate counts a campaign's sends in one second (unix seconds).
func (s Space) CampaignRate(id string, unixSecond int64) string {
	return s.prefix + "c:" + id + ":r:" + strconv.FormatInt(unixSecond, 10)
}

// CampaignLock is held while a producer enqueues a campaign.
func (s Space) CampaignLock(id string) string { return s.prefix + "c:" + id + ":lock" }

// CampaignRows is one chunk of a campaign's packed rows (package rowpack),
// numbered from 0 in the order the starts stored them.
func (s Space) CampaignRows(id string, chunk int) string {
	return s.prefix + "c:" + id + ":k:" + strconv.Itoa(chunk)
}

// CampaignMembers is the set of a campaign's recipients (rowpack.Member):
// a start stores no one twice, and a message id with no record yet is the
// campaign's when its member is here.
func (s Space) CampaignMembers(id string) string { return s.prefix + "c:" + id + ":mb" }

// Feeding is the sorted set of an account's campaigns with rows left to
// feed, scored by their first start (unix ms).
func (s Space) Feeding() string { return s.prefix + "feed" }

// FeedLease is held by the one feeder that feeds the account's campaigns.
func (s Space) FeedLease() string { return s.prefix + "feed:lease" }

// FeedingAccounts is the global set of accounts whose Feeding set may not be
// empty: feeders look here first, so that idle accounts cost nothing.
func FeedingAccounts() string { return Prefix + "feeding" }

// Campaigns is the global hash of campaign ids, each to its account: written
// once at a campaign's start, read by status and control, off the send path.
func Campaigns() string { return Prefix + "campaigns" }

// Session is the hash with a contact's last inbound time and closed marker, for
// one channel. who is a recipient key such as "c:<contact id>" or "p:<digits>".
func (s Space) Session(channel, who string) string { return s.prefix + "s:" + channel + ":" + who }

// Waiting is the sorted set of messages waiting for that contact's window,
// scored by enqueue order.
func (s Space) Waiting(channel, who string) string { return s.prefix + "w:" + channel + ":" + who }

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
func (s Space) Counts() string { return s.prefix + "counts" }

// ReplicaMark is written before a WAIT so that the WAIT covers every write
// taken before it (see worker's replicated).
func ReplicaMark() string { return Prefix + "replicated" }

// Member names a message in a set of waiting or held messages: its asynq
// queue and task id, so that whoever releases it can find the task.
func Member(queue, taskID string) string { return queue + " " + taskID }

// SplitMember is Member read back.
func SplitMember(m string) (queue, taskID string, ok bool) { return strings.Cut(m, " ") }
