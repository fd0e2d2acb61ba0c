package api

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

// Backend is what the API needs of sendq. Every method that reads or acts on
// a message or a campaign says which account it belongs to, so that the API
// can keep each token to its accounts.
//
// Errors the API branches on: producer.ErrNotFound (wrapped) for an unknown
// message or campaign, a *tasks.ValidationError for invalid input,
// producer.ErrCampaignBusy and producer.ErrCampaignCancelled, ErrCursor for
// an event cursor that is not one, and a *whautomate.APIError from the
// upstream.
type Backend interface {
	// Send validates m and enqueues it for account (see producer.Send).
	Send(ctx context.Context, account string, m tasks.Message) (producer.Receipt, error)
	// Status returns the outcome of message id in the first of accounts
	// that has one (message ids are an account's own), and that account.
	Status(ctx context.Context, accounts []string, id string) (*producer.Outcome, string, error)
	// ContactMessages returns one page of a contact's messages through the
	// account's Whautomate client (GET /v1/messages/{contactId}).
	ContactMessages(ctx context.Context, account, contactID string, page, limit int) (*whautomate.MessagePage, error)
	// StartCampaign reads a campaign file from body — CSV with a header row,
	// or JSON Lines — as it arrives, and starts the campaign for account
	// (see producer.ReadCampaign and producer.StartCampaign).
	StartCampaign(ctx context.Context, account string, req CampaignRequest, body io.Reader) (CampaignStart, error)
	// Campaign returns a campaign's report and the account it belongs to.
	Campaign(ctx context.Context, id string) (*producer.Campaign, string, error)
	// PauseCampaign, ResumeCampaign and CancelCampaign return once the
	// change holds for every worker (see producer).
	PauseCampaign(ctx context.Context, id string) error
	ResumeCampaign(ctx context.Context, id string) error
	CancelCampaign(ctx context.Context, id string) error
	// Events returns the outcome changes of the given accounts after cursor,
	// oldest first, waiting up to block for the first one, and the cursor
	// after the last event returned (or after the events it skipped). An
	// empty cursor means now: no events, and the cursor of the stream's end.
	Events(ctx context.Context, accounts []string, cursor string, block time.Duration) ([]Event, string, error)
}

// Event is one outcome change.
type Event struct {
	// Cursor is the position just after this event: resuming from it gives
	// the events that follow. It is the SSE id.
	Cursor  string
	Account string
	// Outcome is the message's outcome as this change left it.
	Outcome producer.Outcome
}

// ErrCursor is returned (wrapped) by Backend.Events for a cursor it did not
// make.
var ErrCursor = errors.New("not an event id of this stream")

// CampaignRequest is a campaign upload's query: the campaign's id and what
// its rows do not say.
type CampaignRequest struct {
	ID string
	// Defaults are the message fields of every row that does not say.
	Defaults producer.Fields
	// Category is the messages' template category (marketing, utility or
	// authentication); empty means the campaign default, marketing.
	Category string
	// At, when set, sends no message before it.
	At time.Time
	// JSONLines: the body is JSON Lines, not CSV.
	JSONLines bool
}

// CampaignStart is what a campaign upload did.
type CampaignStart struct {
	ID         string
	Accepted   int
	Duplicates int
	// Rejected are the rows that were not valid, with their lines.
	Rejected []producer.RowError
}
