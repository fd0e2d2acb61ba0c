// Package producer is what applications import to send through sendq: it
// validates messages and enqueues them in Redis, starts and steers campaigns,
// and reads back what became of each message.
//
// A Producer (New, with a Config whose only required field is the Redis
// connection) does not send anything itself. Send validates one
// tasks.Message and enqueues it as an asynq task; `sendq worker` processes
// (package worker) take it off the queue, apply the session window and the
// rate limits, call Whautomate and record the outcome. Both sides meet only
// in Redis, so producers and workers can run in different processes and on
// different machines. `sendq send` and `sendq status` are this package
// behind flags (README "Commands").
//
// The main pieces:
//
//   - Send and its Receipt. The message ID is the idempotency key: the same
//     ID sent again, while the first is queued or for Config.Retention after
//     it finished, enqueues nothing and returns the first one's receipt with
//     Duplicate set. Invalid input is a *tasks.ValidationError naming the
//     field, and nothing is enqueued. Fields builds a message from flat
//     strings, as flags and campaign rows give them.
//   - Status and its Outcome, the record the worker keeps up to date: its
//     State is one of States (README "Outcome states"); ErrNotFound for an
//     id never sent or no longer kept.
//   - Campaigns (README "Campaigns"): ScanCampaign reads a CSV or JSON Lines
//     file row by row (ReadCampaign into a slice); StartCampaignFrom (or
//     StartCampaign, for a slice) stores the rows, packed, for the workers'
//     feeder to move into the bulk lane at the account's pace, each with an
//     id derived from the campaign and the recipient (CampaignMessageID) so
//     that a restart sends no one twice;
//     CampaignStatus, PauseCampaign, ResumeCampaign and CancelCampaign steer
//     it while workers send.
//   - RecordInbound, for applications that receive Whautomate's webhooks
//     themselves: a contact wrote, so its 24-hour window opens and the
//     messages waiting for it are released (README "Running it for real").
//
// Why the order of writes makes an accepted message safe, and what Redis
// settings that needs, is in README "How it holds together" and
// "In production".
package producer
