package whautomatetest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sendq/sendq/tasks"
)

const (
	maxBody     = 1 << 20
	invalidCode = 100 // Meta's "invalid parameter"
)

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	received := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "sandbox closed", 0)
		return
	}
	s.wg.Add(1) // under mu, so never concurrent with Close's Wait
	s.mu.Unlock()
	defer s.wg.Done()
	rw := &recorder{ResponseWriter: w, s: s, seq: -1}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}

	// Route on the escaped path: a contact id may hold an escaped "/".
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/messages/")
	parts := strings.Split(rest, "/")
	switch {
	case ok && len(parts) == 2 && r.Method == http.MethodPost:
		s.serveSend(rw, r, received, tasks.Channel(parts[0]), parts[1], body)
	case ok && len(parts) == 1 && parts[0] != "" && r.Method == http.MethodGet:
		s.serveMessages(rw, r, received, parts[0])
	case ok && (len(parts) == 1 || len(parts) == 2) && parts[len(parts)-1] != "":
		s.serveOther(rw, r, received, func() {
			allow := http.MethodGet
			if len(parts) == 2 {
				allow = http.MethodPost
			}
			rw.Header().Set("Allow", allow)
			writeError(rw, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed", 0)
		})
	default:
		s.serveOther(rw, r, received, func() { writeError(rw, http.StatusNotFound, "not found: "+r.URL.Path, 0) })
	}
}

// visit is what a request asks for, as it arrives.
type visit struct {
	path      string
	recipient string        // a send's recipient or a look-up's contact id; "" otherwise
	channel   tasks.Channel // a send endpoint's channel; "" otherwise
	send      bool          // a send endpoint's path (Answer.Accept applies)
	received  time.Time     // by the wall clock, as Sent.At
}

// arrival is what a request found on arriving: its scripted answer, if
// any, and how the sandbox is to answer it.
type arrival struct {
	answer     Answer
	scripted   bool
	send       bool
	latency    time.Duration
	refusal    int    // the status refusing the request (503, 403, 429); 0 to handle it
	retryAfter string // the Retry-After of a budget's 429
}

// dropped reports whether the script drops the request unprocessed.
func (ar arrival) dropped() bool {
	return ar.scripted && ar.answer.Drop && (!ar.answer.Accept || !ar.send)
}

// answered reports whether the script answers the request itself.
func (ar arrival) answered() bool {
	return ar.scripted && ar.answer.Status != 0 && !ar.answer.Drop
}

// arrive counts a request, records it and decides how it is answered.
func (s *Server) arrive(w *recorder, r *http.Request, v visit) arrival {
	key := r.Header.Get("x-api-key")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.calls[v.path]++
	if v.send && v.recipient != "" {
		s.callsFor[v.recipient]++
		if _, ok := s.firstCall[v.recipient]; !ok {
			s.firstCall[v.recipient] = v.received
		}
	}
	a, scripted := s.popScript(v.path, v.recipient)
	ar := arrival{answer: a, scripted: scripted, send: v.send, latency: s.latency, retryAfter: s.retryAfter}
	// Taken under mu, the arrival times are in the order the budgets count
	// them: no sliding window the budget allows is crowded afterwards.
	at := time.Now()
	slot := at
	if s.fakeClock {
		slot = s.now()
	}
	acct := s.keys[key]
	req := Request{Account: -1, Path: v.path, Channel: v.channel, At: at}
	ar.refusal, req.Counted = s.admit(acct, ar, slot)
	if acct != nil {
		req.Account = acct.index
	}
	w.seq, w.generation = len(s.requests), s.generation
	s.requests = append(s.requests, req)
	return ar
}

// admit decides whether a request reaches its key's account and takes a
// slot of its budget: it returns the status that refuses the request (0
// for none) and whether the budget counted it. A script comes first and
// answers for the account: its answer takes a slot when the key is live
// and a slot is free, except a scripted 429, which stands for a refusal. A
// dropped request never reached the account. s.mu is held.
func (s *Server) admit(acct *account, ar arrival, at time.Time) (refusal int, counted bool) {
	live := acct != nil && !acct.revoked
	switch {
	case ar.dropped():
		return 0, false
	case ar.answered():
		return 0, live && ar.answer.Status != http.StatusTooManyRequests && acct.take(at)
	case s.down:
		return http.StatusServiceUnavailable, false
	case !live:
		return http.StatusForbidden, false
	case !acct.take(at):
		return http.StatusTooManyRequests, false
	}
	return 0, true
}

// pause waits d, or until the request or the sandbox ends, and aborts the
// handler then (no answer is better than an empty 200).
func (s *Server) pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		panic(http.ErrAbortHandler)
	case <-s.ctx.Done():
		panic(http.ErrAbortHandler)
	}
}

// prelude runs what every request goes through before it is handled: the
// latency and delay, the scripted answer, then the refusal arrive decided
// (down, key, budget). It reports whether the request was answered (or
// dropped). Only a send may be let through by Answer.Accept.
func (s *Server) prelude(w http.ResponseWriter, r *http.Request, ar arrival) bool {
	s.pause(r.Context(), ar.latency+ar.answer.Delay)
	switch {
	case ar.dropped():
		panic(http.ErrAbortHandler)
	case ar.answered():
		writeScripted(w, ar.answer)
		return true
	}
	switch ar.refusal {
	case 0:
		return false
	case http.StatusForbidden:
		writeJSON(w, ar.refusal, messageBody{Message: "Forbidden"})
	case http.StatusTooManyRequests:
		if ar.retryAfter != "" {
			w.Header().Set("Retry-After", ar.retryAfter)
		}
		writeJSON(w, ar.refusal, messageBody{Message: "Too Many Requests"})
	default:
		writeError(w, ar.refusal, "Service Unavailable", 0)
	}
	return true
}

// serveOther answers a request to no endpoint, after the prelude.
func (s *Server) serveOther(w *recorder, r *http.Request, received time.Time, answer func()) {
	if s.prelude(w, r, s.arrive(w, r, visit{path: r.URL.Path, received: received})) {
		return
	}
	answer()
}

// messageBody is the gateway's answer to a request it refuses (403, 429),
// as upstream documents it: {"message": "Forbidden"}.
type messageBody struct {
	Message string `json:"message"`
}

// errorBody is the sandbox's error answer: {"error": {"message", "code"}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string `json:"message"`
	Code    *int   `json:"code,omitempty"`
	Subcode int    `json:"error_subcode,omitempty"`
}

// writeError answers with an error body; code 0 leaves the code out.
func writeError(w http.ResponseWriter, status int, msg string, code int) {
	d := errorDetail{Message: msg}
	if code != 0 {
		d.Code = ptr(code)
	}
	writeJSON(w, status, errorBody{Error: d})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
