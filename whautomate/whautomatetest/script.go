package whautomatetest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Match selects the requests a script answers.
type Match struct {
	// Path is the endpoint, e.g. "/v1/messages/whatsapp/sendtext"; "" for any.
	Path string
	// Recipient is the contact id, the client id or the phone digits, as
	// sent (for GET /v1/messages/{contactId}, the contact id); "" for any.
	Recipient string
}

// Answer is one scripted answer.
type Answer struct {
	// Status is the HTTP status to answer with; 0 answers normally (after
	// Delay), which with Drop and Accept makes a lost answer.
	Status int
	// Body is the answer's body. Empty: a JSON error naming the status for a
	// non-2xx status, {"success": true} for a 2xx.
	Body string
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// Delay is waited before answering, on top of the latency.
	Delay time.Duration
	// Drop closes the connection after reading the request, without an
	// answer: an ambiguous send. Drop needs a real connection (NewServer, or
	// your own http.Server): it aborts the handler with http.ErrAbortHandler.
	Drop bool
	// Accept, with Drop, first handles the request normally — a valid send
	// is accepted and recorded, as when the send went out but its answer was
	// lost. Without Accept a dropped request is not processed.
	Accept bool
}

// script is the answers left for one Script call.
type script struct {
	match   Match
	answers []Answer
}

// Script queues answers for the requests matching m: each matching request
// takes the next answer, in order; once they are used up, the sandbox
// answers normally again. Scripts are tried in the order they were added.
// Every scripted request still counts in Calls, CallsFor, FirstCall and
// Requests; whether it takes a slot of its key's budget is in the package
// documentation.
func (s *Server) Script(m Match, answers ...Answer) {
	if len(answers) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts = append(s.scripts, &script{match: m, answers: append([]Answer(nil), answers...)})
}

// popScript takes the next scripted answer for a request, if any. s.mu is held.
func (s *Server) popScript(path, recipient string) (Answer, bool) {
	for i, sc := range s.scripts {
		if (sc.match.Path != "" && sc.match.Path != path) || (sc.match.Recipient != "" && sc.match.Recipient != recipient) {
			continue
		}
		a := sc.answers[0]
		sc.answers = sc.answers[1:]
		if len(sc.answers) == 0 {
			s.scripts = append(s.scripts[:i], s.scripts[i+1:]...)
		}
		return a, true
	}
	return Answer{}, false
}

// writeScripted writes a scripted answer.
func writeScripted(w http.ResponseWriter, a Answer) {
	if a.RetryAfter != "" {
		w.Header().Set("Retry-After", a.RetryAfter)
	}
	body := a.Body
	if body == "" {
		if a.Status >= 200 && a.Status <= 299 {
			body = `{"success":true}`
		} else {
			b, _ := json.Marshal(errorBody{Error: errorDetail{Message: http.StatusText(a.Status)}})
			body = string(b)
		}
	}
	if t := strings.TrimSpace(body); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(a.Status)
	_, _ = io.WriteString(w, body)
}
