package whautomatetest

import (
	"slices"
	"time"
)

// budgetWindow is the span of a budget: a sliding minute.
const budgetWindow = time.Minute

// KeyOptions configures the account of one key.
type KeyOptions struct {
	// Budget is the requests a minute the account may make: a request that
	// would make more than Budget arrive within the last 60 s answers 429.
	// 0 means no budget. Upstream documents 300 (60 on a trial account).
	Budget int
}

// account is one Whautomate account: its key, its budget and what the
// budget has counted in the last minute.
type account struct {
	index   int
	key     string // "" once SetAPIKey("") took the primary account's away
	budget  int
	revoked bool
	counted []time.Time // arrivals that took a slot, oldest first, within the last minute
}

// addKeys makes the accounts of opts: APIKey's first, then Keys in the
// order of their keys, so that indexes do not depend on map order.
func (s *Server) addKeys(opts Options) {
	key := opts.APIKey
	if key == "" && len(opts.Keys) == 0 {
		key = DefaultAPIKey
	}
	if key != "" {
		s.primary = s.addKey(key, s.primaryOpts)
	}
	keys := make([]string, 0, len(opts.Keys))
	for k := range opts.Keys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s.addKey(k, opts.Keys[k])
	}
}

// addKey adds key's account, or changes the options of a known key's.
// s.mu is held; key is not empty.
func (s *Server) addKey(key string, opts KeyOptions) *account {
	a := s.keys[key]
	if a == nil {
		a = &account{index: len(s.accounts), key: key}
		s.accounts = append(s.accounts, a)
		s.keys[key] = a
	}
	a.budget = max(opts.Budget, 0)
	return a
}

// AddKey adds an account with key and returns its index (see
// Request.Account). For a key the sandbox knows, it changes that account's
// options instead: what its budget counted in the last minute stays, and so
// does a revocation. The empty key is never accepted: AddKey("", …) returns
// -1.
func (s *Server) AddKey(key string, opts KeyOptions) int {
	if key == "" {
		return -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addKey(key, opts).index
}

// RevokeKey makes every request with key answer 403 until AcceptKey. It
// reports whether the sandbox knows key.
func (s *Server) RevokeKey(key string) bool { return s.setRevoked(key, true) }

// AcceptKey accepts a key revoked by RevokeKey again. It reports whether
// the sandbox knows key.
func (s *Server) AcceptKey(key string) bool { return s.setRevoked(key, false) }

func (s *Server) setRevoked(key string, revoked bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.keys[key]
	if a == nil {
		return false
	}
	a.revoked = revoked
	return true
}

// SetAPIKey gives the account of Options.APIKey a new key, as a rotation
// does: the old key answers 403 from now on, the new one is accepted, and
// the account keeps its index and its budget. "" leaves that account
// without a key. Other accounts are untouched (but a key one of them has
// passes to this account).
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.primary
	if p == nil {
		if key == "" {
			return
		}
		s.primary = s.addKey(key, s.primaryOpts)
		return
	}
	if p.key != "" {
		delete(s.keys, p.key)
	}
	p.key, p.revoked = key, false
	if key != "" {
		s.keys[key] = p
	}
}

// KeyIndex returns the index of key's account, as Request.Account names
// it, or -1 when the sandbox does not know key.
func (s *Server) KeyIndex(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.keys[key]; a != nil {
		return a.index
	}
	return -1
}

// take counts an arrival at at against the budget, if a slot is free in
// the minute up to at, and reports whether it was.
func (a *account) take(at time.Time) bool {
	if a.budget == 0 {
		return true
	}
	gone := 0
	for gone < len(a.counted) && at.Sub(a.counted[gone]) >= budgetWindow {
		gone++
	}
	a.counted = a.counted[gone:]
	if len(a.counted) >= a.budget {
		return false
	}
	a.counted = append(a.counted, at)
	return true
}
