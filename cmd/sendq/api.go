package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/api"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

// newAPI is the HTTP API (README "HTTP API") on rdb for the configured
// accounts, with the token that reaches all of them.
func newAPI(rdb redis.UniversalClient, set *accounts.Set, token string, log *slog.Logger) (*api.Server, error) {
	p, err := producer.New(producer.Config{Redis: rdb})
	if err != nil {
		return nil, err
	}
	outcomes, err := outcome.New(rdb, outcome.Config{})
	if err != nil {
		return nil, err
	}
	b := &apiBackend{p: p, outcomes: outcomes, accounts: set, clients: map[string]*whautomate.Client{}}
	return api.New(api.Config{Backend: b, Accounts: set, Token: token, Logger: log})
}

// apiBackend is sendq as the HTTP API sees it: the producer, the outcome
// store's event stream, and each account's Whautomate client.
//
// Until messages, records and campaigns carry their account, every message
// and campaign belongs to the deployment's one account (owner); with
// several accounts configured none is known, and only SENDQ_API_TOKEN
// reaches them.
type apiBackend struct {
	p        *producer.Producer
	outcomes *outcome.Store
	accounts *accounts.Set

	mu      sync.Mutex
	clients map[string]*whautomate.Client
}

var _ api.Backend = (*apiBackend)(nil)

// owner is the account of every record: the only one configured.
func (b *apiBackend) owner() string {
	if a, ok := b.accounts.Only(); ok {
		return a.ID
	}
	return ""
}

func (b *apiBackend) Send(ctx context.Context, account string, m tasks.Message) (producer.Receipt, error) {
	if account != b.owner() {
		return producer.Receipt{}, &tasks.ValidationError{Field: "account", Reason: "this version of sendq sends for one account per deployment"}
	}
	return b.p.Send(ctx, m)
}

func (b *apiBackend) Status(ctx context.Context, id string) (*producer.Outcome, string, error) {
	rec, err := b.p.Status(ctx, id)
	return rec, b.owner(), err
}

func (b *apiBackend) ContactMessages(ctx context.Context, account, contactID string, page, limit int) (*whautomate.MessagePage, error) {
	c, err := b.client(account)
	if err != nil {
		return nil, err
	}
	return c.Messages(ctx, contactID, page, limit)
}

// client is the account's Whautomate client, made once.
func (b *apiBackend) client(account string) (*whautomate.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.clients[account]; ok {
		return c, nil
	}
	acc, ok := b.accounts.Get(account)
	if !ok {
		return nil, &tasks.ValidationError{Field: "account", Reason: fmt.Sprintf("unknown account %q", account)}
	}
	c, err := apiClient(acc)
	if err != nil {
		return nil, err
	}
	b.clients[account] = c
	return c, nil
}

func (b *apiBackend) StartCampaign(ctx context.Context, account string, req api.CampaignRequest, body io.Reader) (api.CampaignStart, error) {
	st := api.CampaignStart{ID: req.ID}
	if account != b.owner() {
		return st, &tasks.ValidationError{Field: "account", Reason: "this version of sendq sends for one account per deployment"}
	}
	rows, bad, err := producer.ReadCampaign(body, req.JSONLines, req.Defaults)
	st.Rejected = bad
	if err != nil || len(rows) == 0 {
		return st, err
	}
	msgs := make([]tasks.Message, len(rows))
	for i, r := range rows {
		msgs[i] = r.Message
		msgs[i].NotBefore = req.At
	}
	rep, err := b.p.StartCampaign(ctx, req.ID, msgs, producer.StartOptions{WaitLock: 15 * time.Second})
	st.Accepted, st.Duplicates = rep.Accepted, rep.Duplicates
	return st, err
}

func (b *apiBackend) Campaign(ctx context.Context, id string) (*producer.Campaign, string, error) {
	c, err := b.p.CampaignStatus(ctx, id)
	return c, b.owner(), err
}

func (b *apiBackend) PauseCampaign(ctx context.Context, id string) error {
	return b.p.PauseCampaign(ctx, id)
}

func (b *apiBackend) ResumeCampaign(ctx context.Context, id string) error {
	return b.p.ResumeCampaign(ctx, id)
}

func (b *apiBackend) CancelCampaign(ctx context.Context, id string) error {
	return b.p.CancelCampaign(ctx, id)
}

// eventBatch is how many events one read of the stream returns at most.
const eventBatch = 500

func (b *apiBackend) Events(ctx context.Context, accts []string, cursor string, block time.Duration) ([]api.Event, string, error) {
	if cursor == "" {
		id, err := b.outcomes.LastEventID(ctx)
		return nil, id, err
	}
	evs, err := b.outcomes.EventsAfter(ctx, cursor, block, eventBatch)
	if errors.Is(err, outcome.ErrEventID) {
		return nil, cursor, fmt.Errorf("%w: %v", api.ErrCursor, err)
	}
	if err != nil || len(evs) == 0 {
		return nil, cursor, err
	}
	next := evs[len(evs)-1].ID
	owner := b.owner()
	if !slices.Contains(accts, owner) {
		return nil, next, nil
	}
	return outcomeEvents(ctx, b.outcomes, evs, func(string) string { return owner })
}

// outcomeEvents turns stream events into the API's: each with its message's
// record as the event left it, and its account. Events whose record is gone
// are skipped; the cursor moves past them all the same.
func outcomeEvents(ctx context.Context, store *outcome.Store, evs []outcome.Event, accountOf func(id string) string) ([]api.Event, string, error) {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.MessageID
	}
	recs, err := store.GetMany(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	out := make([]api.Event, 0, len(evs))
	for i, e := range evs {
		if e.MessageID == "" || recs[i] == nil {
			continue
		}
		rec := *recs[i]
		rec.State, rec.UpdatedAt = e.State, e.At
		out = append(out, api.Event{Cursor: e.ID, Account: accountOf(e.MessageID), Outcome: rec})
	}
	return out, evs[len(evs)-1].ID, nil
}
