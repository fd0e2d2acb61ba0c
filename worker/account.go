package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/sendq/sendq/compliance"
	"github.com/sendq/sendq/internal/keys"
	"github.com/sendq/sendq/ratelimit"
	"github.com/sendq/sendq/tasks"
)

// Account is one Whautomate account a Worker sends for. Its budget,
// cool-downs and holds are its own, shared by every worker process of the
// deployment, and its keys carry its own hash tag (README "Accounts").
type Account struct {
	// ID names the account (1-64 of a-z, 0-9, _ and -); messages name it in
	// their Account field.
	ID string
	// API sends the account's messages with its key (required).
	API API
	// Budget is the account's request budget: every API request made for it
	// (sends of every channel, look-ups of a contact's messages) takes a
	// slot, spread evenly; channel limits and recipient paces apply inside
	// it. Whautomate allows 300 a minute (60 on a trial account). The zero
	// Limit means none.
	Budget ratelimit.Limit
	// Limits per channel; a channel missing from the map has no limit.
	// Defaults to DefaultLimits when nil.
	Limits map[tasks.Channel]ratelimit.Limit
	// RecipientLimits per channel. Defaults to DefaultRecipientLimits when
	// nil.
	RecipientLimits map[tasks.Channel]ratelimit.Limit
	// QuietHours is when the account's marketing templates wait, in the
	// recipient's local time (README "Compliance"). The zero value is none.
	QuietHours compliance.QuietHours
	// Timezone is the zone of recipients whose phone number tells none
	// (contact and client ids). Defaults to UTC.
	Timezone *time.Location
	// MessagingLimit is the account's WhatsApp messaging limit: the unique
	// recipients its conversation-opening templates may reach in any
	// rolling 24 hours. 0 is unlimited.
	MessagingLimit int
}

// account is an Account as the chain uses it: its limits spaced and its
// gates made.
type account struct {
	id     string
	api    API
	budget ratelimit.Limit                   // Budget, spaced
	limits map[tasks.Channel]ratelimit.Limit // Limits, spaced
	paces  map[tasks.Channel]ratelimit.Limit // RecipientLimits, spaced
	// gates bound the slots a process holds at once (see gate): with a
	// budget, one gate for all the account's channels, since the budget
	// binds them together; without, one per limited channel.
	gates map[tasks.Channel]*gate

	quiet    compliance.QuietHours
	timezone *time.Location
	msgLimit int // 0: unlimited
	space    keys.Space
}

// newAccount checks a and makes its chain's view.
func newAccount(a Account, concurrency int) (*account, error) {
	if !tasks.ValidAccountID(a.ID) {
		return nil, fmt.Errorf("worker: account id %q: want 1-64 of a-z, 0-9, _ and -", a.ID)
	}
	if a.API == nil {
		return nil, fmt.Errorf("worker: account %s: API is required", a.ID)
	}
	if a.Limits == nil {
		a.Limits = DefaultLimits
	}
	if a.RecipientLimits == nil {
		a.RecipientLimits = DefaultRecipientLimits
	}
	if a.MessagingLimit < 0 {
		return nil, fmt.Errorf("worker: account %s: negative MessagingLimit", a.ID)
	}
	if a.Timezone == nil {
		a.Timezone = time.UTC
	}
	ac := &account{id: a.ID, api: a.API, budget: space(a.Budget), limits: spaced(a.Limits), paces: spaced(a.RecipientLimits),
		quiet: a.QuietHours, timezone: a.Timezone, msgLimit: a.MessagingLimit, space: keys.Account(a.ID)}
	if ac.budget.IsZero() {
		ac.gates = newGates(ac.limits, concurrency)
		return ac, nil
	}
	g := newGate(ac.budget, concurrency)
	ac.gates = map[tasks.Channel]*gate{}
	for _, ch := range tasks.Channels {
		ac.gates[ch] = g
	}
	return ac, nil
}

// accounts returns the worker's accounts by id, made from cfg.Accounts or,
// without them, the one account of cfg's Account, API, Budget and limits.
func (cfg Config) accounts() (map[string]*account, error) {
	list := cfg.Accounts
	if len(list) == 0 {
		if cfg.API == nil {
			return nil, errors.New("worker: Config.API or Config.Accounts is required")
		}
		list = []Account{{ID: cfg.Account, API: cfg.API, Budget: cfg.Budget, Limits: cfg.Limits, RecipientLimits: cfg.RecipientLimits}}
	}
	byID := make(map[string]*account, len(list))
	for _, a := range list {
		if _, dup := byID[a.ID]; dup {
			return nil, fmt.Errorf("worker: account %s given twice", a.ID)
		}
		ac, err := newAccount(a, cfg.Concurrency)
		if err != nil {
			return nil, err
		}
		byID[a.ID] = ac
	}
	return byID, nil
}

// account returns the account a message names: by id, or for a message
// without one (accepted by a version before accounts), the default
// account, or the only one. nil: this worker does not send for it.
func (w *Worker) account(id string) *account {
	if id == "" {
		if a, ok := w.accts[keys.DefaultAccount]; ok {
			return a
		}
		if len(w.accts) == 1 {
			for _, a := range w.accts {
				return a
			}
		}
		return nil
	}
	return w.accts[id]
}
