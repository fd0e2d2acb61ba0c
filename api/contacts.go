package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sendq/sendq/whautomate"
)

// MaxPageSize is the largest page of a contact's messages.
const MaxPageSize = 100

// contactMessages answers one page of a contact's messages, read from
// Whautomate through the account's client.
func (s *Server) contactMessages(rw http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	contact := strings.TrimSpace(r.PathValue("contactId"))
	if contact == "" {
		return invalid("contactId", "required")
	}
	page, err := intParam(q.Get("page"), "page", 1, 1, 1_000_000)
	if err != nil {
		return err
	}
	limit, err := intParam(q.Get("limit"), "limit", 20, 1, MaxPageSize)
	if err != nil {
		return err
	}
	account, p := s.accountFor(scopeOf(r), q.Get("account"), "account")
	if p != nil {
		return p
	}
	res, err := s.backend.ContactMessages(r.Context(), account, contact, page, limit)
	var apiErr *whautomate.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		return notFound("contact " + quote(contact) + ": not found upstream")
	case errors.As(err, &apiErr):
		return &Problem{Type: typeUpstream, Title: "Upstream error", Status: http.StatusBadGateway,
			Detail: fmt.Sprintf("Whautomate answered %d: %s", apiErr.Status, apiErr.Message)}
	case err != nil:
		return err
	}
	msgs := res.Messages
	if msgs == nil {
		msgs = []whautomate.Message{}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"account": account, "contact_id": contact, "page": page,
		"limit": limit, "has_more": res.HasMore, "messages": msgs})
	return nil
}

// intParam reads a whole-number query parameter between lo and hi; "" is
// def.
func intParam(v, field string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalid(field, fmt.Sprintf("want a whole number from %d to %d", lo, hi))
	}
	return n, nil
}
