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

	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return // the client went away
	}

	// Route on the escaped path: a contact id may hold an escaped "/".
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1/messages/")
	parts := strings.Split(rest, "/")
	switch {
	case ok && len(parts) == 2 && r.Method == http.MethodPost:
		s.serveSend(w, r, received, tasks.Channel(parts[0]), parts[1], body)
	case ok && len(parts) == 1 && parts[0] != "" && r.Method == http.MethodGet:
		s.serveMessages(w, r, received, parts[0])
	case ok && (len(parts) == 1 || len(parts) == 2) && parts[len(parts)-1] != "":
		s.serveOther(w, r, received, func() {
			allow := http.MethodGet
			if len(parts) == 2 {
				allow = http.MethodPost
			}
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed", 0)
		})
	default:
		s.serveOther(w, r, received, func() { writeError(w, http.StatusNotFound, "not found: "+r.URL.Path, 0) })
	}
}

// arrival is what a request found on arriving: its scripted answer, if
// any, and the state it is to be answered with.
type arrival struct {
	answer   Answer
	scripted bool
	key      string
	latency  time.Duration
	down     bool
}

// arrive counts a request and takes its arrival state.
func (s *Server) arrive(path, recipient string, isSend bool, at time.Time) arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	s.calls[path]++
	if isSend && recipient != "" {
		s.callsFor[recipient]++
		if _, ok := s.firstCall[recipient]; !ok {
			s.firstCall[recipient] = at
		}
	}
	a, scripted := s.popScript(path, recipient)
	return arrival{answer: a, scripted: scripted, key: s.apiKey, latency: s.latency, down: s.down}
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
// latency and delay, the scripted answer, the down state and the key. It
// reports whether the request was answered (or dropped). Only a send may
// be let through by Answer.Accept.
func (s *Server) prelude(w http.ResponseWriter, r *http.Request, ar arrival, isSend bool) bool {
	a := ar.answer
	s.pause(r.Context(), ar.latency+a.Delay)
	if ar.scripted {
		if a.Drop && (!a.Accept || !isSend) {
			panic(http.ErrAbortHandler)
		}
		if a.Status != 0 && !a.Drop {
			writeScripted(w, a)
			return true
		}
	}
	if ar.down {
		writeError(w, http.StatusServiceUnavailable, "Service Unavailable", 0)
		return true
	}
	if ar.key == "" || r.Header.Get("x-api-key") != ar.key {
		writeError(w, http.StatusUnauthorized, "Unauthorized: missing or invalid x-api-key", 0)
		return true
	}
	return false
}

// serveOther answers a request to no endpoint, after the prelude.
func (s *Server) serveOther(w http.ResponseWriter, r *http.Request, received time.Time, answer func()) {
	if s.prelude(w, r, s.arrive(r.URL.Path, "", false, received), false) {
		return
	}
	answer()
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
