package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/sendq/sendq/accounts"
)

// scope is what a request's token reaches: every account, or one.
type scope struct {
	all     bool
	account string // when !all
}

// reaches reports whether the token may see the account's messages and
// campaigns.
func (s scope) reaches(account string) bool { return s.all || s.account == account }

// reached lists the accounts sc reaches, in the configured order.
func (s *Server) reached(sc scope) []string {
	if sc.all {
		return s.cfg.Accounts.IDs()
	}
	return []string{sc.account}
}

// tokens holds the API's bearer tokens as SHA-256 digests: comparing digests
// in constant time neither leaks a token's length nor keeps it in memory in
// the clear longer than needed.
type tokens struct {
	global   [sha256.Size]byte
	hasAll   bool
	accounts []accountToken
}

type accountToken struct {
	id     string
	digest [sha256.Size]byte
}

func newTokens(global string, set *accounts.Set) tokens {
	t := tokens{}
	if global != "" {
		t.global, t.hasAll = sha256.Sum256([]byte(global)), true
	}
	for _, a := range set.All() {
		if a.APIToken != "" {
			t.accounts = append(t.accounts, accountToken{id: a.ID, digest: sha256.Sum256([]byte(a.APIToken))})
		}
	}
	return t
}

func (t tokens) none() bool { return !t.hasAll && len(t.accounts) == 0 }

// match returns the scope of the presented token. Every configured token is
// compared, whichever matches, so the time taken does not tell which.
func (t tokens) match(presented string) (scope, bool) {
	d := sha256.Sum256([]byte(presented))
	var s scope
	found := 0
	if t.hasAll && subtle.ConstantTimeCompare(d[:], t.global[:]) == 1 {
		s.all, found = true, 1
	}
	for _, a := range t.accounts {
		if subtle.ConstantTimeCompare(d[:], a.digest[:]) == 1 && found == 0 {
			s.account, found = a.id, 1
		}
	}
	return s, found == 1
}

type scopeKey struct{}

// authenticate passes requests with a known bearer token to h, with their
// scope in the context, and answers 401 to the others. It never logs or
// echoes the token.
func (s *Server) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if s.tokens.none() {
			writeProblem(rw, &Problem{Type: typeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized,
				Detail: "no API token is configured: set SENDQ_API_TOKEN or an account's api_token_env"})
			return
		}
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || token == "" {
			writeProblem(rw, &Problem{Type: typeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized,
				Detail: "Authorization: want Bearer <token>"})
			return
		}
		sc, ok := s.tokens.match(strings.TrimSpace(token))
		if !ok {
			writeProblem(rw, &Problem{Type: typeUnauthorized, Title: "Unauthorized", Status: http.StatusUnauthorized,
				Detail: "Authorization: the token is not valid"})
			return
		}
		h.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), scopeKey{}, sc)))
	})
}

func scopeOf(r *http.Request) scope {
	sc, _ := r.Context().Value(scopeKey{}).(scope)
	return sc
}

// accountFor returns the account a request acts as: the one it names, or,
// when it names none, the token's own account or the only one configured.
// field names where the request named it ("account", "messages[3].account").
func (s *Server) accountFor(sc scope, named, field string) (string, *Problem) {
	if named == "" {
		switch {
		case !sc.all:
			return sc.account, nil
		case s.accounts.Len() == 1:
			a, _ := s.accounts.Only()
			return a.ID, nil
		}
		return "", invalid(field, fmt.Sprintf("required: %d accounts are configured (%s)", s.accounts.Len(), s.accounts))
	}
	if !sc.all {
		if named != sc.account {
			return "", forbidden(field, fmt.Sprintf("the token is account %s's and cannot act as %q", sc.account, named))
		}
		return named, nil
	}
	if _, ok := s.accounts.Get(named); !ok {
		return "", invalid(field, fmt.Sprintf("unknown account %q", named))
	}
	return named, nil
}

// visible returns the accounts the scope reaches, in the configured order.
func (s *Server) visible(sc scope) []string {
	if sc.all {
		return s.accounts.IDs()
	}
	return []string{sc.account}
}
