package whautomate

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// SendResult is what a successful send returns.
type SendResult struct {
	// ID is the upstream message id; empty when the answer carried none.
	ID string
}

// APIError is an answer from Whautomate that means the request failed: a
// non-2xx status, or a 2xx whose body says it failed.
type APIError struct {
	// Status is the HTTP status code (a 2xx for a failure reported in the body).
	Status int
	// Code is the upstream's numeric error code (usually Meta's, passed
	// through), valid when HasCode is set. It is 0 when there is none.
	Code int
	// HasCode reports whether the answer carried Code; it tells Meta's code 0
	// from no code at all.
	HasCode bool
	// Subcode is Meta's error_subcode (e.g. 2018278), 0 if none.
	Subcode int
	// Message is the upstream's reason, at most 300 characters, never the
	// API key.
	Message string
	// RetryAfter is how long the upstream asked to wait (Retry-After header,
	// or retry_after in the body), 0 if it did not say.
	RetryAfter time.Duration
}

// Error describes the failure as the upstream reported it.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "whautomate: HTTP %d", e.Status)
	if e.HasCode {
		fmt.Fprintf(&b, ", code %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

const (
	// maxMessageLen caps APIError.Message, in characters.
	maxMessageLen = 300
	// maxRetryAfter caps what Retry-After may ask for: absurd values (or
	// overflowing ones) are not worth honouring in full.
	maxRetryAfter = 24 * time.Hour
)

// parseSendResponse turns the answer to a send into its result or its error.
//
// ASSUMPTION (send response): the message id is in id, messageId, data.id or
// data.messageId, a string or a number; a 2xx without one is still a
// success (ID empty).
func parseSendResponse(status int, h http.Header, body []byte, now time.Time, key string) (*SendResult, error) {
	v, err := checkResponse(status, h, body, now, key)
	if err != nil {
		return nil, err
	}
	return &SendResult{ID: firstString(v, "id", "messageId", "data.id", "data.messageId")}, nil
}

// checkResponse returns the decoded JSON body of a successful answer (nil
// when it is not JSON) or the *APIError the answer means. key, the API key,
// is redacted from the error's message.
func checkResponse(status int, h http.Header, body []byte, now time.Time, key string) (any, error) {
	v, jsonErr := decodeLoose(body)
	if jsonErr != nil {
		v = nil
	}
	if status < 200 || status > 299 || failedInBody(v) {
		return nil, newAPIError(status, h, v, body, now, key)
	}
	return v, nil
}

// failedInBody reports whether a 2xx body says the request failed.
//
// ASSUMPTION (2xx failures): a non-empty "error" (string, object, array or
// true) or "success": false (also "false" or 0) means failure.
func failedInBody(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	switch e := m["error"].(type) {
	case string:
		if strings.TrimSpace(e) != "" {
			return true
		}
	case bool:
		if e {
			return true
		}
	case map[string]any:
		if len(e) > 0 {
			return true
		}
	case []any:
		if len(e) > 0 {
			return true
		}
	}
	if ok, valid := looseBool(m["success"]); valid && !ok {
		return true
	}
	return false
}

// metaCodeInText finds Meta's "(#131047)" code prefix in a message.
var metaCodeInText = regexp.MustCompile(`\(#(\d{1,9})\)`)

// newAPIError reads an error answer.
//
// ASSUMPTION (error bodies): the reason is in "error" (a string, or an
// object with "message", "error_user_msg" and "error_data" — a string or an
// object with "details"), "errors[0]" (a string or an object with
// "message"/"title"/"details"), "message", "description" or
// "error_description"; every distinct one found is kept, joined with ": ".
// The numeric code is in error.code, error.error_data.code, errors[0].code,
// code or error_code (number or numeric string), the subcode in
// error.error_subcode or error_subcode; failing those, a Meta-style "(#123)"
// prefix in the message is read as the code. A code equal to the HTTP status
// is the status repeated, not an upstream code, and is ignored.
func newAPIError(status int, h http.Header, v any, raw []byte, now time.Time, key string) *APIError {
	e := &APIError{Status: status}
	var parts []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" {
			return
		}
		for _, p := range parts {
			if strings.Contains(p, s) {
				return
			}
		}
		parts = append(parts, s)
	}
	if m, ok := v.(map[string]any); ok {
		switch ev := m["error"].(type) {
		case string:
			add(ev)
		case map[string]any:
			add(looseString(ev["message"]))
			add(looseString(ev["error_user_msg"]))
			switch d := ev["error_data"].(type) {
			case string:
				add(d)
			case map[string]any:
				add(looseString(d["details"]))
				add(looseString(d["message"]))
			}
		}
		if list, ok := m["errors"].([]any); ok && len(list) > 0 {
			switch ev := list[0].(type) {
			case string:
				add(ev)
			case map[string]any:
				add(firstString(ev, "message", "title"))
				add(firstString(ev, "details", "error_data.details"))
			}
		}
		add(looseString(m["message"]))
		add(looseString(m["description"]))
		add(looseString(m["error_description"]))

		for _, p := range []string{"error.code", "error.error_data.code", "errors.0.code", "code", "error_code"} {
			var c any
			if p == "errors.0.code" {
				if list, ok := m["errors"].([]any); ok && len(list) > 0 {
					c = lookup(list[0], "code")
				}
			} else {
				c = lookup(m, p)
			}
			if n, ok := looseInt(c); ok && n >= 0 && n <= 1<<31-1 && int(n) != status {
				e.Code, e.HasCode = int(n), true
				break
			}
		}
		if n, ok := looseInt(first(m, "error.error_subcode", "error_subcode")); ok && n > 0 && n <= 1<<31-1 {
			e.Subcode = int(n)
		}
		e.RetryAfter = bodyRetryAfter(m)
	} else if text := strings.TrimSpace(string(raw)); text != "" && !strings.HasPrefix(text, "<") {
		// Not JSON: a proxy's or a framework's plain-text answer. HTML pages
		// say nothing useful; the status text stands in for them.
		add(text)
	}
	e.Message = cleanMessage(redact(strings.Join(parts, ": "), key))
	if !e.HasCode {
		if sm := metaCodeInText.FindStringSubmatch(e.Message); sm != nil {
			if n, err := strconv.Atoi(sm[1]); err == nil && n != status {
				e.Code, e.HasCode = n, true
			}
		}
	}
	if d, ok := headerRetryAfter(h.Get("Retry-After"), now); ok {
		e.RetryAfter = d
	}
	return e
}

// bodyRetryAfter reads a wait asked for in the body.
//
// ASSUMPTION (rate limits): Telegram-style "retry_after" (seconds), at the
// top level, under "parameters" or under "error" (also "retryAfter").
func bodyRetryAfter(m map[string]any) time.Duration {
	v := first(m, "retry_after", "retryAfter", "parameters.retry_after", "error.retry_after",
		"error.retryAfter", "error.parameters.retry_after")
	if f, ok := looseFloat(v); ok {
		return seconds(f)
	}
	return 0
}

// headerRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// ok is false when the header is absent or unreadable.
func headerRetryAfter(s string, now time.Time) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if isDecimal(strings.TrimPrefix(s, "-")) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, false
		}
		return seconds(f), true
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	return min(max(d, 0), maxRetryAfter), true
}

// isDecimal reports whether s is digits with at most one decimal point.
func isDecimal(s string) bool {
	digits, dot := 0, false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// seconds converts a wait in seconds, clamped to [0, maxRetryAfter].
func seconds(f float64) time.Duration {
	if f <= 0 || math.IsNaN(f) {
		return 0
	}
	if f >= maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(f * float64(time.Second))
}

// cleanMessage makes an upstream reason safe to record: valid UTF-8, one
// line, single spaces, at most maxMessageLen characters.
func cleanMessage(s string) string {
	s = strings.Join(strings.FieldsFunc(strings.ToValidUTF8(s, "\uFFFD"), func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if utf8.RuneCountInString(s) <= maxMessageLen {
		return s
	}
	n := 0
	for i := range s {
		if n == maxMessageLen-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
