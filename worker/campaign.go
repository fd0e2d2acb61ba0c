package worker

import (
	"context"

	"github.com/sendq/sendq/internal/outcome"
)

// checkCampaign is the chain's campaign stage, on what the claim found: a
// message of a cancelled campaign is now recorded cancelled and goes no
// further; one of a paused campaign was set aside for its resume, and comes
// back after Recheck if nothing resumes it sooner.
func (j *job) checkCampaign() error {
	switch j.claimed.Status {
	case outcome.CampaignCancel:
		j.result = "cancelled"
		return errDone
	case outcome.CampaignPaused:
		j.result = "paused"
		return deferFor(j.w.cfg.Recheck, "campaign paused")
	}
	return nil
}

// campaignReady looks again at a campaign message's campaign when the last
// look (the claim's, then the wait's start) is older than the horizon, so
// that a pause stops it within a second as promised. waitForSlot asks it
// once the run is through its channel's gate, where most of a wait goes,
// and at the slot.
func (j *job) campaignReady(ctx context.Context) error {
	w, m := j.w, j.m
	if m.Campaign == "" || w.now().Sub(j.campaignAt) <= w.cfg.Horizon {
		return nil
	}
	j.campaignAt = w.now()
	st, err := w.records.CampaignStateOf(ctx, m.Account, m.Campaign)
	if err != nil {
		return j.release(ctx, err)
	}
	if st == outcome.CampaignRunning || st == "" {
		return nil
	}
	j.result = "paused"
	if err := j.giveBack(ctx); err != nil {
		return err
	}
	return deferFor(0, "campaign "+string(st)) // the next claim sets it aside
}
