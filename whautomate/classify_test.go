package whautomate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// code is an *APIError carrying an upstream code.
func code(status, c int) *APIError {
	return &APIError{Status: status, Code: c, HasCode: true, Message: fmt.Sprintf("(#%d) upstream says no", c)}
}

func TestClassify(t *testing.T) {
	// One block per row of the table in docs/whautomate-api.md, every code listed.
	tests := []struct {
		name string
		err  error
		want Class
	}{
		// Row: 2xx, no error → sent.
		{"sent/nil", nil, Sent},

		// Row: 429, or Meta 130429 / 4 / 80007 / 613 → rate limited.
		{"rate_limited/status 429", &APIError{Status: 429}, RateLimited},
		{"rate_limited/status 429 with retry-after", &APIError{Status: 429, RetryAfter: 2 * time.Second}, RateLimited},
		{"rate_limited/code 130429", code(400, 130429), RateLimited},
		{"rate_limited/code 4", code(400, 4), RateLimited},
		{"rate_limited/code 80007", code(400, 80007), RateLimited},
		{"rate_limited/code 613", code(400, 613), RateLimited},
		{"rate_limited/code 429 in a 200 body", code(200, 429), RateLimited},

		// Row: Meta 131056 (pair rate) → that recipient only.
		{"recipient_rate_limited/code 131056", code(400, 131056), RecipientRateLimited},
		{"recipient_rate_limited/code 131056 in a 429", code(429, 131056), RecipientRateLimited},
		// Row: Meta 131049 (per-user marketing cap) → not that message for 24 h.
		{"marketing_capped/code 131049", code(400, 131049), MarketingCapped},
		{"marketing_capped/code 131049 in a 429", code(429, 131049), MarketingCapped},

		// Row: 131047, 10/2018278, or the 24-hour wording → session closed.
		{"session_closed/code 131047", code(400, 131047), SessionClosed},
		{"session_closed/code 10 subcode 2018278", &APIError{Status: 400, Code: 10, HasCode: true, Subcode: 2018278}, SessionClosed},
		{"session_closed/wording meta details", &APIError{Status: 400,
			Message: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}, SessionClosed},
		{"session_closed/wording re-engagement", &APIError{Status: 400, Message: "Re-engagement message"}, SessionClosed},
		{"session_closed/wording messenger", &APIError{Status: 400, Message: "(#10) This message is sent outside of allowed window."}, SessionClosed},
		{"session_closed/wording outside the 24-hour window", &APIError{Status: 422, Message: "Cannot send: contact is OUTSIDE THE 24-HOUR WINDOW"}, SessionClosed},
		{"session_closed/wording 24 hour window", &APIError{Status: 400, Message: "the 24 hour window has closed"}, SessionClosed},
		{"session_closed/wording 24h session", &APIError{Status: 400, Message: "24h session window expired, use a template"}, SessionClosed},
		{"session_closed/wording session expired", &APIError{Status: 400, Message: "WhatsApp session expired"}, SessionClosed},
		{"session_closed/wording customer service window", &APIError{Status: 400, Message: "customer service window is closed"}, SessionClosed},
		{"session_closed/wording in a 200 body", &APIError{Status: 200, Message: "outside the allowed window"}, SessionClosed},

		// Row: 5xx, timeout, connection error, Meta 1 / 2 / 131000 / 131016 → transient.
		{"transient/status 500", &APIError{Status: 500}, Transient},
		{"transient/status 502", &APIError{Status: 502}, Transient},
		{"transient/status 503", &APIError{Status: 503}, Transient},
		{"transient/status 504", &APIError{Status: 504}, Transient},
		{"transient/status 408", &APIError{Status: 408}, Transient},
		{"transient/transport error sent", &TransportError{Op: "POST /x", Err: io.ErrUnexpectedEOF, Sent: true}, Transient},
		{"transient/transport error not sent", &TransportError{Op: "POST /x", Err: syscall.ECONNREFUSED}, Transient},
		{"transient/deadline exceeded", context.DeadlineExceeded, Transient},
		{"transient/wrapped deadline", fmt.Errorf("send: %w", context.DeadlineExceeded), Transient},
		{"transient/net error", &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, Transient},
		{"transient/connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, Transient},
		{"transient/code 1", code(500, 1), Transient},
		{"transient/code 2", code(503, 2), Transient},
		{"transient/code 131000", code(500, 131000), Transient},
		{"transient/code 131016", code(503, 131016), Transient},
		{"transient/code 1 in a 400", code(400, 1), Transient},

		// Row: 401 / 403, Meta 0 / 10 / 190 / 200–299 → configuration.
		{"configuration/status 401", &APIError{Status: 401}, Configuration},
		{"configuration/status 403", &APIError{Status: 403}, Configuration},
		{"configuration/code 0 explicit", code(400, 0), Configuration},
		{"configuration/code 10", code(400, 10), Configuration},
		{"configuration/code 10 other subcode", &APIError{Status: 400, Code: 10, HasCode: true, Subcode: 1234}, Configuration},
		{"configuration/code 190", code(401, 190), Configuration},
		{"configuration/code 200", code(403, 200), Configuration},
		{"configuration/code 250", code(400, 250), Configuration},
		{"configuration/code 299", code(400, 299), Configuration},

		// Row: Meta 368 / 131031 / 131042 / 131048 → account blocked.
		{"account_blocked/code 368", code(400, 368), AccountBlocked},
		{"account_blocked/code 131031", code(400, 131031), AccountBlocked},
		{"account_blocked/code 131042", code(400, 131042), AccountBlocked},
		{"account_blocked/code 131048", code(400, 131048), AccountBlocked},

		// Row: other 4xx, Meta 131026 / 131030 / 131008 / 131009 / 100 /
		// 132xxx / 131051–131053 → permanent.
		{"permanent/status 400", &APIError{Status: 400}, Permanent},
		{"permanent/status 404", &APIError{Status: 404}, Permanent},
		{"permanent/status 404 unknown contact", &APIError{Status: 404, Message: "Contact not found"}, Permanent},
		{"configuration/404 Invalid locationId", &APIError{Status: 404, Message: "Invalid locationId"}, Configuration},
		{"configuration/404 invalid location id", &APIError{Status: 404, Message: "invalid location id"}, Configuration},
		{"permanent/status 413", &APIError{Status: 413}, Permanent},
		{"permanent/status 422", &APIError{Status: 422}, Permanent},
		{"permanent/code 131026", code(400, 131026), Permanent},
		{"permanent/code 131030", code(400, 131030), Permanent},
		{"permanent/code 131008", code(400, 131008), Permanent},
		{"permanent/code 131009", code(400, 131009), Permanent},
		{"permanent/code 100", code(400, 100), Permanent},
		{"permanent/code 132000", code(400, 132000), Permanent},
		{"permanent/code 132001", code(400, 132001), Permanent},
		{"permanent/code 132015", code(400, 132015), Permanent},
		{"permanent/code 132999", code(400, 132999), Permanent},
		{"permanent/code 131051", code(400, 131051), Permanent},
		{"permanent/code 131052", code(400, 131052), Permanent},
		{"permanent/code 131053", code(400, 131053), Permanent},
		{"permanent/invalid request", fmt.Errorf("%w: nil message", ErrInvalid), Permanent},

		// Unknown → transient.
		{"unknown/plain error", errors.New("something odd"), Transient},
		{"unknown/2xx failure without code", &APIError{Status: 200, Message: "failed"}, Transient},
		{"unknown/3xx", &APIError{Status: 302}, Transient},
		{"unknown/code not in the table in a 500", code(500, 131099), Transient},

		// Priorities: a code decides over the status.
		{"priority/400 with 131047 is session closed", code(400, 131047), SessionClosed},
		{"priority/400 with 130429 is rate limited", code(400, 130429), RateLimited},
		{"priority/200 success false with 131026 is permanent", code(200, 131026), Permanent},
		{"priority/500 with 131026 is permanent", code(500, 131026), Permanent},
		{"priority/429 with 131048 is account blocked", code(429, 131048), AccountBlocked},
		{"priority/401 with 131047 is session closed", code(401, 131047), SessionClosed},
		{"priority/code 10 with window wording but no subcode is session closed",
			&APIError{Status: 400, Code: 10, HasCode: true, Message: "(#10) This message is sent outside of allowed window."}, SessionClosed},
		{"priority/unknown code falls back to 400", code(400, 131099), Permanent},
		{"priority/unknown code falls back to 401", code(401, 12345), Configuration},
		{"priority/no code: code 0 is not assumed", &APIError{Status: 400, Code: 0}, Permanent},
		{"priority/wrapped api error", fmt.Errorf("worker: %w", code(400, 131047)), SessionClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Classify(tt.err), "error: %v", tt.err)
		})
	}
}

func TestClassString(t *testing.T) {
	tests := []struct {
		class Class
		want  string
	}{
		{Sent, "sent"},
		{Transient, "transient"},
		{RateLimited, "rate_limited"},
		{RecipientRateLimited, "recipient_rate_limited"},
		{SessionClosed, "session_closed"},
		{Permanent, "permanent"},
		{Configuration, "configuration"},
		{AccountBlocked, "account_blocked"},
		{MarketingCapped, "marketing_capped"},
		{Class(-1), "unknown"},
		{Class(99), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			require.Equal(t, tt.want, tt.class.String())
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"nil", nil, 0},
		{"api error", &APIError{Status: 429, RetryAfter: 3 * time.Second}, 3 * time.Second},
		{"wrapped api error", fmt.Errorf("x: %w", &APIError{Status: 429, RetryAfter: time.Minute}), time.Minute},
		{"transport error", &TransportError{Op: "POST /x", Err: io.EOF}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, RetryAfter(tt.err))
		})
	}
}
