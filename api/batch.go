package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/sendq/sendq/tasks"
)

// batchBody is a batch request: the messages stay raw until the count is
// checked, so that an oversized batch is refused before any is decoded.
type batchBody struct {
	Messages []json.RawMessage `json:"messages"`
}

// BatchResult is one message's answer in a batch: its receipt, or the
// problem that refused it.
type BatchResult struct {
	*Receipt
	Error *Problem `json:"error,omitempty"`
}

// postBatch enqueues up to MaxBatch messages, each on its own: the valid
// ones are enqueued even when others are not; the answer lists every one's
// result in order.
func (s *Server) postBatch(rw http.ResponseWriter, r *http.Request) error {
	if _, p := requireType(r, "application/json"); p != nil {
		return p
	}
	data, err := readBody(rw, r, s.cfg.MaxBatchBytes)
	if err != nil {
		return err
	}
	var b batchBody
	if err := decodeStrict(data, &b); err != nil {
		return err
	}
	switch {
	case b.Messages == nil:
		return invalid("messages", "required: an array of 1 to 1000 messages")
	case len(b.Messages) == 0 || len(b.Messages) > MaxBatch:
		return invalid("messages", fmt.Sprintf("want 1 to %d messages, got %d", MaxBatch, len(b.Messages)))
	}
	sc := scopeOf(r)
	results := make([]BatchResult, len(b.Messages))
	todo := make([]batchItem, 0, len(b.Messages))
	// A message whose id stands earlier in the batch goes after the first
	// one is enqueued, so that the first is the one accepted.
	var later []batchItem
	seen := make(map[string]bool, len(b.Messages))
	for i, raw := range b.Messages {
		prefix := fmt.Sprintf("messages[%d].", i)
		body, m, err := DecodeMessage(raw)
		if err != nil {
			results[i].Error = prefixed(asProblem(err), prefix)
			continue
		}
		account, p := s.accountFor(sc, body.Account, "account")
		if p != nil {
			results[i].Error = prefixed(p, prefix)
			continue
		}
		if m.ID != "" && seen[m.ID] {
			later = append(later, batchItem{i, account, m})
			continue
		}
		seen[m.ID] = m.ID != ""
		todo = append(todo, batchItem{i, account, m})
	}

	s.sendAll(r, todo, results)
	s.sendAll(r, later, results)
	writeJSON(rw, http.StatusOK, map[string]any{"results": results})
	return nil
}

// batchItem is a valid message of a batch, at index i.
type batchItem struct {
	i       int
	account string
	m       tasks.Message
}

// sendAll enqueues items, BatchWorkers at a time, and writes each one's
// result at its index.
func (s *Server) sendAll(r *http.Request, items []batchItem, results []BatchResult) {
	work := make(chan batchItem)
	var wg sync.WaitGroup
	for range min(s.cfg.BatchWorkers, len(items)) {
		wg.Go(func() {
			for it := range work {
				rc, err := s.send(r, it.account, it.m)
				if err != nil {
					p := asProblem(err)
					if p.Status >= 500 {
						s.log.Error("api: batch message failed", "message_id", it.m.ID, "err", err)
					}
					results[it.i].Error = prefixed(p, fmt.Sprintf("messages[%d].", it.i))
					continue
				}
				results[it.i].Receipt = &rc
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
}

// prefixed names p's fields as fields of a batch's message.
func prefixed(p *Problem, prefix string) *Problem {
	q := *p
	q.Errors = make([]FieldError, len(p.Errors))
	for i, e := range p.Errors {
		e.Field = prefix + e.Field
		q.Errors[i] = e
	}
	if len(q.Errors) == 1 {
		q.Detail = q.Errors[0].Field + ": " + q.Errors[0].Message
	}
	return &q
}
