package whautomatetest

import (
	"net/http"
	"slices"
	"time"

	"github.com/sendq/sendq/tasks"
)

// Request is one request the sandbox received, whatever its answer. It
// names the key's account by index, never the key, so that a test may
// print it.
type Request struct {
	// Account is the index of the account whose key the request carried
	// (see KeyIndex and AddKey), revoked or not; -1 for a missing or unknown
	// key.
	Account int
	// Path is the request's path, e.g. "/v1/messages/whatsapp/sendtext" or
	// "/v1/messages/c1".
	Path string
	// Channel is the channel of a send endpoint; "" for a look-up or any
	// other path.
	Channel tasks.Channel
	// Status is the answer's HTTP status: 0 while the request is in flight,
	// and for one answered by no status (dropped by a script, or the client
	// went away).
	Status int
	// Counted reports whether the request took a slot of its account's
	// budget (also when the account has none): it carried a live key, the
	// sandbox was up, and it was not refused with 429. A scripted answer is
	// counted as the account's answer, except a scripted 429 and a drop
	// without Accept.
	Counted bool
	// At is when the request was counted, by the wall clock (time.Now, not
	// Options.Now): the order of At is the order in which the budgets took
	// the requests.
	At time.Time
}

// recorder records the status a request is answered with in its Request,
// before the answer leaves: a client that has its answer finds it there.
type recorder struct {
	http.ResponseWriter
	s          *Server
	wrote      bool
	seq        int    // the request's place in s.requests; -1 before it arrives
	generation uint64 // s.generation when it arrived
}

// WriteHeader records the status and writes it.
func (w *recorder) WriteHeader(status int) {
	if !w.wrote {
		w.wrote = true
		w.s.settle(w.seq, w.generation, status)
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write records an implied 200 and writes b.
func (w *recorder) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// settle records the status request seq was answered with, unless Reset
// forgot the request meanwhile.
func (s *Server) settle(seq int, generation uint64, status int) {
	if seq < 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if generation == s.generation && seq < len(s.requests) {
		s.requests[seq].Status = status
	}
}

// Requests returns every request the sandbox received, in the order their
// keys' budgets took them.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Count429 returns how many requests with key were answered 429, by the
// budget or by a script.
func (s *Server) Count429(key string) int {
	return s.CountStatus(key, http.StatusTooManyRequests)
}

// CountStatus returns how many requests with key were answered status. A
// key the sandbox does not know (any more) has none.
func (s *Server) CountStatus(key string, status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.keys[key]
	if a == nil {
		return 0
	}
	n := 0
	for _, r := range s.requests {
		if r.Account == a.index && r.Status == status {
			n++
		}
	}
	return n
}

// BusiestWindow returns the most requests of key's account that its budget
// counted (Request.Counted) within any span of length d, by their At: for
// d = time.Minute, the busiest sliding minute, which the budget keeps at or
// under KeyOptions.Budget when the sandbox runs on the wall clock.
func (s *Server) BusiestWindow(key string, d time.Duration) int {
	s.mu.Lock()
	a := s.keys[key]
	var at []time.Time
	for _, r := range s.requests {
		if a != nil && r.Account == a.index && r.Counted {
			at = append(at, r.At)
		}
	}
	s.mu.Unlock()
	return Busiest(at, d)
}

// Busiest returns the most of the times at (in order) that lie within any
// span of length d: two times d or more apart never share one, as the
// budget counts them.
func Busiest(at []time.Time, d time.Duration) int {
	if d <= 0 {
		return 0
	}
	most, first := 0, 0
	for last, t := range at {
		for t.Sub(at[first]) >= d {
			first++
		}
		most = max(most, last-first+1)
	}
	return most
}
