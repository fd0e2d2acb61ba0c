package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
)

// Receipt is the answer to an accepted message.
type Receipt struct {
	ID        string         `json:"id"`
	State     producer.State `json:"state"`
	Duplicate bool           `json:"duplicate"`
}

// postMessage enqueues one message: 202 when new, 200 for an id seen before.
func (s *Server) postMessage(rw http.ResponseWriter, r *http.Request) error {
	if _, p := requireType(r, "application/json"); p != nil {
		return p
	}
	data, err := readBody(rw, r, s.cfg.MaxMessageBytes)
	if err != nil {
		return err
	}
	body, m, err := DecodeMessage(data)
	if err != nil {
		return err
	}
	if m.ID == "" {
		if key := r.Header.Get("Idempotency-Key"); key != "" {
			m.ID = key
			if err := m.Validate(); err != nil {
				return renameField(err, "id", "Idempotency-Key")
			}
		}
	}
	account, p := s.accountFor(scopeOf(r), body.Account, "account")
	if p != nil {
		return p
	}
	rc, err := s.send(r, account, m)
	if err != nil {
		return err
	}
	rw.Header().Set("Location", messagePath(rc.ID))
	status := http.StatusAccepted
	if rc.Duplicate {
		status = http.StatusOK
	}
	writeJSON(rw, status, rc)
	return nil
}

// send enqueues m for account. Message ids are an account's own: the same
// id from another account is another message.
func (s *Server) send(r *http.Request, account string, m tasks.Message) (Receipt, error) {
	rc, err := s.backend.Send(r.Context(), account, m)
	if err != nil {
		return Receipt{}, err
	}
	return Receipt{ID: rc.ID, State: rc.State, Duplicate: rc.Duplicate}, nil
}

func messagePath(id string) string { return Prefix + "messages/" + url.PathEscape(id) }

// renameField names a validation error of field from as to.
func renameField(err error, from, to string) error {
	var v *tasks.ValidationError
	if errors.As(err, &v) && v.Field == from {
		return &tasks.ValidationError{Field: to, Reason: v.Reason}
	}
	return err
}

// getMessage answers a message's outcome object.
func (s *Server) getMessage(rw http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	rec, account, err := s.backend.Status(r.Context(), s.reached(scopeOf(r)), id)
	if errors.Is(err, producer.ErrNotFound) || err == nil && !scopeOf(r).reaches(account) {
		return notFound("message " + quote(id) + ": not found")
	}
	if err != nil {
		return err
	}
	writeJSON(rw, http.StatusOK, outcomeJSON(rec, account))
	return nil
}

// outcomeJSON is the outcome object with its account, written after the id
// (unless the record carries one already).
func outcomeJSON(rec *producer.Outcome, account string) json.RawMessage {
	data, _ := json.Marshal(rec)
	var has struct {
		Account *string `json:"account"`
	}
	if account == "" || json.Unmarshal(data, &has) != nil || has.Account != nil {
		return data
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for range 3 { // {, "id", its value
		if _, err := dec.Token(); err != nil {
			return data
		}
	}
	off := dec.InputOffset()
	acc, _ := json.Marshal(account)
	out := make([]byte, 0, len(data)+len(acc)+12)
	out = append(out, data[:off]...)
	out = append(out, `,"account":`...)
	out = append(out, acc...)
	return append(out, data[off:]...)
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
