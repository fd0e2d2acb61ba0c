package whautomatetest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

const (
	defaultLimit = 20
	maxLimit     = 100
)

// serveMessages serves GET /v1/messages/{contactId}.
func (s *Server) serveMessages(w *recorder, r *http.Request, received time.Time, rawID string) {
	id, err := url.PathUnescape(rawID)
	if err != nil {
		id = rawID
	}
	if s.prelude(w, r, s.arrive(w, r, visit{path: r.URL.Path, recipient: id, received: received})) {
		return
	}
	q := r.URL.Query()
	page, ok := intParam(q.Get("page"), 1)
	if !ok {
		writeError(w, http.StatusBadRequest, "page must be a whole number from 1", invalidCode)
		return
	}
	limit, ok := intParam(q.Get("limit"), defaultLimit)
	if !ok {
		writeError(w, http.StatusBadRequest, "limit must be a whole number from 1", invalidCode)
		return
	}
	limit = min(limit, maxLimit)

	s.mu.Lock()
	var all []wireMessage
	if c := s.contacts[id]; c != nil {
		all = make([]wireMessage, 0, len(c.msgs))
		// Newest first: latest timestamp first, later arrivals first on a tie.
		order := make([]int, len(c.msgs))
		for i := range order {
			order[i] = len(c.msgs) - 1 - i
		}
		slices.SortStableFunc(order, func(x, y int) int { return c.msgs[y].at.Compare(c.msgs[x].at) })
		for _, i := range order {
			all = append(all, wire(c, c.msgs[i]))
		}
	}
	s.mu.Unlock()

	data := []wireMessage{}
	if start := (page - 1) * limit; start < len(all) && start >= 0 {
		data = all[start:min(start+limit, len(all))]
	}
	writeJSON(w, http.StatusOK, struct {
		Data  []wireMessage `json:"data"`
		Page  int           `json:"page"`
		Limit int           `json:"limit"`
		Total int           `json:"total"`
	}{data, page, limit, len(all)})
}

// intParam reads a positive whole number, def when absent.
func intParam(s string, def int) (int, bool) {
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, false
	}
	return n, true
}
