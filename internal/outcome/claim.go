package outcome

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/tasks"
)

// ClaimStatus is what a claim found.
type ClaimStatus string

// The claim results.
const (
	Claimed        ClaimStatus = "claimed"   // the caller holds the send lease
	AlreadyDone    ClaimStatus = "done"      // finished before: nothing to do
	CampaignCancel ClaimStatus = "cancelled" // its campaign was cancelled: now recorded cancelled
	CampaignPaused ClaimStatus = "paused"    // its campaign is paused: set aside for resume
	Busy           ClaimStatus = "busy"      // another run holds the lease (Wait tells how long)
)

// Claim is the answer of a claim (see ClaimIn).
type Claim struct {
	Status ClaimStatus
	// Attempts is the number of API calls made for this message so far.
	Attempts int
	// Ambiguous: an earlier run took the lease and never reported back (it
	// crashed mid-send), or its call went unanswered (MarkAmbiguous): the
	// message may have gone out already.
	Ambiguous bool
	// Wait is, when Busy, how long the other run's lease has left.
	Wait time.Duration
}

// ClaimIn queues on p the start of a send attempt of m by the run named
// token, to go in one round trip with other commands (the rate limiter's
// reservation, the session lookup); call the returned function after p.Exec
// for the answer. The claim checks that the message is unfinished and its
// campaign neither paused nor cancelled, and takes a lease for lease. A
// message of a paused campaign is set aside in the campaign's held set, in
// enqueue order, for its resume to release.
func (s *Store) ClaimIn(ctx context.Context, p redis.Pipeliner, m *tasks.Message, token string, lease time.Duration, now time.Time) func() (Claim, error) {
	k, a := s.claimArgs(m, token, lease, now)
	answer := s.evalIn(ctx, p, claimScript, k, a)
	return func() (Claim, error) { return parseClaim(m, answer()) }
}

// evalIn queues script on p by its SHA and returns what gives its answer
// after p.Exec: when Redis has no such script (it restarted since the
// script was last loaded), the script runs again on its own, loading it.
func (s *Store) evalIn(ctx context.Context, p redis.Pipeliner, script *redis.Script, k []string, a []any) func() *redis.Cmd {
	cmd := script.EvalSha(ctx, p, k, a...)
	return func() *redis.Cmd {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			return script.Run(ctx, s.rdb, k, a...)
		}
		return cmd
	}
}

func (s *Store) claimArgs(m *tasks.Message, token string, lease time.Duration, now time.Time) ([]string, []any) {
	k, a := s.common(m, now)
	held := keys.Account(m.Account).Outcome(m.ID)
	if m.Campaign != "" {
		held = keys.Account(m.Account).CampaignHeld(m.Campaign)
	}
	k = append(k, s.inflightKey(m), held)
	a = append(a, token, lease.Milliseconds(), order(m), s.unfinishedTTL(), member(m))
	return k, append(a, recordFields(m)...)
}

func parseClaim(m *tasks.Message, cmd *redis.Cmd) (Claim, error) {
	res, err := cmd.Slice()
	if err != nil {
		return Claim{}, fmt.Errorf("outcome: claim %s: %w", m.ID, err)
	}
	return Claim{
		Status:    ClaimStatus(res[0].(string)),
		Attempts:  int(res[1].(int64)),
		Ambiguous: res[2].(int64) == 1,
		Wait:      time.Duration(res[3].(int64)) * time.Millisecond,
	}, nil
}

// MarkAmbiguous notes that a send of the message may have gone out without
// an answer: the next claim reports it Ambiguous, so that the next run
// checks before sending again.
func (s *Store) MarkAmbiguous(ctx context.Context, m *tasks.Message) error {
	if err := s.rdb.HSet(ctx, keys.Account(m.Account).Outcome(m.ID), "amb", 1).Err(); err != nil {
		return fmt.Errorf("outcome: mark ambiguous %s: %w", m.ID, err)
	}
	return nil
}
