package whautomate

import (
	"errors"
	"net/http"
	"regexp"
	"time"
)

// Class is what the worker does about the outcome of an API call; see the
// error classification table in docs/whautomate-api.md.
type Class int

// The classes, in the order of the table.
const (
	// Sent: 2xx, no error. Record the upstream message id.
	Sent Class = iota
	// Transient: 5xx, a timeout, a connection error, Meta 1, 2, 131000,
	// 131016, or anything unrecognised. Retry with backoff; a send whose
	// request was written (TransportError.Sent) is ambiguous.
	Transient
	// RateLimited: 429, Meta 130429, 4, 80007, 613. Wait RetryAfter (or back
	// off), slow the channel down; not a failed attempt.
	RateLimited
	// RecipientRateLimited: Meta 131056 (pair rate). Back off that recipient.
	RecipientRateLimited
	// SessionClosed: Meta 131047, Messenger/Instagram 10 with subcode
	// 2018278, or an "outside the 24-hour window" answer. Park the message
	// until the contact writes.
	SessionClosed
	// Permanent: other 4xx, Meta 131026, 131030, 131008, 131009, 100,
	// 132xxx, 131051–131053, and requests that are invalid (ErrInvalid). Do
	// not retry.
	Permanent
	// Configuration: 401, 403, Meta 0, 10, 190, 200–299. Stop the channel
	// and alert; do not burn the message.
	Configuration
	// AccountBlocked: Meta 368, 131031, 131042, 131048. Stop the channel and
	// alert.
	AccountBlocked
	// MarketingCapped: Meta 131049, the per-user marketing cap ("to
	// maintain healthy ecosystem engagement"). Do not retry that message
	// within 24 hours; no other recipient is affected.
	MarketingCapped
)

var classNames = [...]string{
	Sent:                 "sent",
	Transient:            "transient",
	RateLimited:          "rate_limited",
	RecipientRateLimited: "recipient_rate_limited",
	SessionClosed:        "session_closed",
	Permanent:            "permanent",
	Configuration:        "configuration",
	AccountBlocked:       "account_blocked",
	MarketingCapped:      "marketing_capped",
}

// String returns the class in snake_case, as used in logs and metrics.
func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// sessionClosedText matches the upstream's wordings for a closed 24-hour
// window: Meta's WhatsApp 131047 details ("more than 24 hours have passed
// since the customer last replied"), its title ("Re-engagement message"),
// Messenger's "sent outside of allowed window", and plausible
// re-wordings ("outside the 24-hour window", "24h session window has
// expired", "customer service window is closed").
//
// ASSUMPTION: Whautomate passes Meta's wording through or says "24 hour(s)
// … window", "outside … window", "session/window expired/closed".
var sessionClosedText = regexp.MustCompile(`(?i)` +
	`24[- ]?h(?:ours?|rs?)?\b.{0,40}(?:window|passed|elapsed)` +
	`|outside (?:of )?(?:the |an? )?(?:allowed |messaging |customer service |customer care |conversation |session |reply )?(?:24[- ]?h(?:ours?|rs?)?[- ])?window` +
	`|re-?engagement` +
	`|(?:session|conversation|customer service|messaging) window (?:is |has )?(?:been )?(?:closed|expired)` +
	`|session (?:has )?(?:expired|closed)`)

// invalidLocationText matches the documented 404 for a wrong or missing
// location ({"error": "Invalid locationId"}).
var invalidLocationText = regexp.MustCompile(`(?i)invalid\s*location\s*id`)

// Classify maps the outcome of an API call to what to do about it, per the
// table in docs/whautomate-api.md. Rules, first match wins:
//
//  1. nil is Sent; an error wrapping ErrInvalid is Permanent.
//  2. Any error that is not an *APIError (a *TransportError, a context or
//     net error, anything else) is Transient.
//  3. An upstream code decides over the HTTP status: rate-limit codes, then
//     131056 and 131049, then the session-closed codes or wording, then the
//     other codes of the table.
//  4. Then the status: 429 is RateLimited; 401 and 403 Configuration, and
//     404 "Invalid locationId" (a wrong location is the account's, not one
//     message's: holding fails nothing while it is fixed); 408
//     (a timeout) and 5xx Transient; other 4xx Permanent.
//  5. Anything else (a 2xx reporting a failure with no known code, a 3xx) is
//     Transient.
//
// ASSUMPTION: a code 429 (Telegram-style error_code) is RateLimited like the
// status.
func Classify(err error) Class {
	if err == nil {
		return Sent
	}
	if errors.Is(err, ErrInvalid) {
		return Permanent
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return Transient // *TransportError, context.DeadlineExceeded, net.Error, unknown
	}
	if ae.HasCode {
		switch c := ae.Code; {
		case c == 130429 || c == 4 || c == 80007 || c == 613 || c == 429:
			return RateLimited
		case c == 131056:
			return RecipientRateLimited
		case c == 131049:
			return MarketingCapped
		case c == 131047 || (c == 10 && ae.Subcode == 2018278):
			return SessionClosed
		}
	}
	if sessionClosedText.MatchString(ae.Message) {
		return SessionClosed
	}
	if ae.HasCode {
		switch c := ae.Code; {
		case c == 1 || c == 2 || c == 131000 || c == 131016:
			return Transient
		case c == 0 || c == 10 || c == 190 || (c >= 200 && c <= 299):
			return Configuration
		case c == 368 || c == 131031 || c == 131042 || c == 131048:
			return AccountBlocked
		case c == 131026 || c == 131030 || c == 131008 || c == 131009 || c == 100 ||
			(c >= 132000 && c <= 132999) || (c >= 131051 && c <= 131053):
			return Permanent
		}
	}
	switch s := ae.Status; {
	case s == http.StatusTooManyRequests:
		return RateLimited
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return Configuration
	case s == http.StatusNotFound && invalidLocationText.MatchString(ae.Message):
		return Configuration // the account's location, not this message
	case s == http.StatusRequestTimeout || (s >= 500 && s <= 599):
		return Transient
	case s >= 400 && s <= 499:
		return Permanent
	}
	return Transient
}

// RetryAfter returns how long the upstream asked to wait before the next
// call (an *APIError's RetryAfter), or 0.
func RetryAfter(err error) time.Duration {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.RetryAfter
	}
	return 0
}

// AccountLimited reports whether a rate-limited answer speaks of the
// account's budget (an HTTP 429 with no Meta code: Whautomate's own limit of
// requests a minute per account, every channel counted) rather than of one
// channel's throughput (Meta 130429, 4, 80007, 613).
//
// ASSUMPTION: Whautomate answers its own limit with a bare 429 and passes
// Meta's throughput codes through in the body.
func AccountLimited(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests &&
		(!ae.HasCode || ae.Code == http.StatusTooManyRequests)
}

// Ambiguous reports whether a failed send may nevertheless have gone out:
// the request was written and no answer came (a cut connection, a timeout).
// No idempotency key is documented upstream, so the caller must check
// before sending again where it can.
func Ambiguous(err error) bool {
	var te *TransportError
	return errors.As(err, &te) && te.Sent
}
