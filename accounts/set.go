package accounts

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Set is the configured accounts, in the order configured, each id once.
// A Set is read-only once made and safe for concurrent use.
type Set struct {
	list  []Account
	index map[string]int
	// fromEnv is set for the Set of FromEnv, whose missing key is
	// WHAUTOMATE_API_KEY's.
	fromEnv bool
}

// NewSet makes a Set of the given accounts, such as a demo's or a test's. It
// refuses an empty list, an invalid id and a repeated one, with a
// *ConfigError.
func NewSet(accounts ...Account) (*Set, error) {
	s := &Set{list: make([]Account, 0, len(accounts)), index: make(map[string]int, len(accounts))}
	if len(accounts) == 0 {
		return nil, &ConfigError{Field: "accounts", Msg: "empty: want at least one account"}
	}
	for _, a := range accounts {
		if err := s.add(a); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// add appends a, refusing an invalid or repeated id; the error names the
// entry by its place, "accounts[N]".
func (s *Set) add(a Account) error {
	place := fmt.Sprintf("accounts[%d]", len(s.list))
	if !ValidID(a.ID) {
		return &ConfigError{Account: place, Field: "id", Msg: fmt.Sprintf("want 1-64 of a-z 0-9 _ -, got %q", a.ID)}
	}
	if i, ok := s.index[a.ID]; ok {
		return &ConfigError{Account: place, Field: "id", Msg: fmt.Sprintf("%q repeats the id of accounts[%d]", a.ID, i)}
	}
	s.index[a.ID] = len(s.list)
	s.list = append(s.list, a)
	return nil
}

// Len is the number of accounts.
func (s *Set) Len() int { return len(s.list) }

// All returns the accounts in the order configured.
func (s *Set) All() []Account { return append([]Account(nil), s.list...) }

// IDs returns the accounts' ids in the order configured.
func (s Set) IDs() []string {
	ids := make([]string, len(s.list))
	for i, a := range s.list {
		ids[i] = a.ID
	}
	return ids
}

// Get returns the account with the given id.
func (s *Set) Get(id string) (Account, bool) {
	i, ok := s.index[id]
	if !ok {
		return Account{}, false
	}
	return s.list[i], true
}

// Only returns the one account when exactly one is configured.
func (s *Set) Only() (Account, bool) {
	if len(s.list) != 1 {
		return Account{}, false
	}
	return s.list[0], true
}

// Pick returns the account a command or message names: the one with the
// given id, or for "" the only one. Its errors wrap ErrUnknownAccount and
// ErrAccountRequired.
func (s *Set) Pick(id string) (Account, error) {
	if id == "" {
		if a, ok := s.Only(); ok {
			return a, nil
		}
		return Account{}, fmt.Errorf("%w (%d are)", ErrAccountRequired, len(s.list))
	}
	if a, ok := s.Get(id); ok {
		return a, nil
	}
	return Account{}, fmt.Errorf("%w %q", ErrUnknownAccount, id)
}

// RequireKeys returns a *ConfigError wrapping ErrNoKey for the first
// account without an API key, for the commands that call the API. For the
// environment's account it reads "WHAUTOMATE_API_KEY: required", to which a
// command may add " by sendq worker" (fmt.Errorf("%w by sendq worker")).
func (s *Set) RequireKeys() error {
	for _, a := range s.list {
		if a.APIKey != "" {
			continue
		}
		if s.fromEnv {
			return &ConfigError{Field: "WHAUTOMATE_API_KEY", Msg: "required", Err: ErrNoKey}
		}
		return &ConfigError{Account: a.ID, Field: "api_key", Msg: "required", Err: ErrNoKey}
	}
	return nil
}

// String lists the accounts' ids, comma-separated.
func (s Set) String() string { return strings.Join(s.IDs(), ", ") }

// LogValue makes slog log the Set as its ids.
func (s Set) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Format prints String for every verb, so that no verb reaches the
// accounts' keys through the Set's fields.
func (s Set) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }
