package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// events streams the outcome changes of the token's accounts as
// Server-Sent Events, from the moment of connecting or, with Last-Event-ID,
// from just after that event. Each event's id is the cursor after it.
func (s *Server) events(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	accts := s.visible(scopeOf(r))
	cursor := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if cursor == "" {
		var err error
		if _, cursor, err = s.backend.Events(ctx, accts, "", 0); err != nil {
			s.fail(rw, r, err)
			return
		}
	}
	// The first read, without waiting, also checks the cursor before the
	// answer starts.
	evs, next, err := s.backend.Events(ctx, accts, cursor, 0)
	if errors.Is(err, ErrCursor) {
		writeProblem(rw, invalid("Last-Event-ID", "not an event id of this stream"))
		return
	}
	if err != nil {
		s.fail(rw, r, err)
		return
	}
	rc := http.NewResponseController(rw)
	// The server's read timeout must not end a stream that reads nothing.
	_ = rc.SetReadDeadline(time.Time{})
	h := rw.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	rw.WriteHeader(http.StatusOK)
	w := sseWriter{rw: rw, rc: rc}
	if err := w.comment("stream of outcome changes from " + cursorOrNow(cursor)); err != nil {
		return
	}
	wait := min(s.cfg.Heartbeat, eventWait)
	lastWrite := time.Now()
	for {
		for _, ev := range evs {
			if err := w.event(ev); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		if len(evs) == 0 && time.Since(lastWrite) >= s.cfg.Heartbeat {
			if err := w.comment("heartbeat"); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		select {
		case <-s.closing:
			return // the server shuts down: the client reconnects with Last-Event-ID
		case <-ctx.Done():
			return
		default:
		}
		evs, next, err = s.backend.Events(ctx, accts, next, wait)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				s.log.Error("api: event stream ended", "err", err)
			}
			return
		}
	}
}

// eventWait is the longest one read of the event stream waits: how long a
// stream whose client went away, or whose server shuts down, may still hold
// its Redis connection.
const eventWait = 2 * time.Second

func cursorOrNow(c string) string {
	if c == "" {
		return "now"
	}
	return c
}

// fail answers an unexpected error before the stream starts.
func (s *Server) fail(rw http.ResponseWriter, r *http.Request, err error) {
	p := asProblem(err)
	if p.Status >= 500 {
		s.log.Error("api: request failed", "method", r.Method, "path", r.Pattern, "err", err)
	}
	writeProblem(rw, p)
}

// sseWriter writes events, each flushed at once under a fresh write
// deadline, so that a stalled client is let go but a live one never is.
type sseWriter struct {
	rw http.ResponseWriter
	rc *http.ResponseController
}

func (w sseWriter) write(s string) error {
	_ = w.rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if _, err := fmt.Fprint(w.rw, s); err != nil {
		return err
	}
	return w.rc.Flush()
}

func (w sseWriter) event(ev Event) error {
	data := outcomeJSON(&ev.Outcome, ev.Account)
	return w.write("id: " + ev.Cursor + "\nevent: outcome\ndata: " + string(data) + "\n\n")
}

func (w sseWriter) comment(c string) error { return w.write(": " + c + "\n\n") }
