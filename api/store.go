package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

// NewStoreBackend returns the Backend of sendq's own stores on rdb, for the
// accounts of set: the producer, the outcome store's event streams, and a
// Whautomate client of each account, made by client when first needed.
// sendq worker and sendq dashboard serve the API on it.
func NewStoreBackend(rdb redis.UniversalClient, set *accounts.Set, client func(accounts.Account) (*whautomate.Client, error)) (*StoreBackend, error) {
	p, err := producer.New(producer.Config{Redis: rdb, Accounts: set})
	if err != nil {
		return nil, err
	}
	outcomes, err := outcome.New(rdb, outcome.Config{})
	if err != nil {
		return nil, err
	}
	return &StoreBackend{p: p, outcomes: outcomes, accounts: set, newClient: client, clients: map[string]*whautomate.Client{}}, nil
}

// StoreBackend is sendq as the HTTP API sees it (see NewStoreBackend).
type StoreBackend struct {
	p         *producer.Producer
	outcomes  *outcome.Store
	accounts  *accounts.Set
	newClient func(accounts.Account) (*whautomate.Client, error)

	mu      sync.Mutex
	clients map[string]*whautomate.Client
}

var _ Backend = (*StoreBackend)(nil)

// Producer is the backend's producer (for a caller that also enqueues in
// process, next to the API).
func (b *StoreBackend) Producer() *producer.Producer { return b.p }

func (b *StoreBackend) Send(ctx context.Context, account string, m tasks.Message) (producer.Receipt, error) {
	m.Account = account
	return b.p.Send(ctx, m)
}

func (b *StoreBackend) Status(ctx context.Context, accts []string, id string) (*producer.Outcome, string, error) {
	rec, err := b.outcomes.Find(ctx, accts, id)
	if err != nil {
		return nil, "", err
	}
	return rec, rec.Account, nil
}

func (b *StoreBackend) ContactMessages(ctx context.Context, account, contactID string, page, limit int) (*whautomate.MessagePage, error) {
	c, err := b.client(account)
	if err != nil {
		return nil, err
	}
	return c.Messages(ctx, contactID, page, limit)
}

// client is the account's Whautomate client, made once.
func (b *StoreBackend) client(account string) (*whautomate.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.clients[account]; ok {
		return c, nil
	}
	acc, ok := b.accounts.Get(account)
	if !ok {
		return nil, &tasks.ValidationError{Field: "account", Reason: fmt.Sprintf("unknown account %q", account)}
	}
	c, err := b.newClient(acc)
	if err != nil {
		return nil, err
	}
	b.clients[account] = c
	return c, nil
}

func (b *StoreBackend) StartCampaign(ctx context.Context, account string, req CampaignRequest, body io.Reader) (CampaignStart, error) {
	st := CampaignStart{ID: req.ID}
	// The body is stored as it is read, never held whole.
	rows := func(emit func(producer.Row) error) error {
		return producer.ScanCampaign(body, req.JSONLines, req.Defaults,
			func(r producer.Row) error {
				r.Message.NotBefore = req.At
				return emit(r)
			},
			func(e producer.RowError) { st.Rejected = append(st.Rejected, e) })
	}
	rep, err := b.p.StartCampaignFrom(ctx, req.ID, rows, producer.StartOptions{WaitLock: 15 * time.Second, Account: account})
	st.Accepted, st.Duplicates = rep.Accepted, rep.Duplicates
	return st, err
}

func (b *StoreBackend) Campaign(ctx context.Context, id string) (*producer.Campaign, string, error) {
	c, err := b.p.CampaignStatus(ctx, id)
	if err != nil {
		return nil, "", err
	}
	return c, c.Account, nil
}

func (b *StoreBackend) PauseCampaign(ctx context.Context, id string) error {
	return b.p.PauseCampaign(ctx, id)
}

func (b *StoreBackend) ResumeCampaign(ctx context.Context, id string) error {
	return b.p.ResumeCampaign(ctx, id)
}

func (b *StoreBackend) CancelCampaign(ctx context.Context, id string) error {
	return b.p.CancelCampaign(ctx, id)
}

// eventBatch is how many events one read of the streams returns at most.
const eventBatch = 500

// Events reads the accounts' event streams after cursor: the position on
// each account's stream (see encodeCursor). An empty cursor starts from
// now.
func (b *StoreBackend) Events(ctx context.Context, accts []string, cursor string, block time.Duration) ([]Event, string, error) {
	if cursor == "" {
		last, err := b.outcomes.LastEventIDs(ctx, accts)
		return nil, encodeCursor(last), err
	}
	pos, err := decodeCursor(cursor, accts)
	if err != nil {
		return nil, cursor, err
	}
	if missing := missingAccounts(pos, accts); len(missing) > 0 {
		// An account added since the cursor was made starts from now.
		last, err := b.outcomes.LastEventIDs(ctx, missing)
		if err != nil {
			return nil, cursor, err
		}
		maps.Copy(pos, last)
	}
	evs, err := b.outcomes.EventsAfter(ctx, pos, block, eventBatch)
	if errors.Is(err, outcome.ErrEventID) {
		return nil, cursor, fmt.Errorf("%w: %v", ErrCursor, err)
	}
	if err != nil || len(evs) == 0 {
		return nil, encodeCursor(pos), err
	}
	return outcomeEvents(ctx, b.outcomes, evs, pos)
}

// outcomeEvents turns stream events into the API's: each with its message's
// record as the event left it, its account, and the cursor just after it.
// Events whose record is gone are skipped; the cursor moves past them all
// the same.
func outcomeEvents(ctx context.Context, store *outcome.Store, evs []outcome.Event, pos map[string]string) ([]Event, string, error) {
	recs := map[outcome.Event]*outcome.Record{}
	byAccount := map[string][]outcome.Event{}
	for _, e := range evs {
		byAccount[e.Account] = append(byAccount[e.Account], e)
	}
	for account, list := range byAccount {
		ids := make([]string, len(list))
		for i, e := range list {
			ids[i] = e.MessageID
		}
		got, err := store.GetMany(ctx, account, ids)
		if err != nil {
			return nil, "", err
		}
		for i, e := range list {
			recs[e] = got[i]
		}
	}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		pos[e.Account] = e.ID
		if e.MessageID == "" || recs[e] == nil {
			continue
		}
		rec := *recs[e]
		rec.State, rec.UpdatedAt = e.State, e.At
		out = append(out, Event{Cursor: encodeCursor(pos), Account: e.Account, Outcome: rec})
	}
	return out, encodeCursor(pos), nil
}

// encodeCursor writes the positions on the accounts' streams as an SSE id:
// "account=id" pairs, sorted, comma-separated.
func encodeCursor(pos map[string]string) string {
	accts := slices.Sorted(maps.Keys(pos))
	var b strings.Builder
	for i, a := range accts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a + "=" + pos[a])
	}
	return b.String()
}

// decodeCursor reads encodeCursor's positions, keeping those of accts; a
// cursor that is not one wraps ErrCursor.
func decodeCursor(cursor string, accts []string) (map[string]string, error) {
	pos := map[string]string{}
	for _, pair := range strings.Split(cursor, ",") {
		a, id, ok := strings.Cut(pair, "=")
		if !ok || !tasks.ValidAccountID(a) || id == "" {
			return nil, fmt.Errorf("%w: %q", ErrCursor, cursor)
		}
		if slices.Contains(accts, a) {
			pos[a] = id
		}
	}
	return pos, nil
}

// missingAccounts are the accounts of accts without a position in pos.
func missingAccounts(pos map[string]string, accts []string) []string {
	var missing []string
	for _, a := range accts {
		if _, ok := pos[a]; !ok {
			missing = append(missing, a)
		}
	}
	return missing
}
