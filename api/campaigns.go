package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
)

// CampaignStatus is the campaign status object (README "Campaigns").
type CampaignStatus struct {
	ID         string         `json:"id"`
	Account    string         `json:"account"`
	State      string         `json:"state"`
	Total      int            `json:"total"`
	Counts     map[string]int `json:"counts"`
	Rate       float64        `json:"rate"`
	ETASeconds int            `json:"eta_seconds"`
	Reason     string         `json:"reason,omitempty"`
}

// CampaignStarted is the answer to a campaign upload.
type CampaignStarted struct {
	ID         string      `json:"id"`
	Account    string      `json:"account"`
	Accepted   int         `json:"accepted"`
	Rejected   int         `json:"rejected"`
	Duplicates int         `json:"duplicates"`
	Errors     []LineError `json:"errors"`
}

// LineError is an invalid row of a campaign file.
type LineError struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// campaignTypes are the bodies a campaign upload takes.
var campaignTypes = []string{"text/csv", "application/x-ndjson", "application/jsonl"}

// postCampaign starts a campaign from the uploaded file, read as it
// arrives.
func (s *Server) postCampaign(rw http.ResponseWriter, r *http.Request) error {
	ct, p := requireType(r, campaignTypes...)
	if p != nil {
		return p
	}
	q := r.URL.Query()
	if err := knownParams(q, "id", "account", "channel", "template", "language", "category", "text",
		"media_url", "mime_type", "caption", "at"); err != nil {
		return err
	}
	req := CampaignRequest{
		ID: strings.TrimSpace(q.Get("id")),
		Defaults: producer.Fields{Channel: q.Get("channel"), Template: q.Get("template"), Language: q.Get("language"),
			Text: q.Get("text"), MediaURL: q.Get("media_url"), MimeType: q.Get("mime_type"), Caption: q.Get("caption")},
		Category:  q.Get("category"),
		JSONLines: ct != "text/csv",
	}
	if err := checkCampaignID(req.ID); err != nil {
		return err
	}
	if req.Category != "" && !validCategory(req.Category) {
		return invalid("category", "must be marketing, utility or authentication")
	}
	if req.Defaults.Channel != "" {
		if _, err := tasks.ParseChannel(req.Defaults.Channel); err != nil {
			return err
		}
	}
	var err error
	if req.At, err = parseTime("at", q.Get("at")); err != nil {
		return err
	}
	sc := scopeOf(r)
	account, p := s.accountFor(sc, q.Get("account"), "account")
	if p != nil {
		return p
	}
	// A campaign id of another account's campaign is not this token's to
	// start again.
	if _, owner, err := s.backend.Campaign(r.Context(), req.ID); err == nil && owner != account {
		if !sc.reaches(owner) {
			return notFound("campaign " + quote(req.ID) + ": not found")
		}
		return conflict("id", fmt.Sprintf("campaign of account %s", owner))
	} else if err != nil && !errors.Is(err, producer.ErrNotFound) {
		return err
	}

	// A body declared too large is refused before a row is stored (rows
	// are stored as they are read; a start cut short is not fed).
	if r.ContentLength > s.cfg.MaxCampaignBytes {
		return bodyError(&http.MaxBytesError{Limit: s.cfg.MaxCampaignBytes}, s.cfg.MaxCampaignBytes)
	}
	body := http.MaxBytesReader(rw, r.Body, s.cfg.MaxCampaignBytes)
	st, err := s.backend.StartCampaign(r.Context(), account, req, body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return bodyError(err, s.cfg.MaxCampaignBytes)
	case errors.Is(err, producer.ErrCampaignBusy):
		return conflict("id", "another start of this campaign is under way")
	case errors.Is(err, producer.ErrCampaignCancelled):
		return conflict("id", "the campaign is cancelled and cannot start again")
	case err != nil:
		var v *tasks.ValidationError
		if errors.As(err, &v) {
			return fromValidation(v)
		}
		if !strings.HasPrefix(err.Error(), "campaign file") {
			return err
		}
		return invalid("body", strings.TrimPrefix(err.Error(), "campaign file: "))
	}
	out := CampaignStarted{ID: st.ID, Account: account, Accepted: st.Accepted, Duplicates: st.Duplicates,
		Rejected: len(st.Rejected), Errors: make([]LineError, 0, len(st.Rejected))}
	for _, e := range st.Rejected {
		out.Errors = append(out.Errors, LineError{Line: e.Line, Message: e.Err.Error()})
	}
	if st.Accepted+st.Duplicates == 0 {
		p := invalid("body", fmt.Sprintf("no valid row (%d rejected)", len(st.Rejected)))
		for _, e := range out.Errors {
			p.Errors = append(p.Errors, FieldError{Field: "body", Line: e.Line, Message: e.Message})
		}
		return p
	}
	rw.Header().Set("Location", Prefix+"campaigns/"+url.PathEscape(st.ID))
	writeJSON(rw, http.StatusCreated, out)
	return nil
}

// checkCampaignID checks a campaign id as the producer does.
func checkCampaignID(id string) error {
	if id == "" {
		return invalid("id", "required: the campaign id")
	}
	if len(id) > 200 || strings.IndexFunc(id, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return invalid("id", "want 1 to 200 characters without spaces")
	}
	return nil
}

// knownParams refuses a query parameter the endpoint does not take.
func knownParams(q url.Values, names ...string) error {
	for k := range q {
		found := false
		for _, n := range names {
			found = found || k == n
		}
		if !found {
			return invalid(k, "unknown query parameter")
		}
	}
	return nil
}

// getCampaign answers a campaign's status object.
func (s *Server) getCampaign(rw http.ResponseWriter, r *http.Request) error {
	st, err := s.campaignStatus(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(rw, http.StatusOK, st)
	return nil
}

// campaignStatus returns a campaign's status object, or not found when the
// token does not reach its account.
func (s *Server) campaignStatus(r *http.Request, id string) (*CampaignStatus, error) {
	c, account, err := s.backend.Campaign(r.Context(), id)
	if errors.Is(err, producer.ErrNotFound) || err == nil && !scopeOf(r).reaches(account) {
		return nil, notFound("campaign " + quote(id) + ": not found")
	}
	if err != nil {
		return nil, err
	}
	st := &CampaignStatus{ID: c.ID, Account: account, State: string(c.State), Total: c.Total,
		Counts: map[string]int{}, Rate: c.Rate, ETASeconds: int(c.ETA.Seconds()), Reason: c.Reason}
	for k, n := range c.Counts {
		st.Counts[string(k)] = n
	}
	return st, nil
}

// controlCampaign pauses, resumes or cancels a campaign and answers its
// status once the change holds.
func (s *Server) controlCampaign(rw http.ResponseWriter, r *http.Request) error {
	id, action := r.PathValue("id"), r.PathValue("action")
	var do func(*http.Request, string) error
	switch action {
	case "pause":
		do = func(r *http.Request, id string) error { return s.backend.PauseCampaign(r.Context(), id) }
	case "resume":
		do = func(r *http.Request, id string) error { return s.backend.ResumeCampaign(r.Context(), id) }
	case "cancel":
		do = func(r *http.Request, id string) error { return s.backend.CancelCampaign(r.Context(), id) }
	default:
		return notFound("no such path: " + r.URL.Path)
	}
	if _, err := s.campaignStatus(r, id); err != nil {
		return err
	}
	err := do(r, id)
	switch {
	case errors.Is(err, producer.ErrCampaignCancelled):
		return conflict("id", "the campaign is cancelled")
	case errors.Is(err, producer.ErrNotFound):
		return notFound("campaign " + quote(id) + ": not found")
	case err != nil:
		return err
	}
	st, err := s.campaignStatus(r, id)
	if err != nil {
		return err
	}
	writeJSON(rw, http.StatusOK, st)
	return nil
}
