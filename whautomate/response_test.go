package whautomate

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParseSendResponseSuccess(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		wantID string
	}{
		{"id", 200, `{"id":"wamid.1"}`, "wamid.1"},
		{"messageId", 200, `{"messageId":"m-2"}`, "m-2"},
		{"data.id", 200, `{"success":true,"data":{"id":"d-3"}}`, "d-3"},
		{"data.messageId", 201, `{"data":{"messageId":"d-4"}}`, "d-4"},
		{"numeric id in full", 200, `{"id":12345678901234567890}`, "12345678901234567890"},
		{"numeric data.messageId", 200, `{"data":{"messageId":42}}`, "42"},
		{"id wins over data", 200, `{"id":"top","data":{"id":"inner"}}`, "top"},
		{"empty id falls through", 200, `{"id":"","data":{"messageId":"inner"}}`, "inner"},
		{"success true without id", 200, `{"success":true}`, ""},
		{"success string true", 200, `{"success":"true","id":"x"}`, "x"},
		{"error null is no error", 200, `{"error":null,"id":"x"}`, "x"},
		{"error empty string is no error", 200, `{"error":"","id":"x"}`, "x"},
		{"error empty object is no error", 200, `{"error":{},"id":"x"}`, "x"},
		{"error false is no error", 200, `{"error":false,"id":"x"}`, "x"},
		{"empty body", 200, ``, ""},
		{"204 no content", 204, ``, ""},
		{"not json", 200, `OK`, ""},
		{"array", 200, `[1,2]`, ""},
		{"data not an object", 200, `{"data":"queued"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := parseSendResponse(tt.status, http.Header{}, []byte(tt.body), testNow, "")
			require.NoError(t, err)
			require.Equal(t, tt.wantID, res.ID)
		})
	}
}

func TestParseSendResponseError(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  http.Header
		body    string
		want    APIError
		wantCls Class
	}{
		{"error string", 400, nil, `{"error":"Invalid phone number"}`,
			APIError{Status: 400, Message: "Invalid phone number"}, Permanent},
		{"error object with code", 400, nil, `{"error":{"message":"(#131026) Message undeliverable","code":131026}}`,
			APIError{Status: 400, Code: 131026, HasCode: true, Message: "(#131026) Message undeliverable"}, Permanent},
		{"meta error with subcode", 400, nil,
			`{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"x"}}`,
			APIError{Status: 400, Code: 10, HasCode: true, Subcode: 2018278, Message: "(#10) This message is sent outside of allowed window."}, SessionClosed},
		{"meta error_data details", 400, nil,
			`{"error":{"message":"(#131047) Re-engagement message","code":131047,"error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}}`,
			APIError{Status: 400, Code: 131047, HasCode: true,
				Message: "(#131047) Re-engagement message: Message failed to send because more than 24 hours have passed since the customer last replied to this number."}, SessionClosed},
		{"error_data as string", 400, nil, `{"error":{"message":"Bad","error_data":"phone not on whatsapp","code":"131026"}}`,
			APIError{Status: 400, Code: 131026, HasCode: true, Message: "Bad: phone not on whatsapp"}, Permanent},
		{"nested code in error_data", 400, nil, `{"error":{"message":"wrapped","error_data":{"code":131048,"details":"spam"}}}`,
			APIError{Status: 400, Code: 131048, HasCode: true, Message: "wrapped: spam"}, AccountBlocked},
		{"message only", 422, nil, `{"message":"textMessage is required"}`,
			APIError{Status: 422, Message: "textMessage is required"}, Permanent},
		{"errors array of objects", 400, nil, `{"errors":[{"code":131056,"title":"pair rate limit hit"},{"code":1}]}`,
			APIError{Status: 400, Code: 131056, HasCode: true, Message: "pair rate limit hit"}, RecipientRateLimited},
		{"errors array of strings", 400, nil, `{"errors":["first","second"]}`,
			APIError{Status: 400, Message: "first"}, Permanent},
		{"top-level code and message", 400, nil, `{"code":130429,"message":"Rate limit hit"}`,
			APIError{Status: 400, Code: 130429, HasCode: true, Message: "Rate limit hit"}, RateLimited},
		{"code equal to the status is ignored", 401, nil, `{"code":401,"message":"Unauthorized"}`,
			APIError{Status: 401, Message: "Unauthorized"}, Configuration},
		{"explicit code 0", 400, nil, `{"error":{"message":"auth","code":0}}`,
			APIError{Status: 400, Code: 0, HasCode: true, Message: "auth"}, Configuration},
		{"non-numeric code is ignored", 400, nil, `{"code":"INVALID","message":"bad"}`,
			APIError{Status: 400, Message: "bad"}, Permanent},
		{"code from (#n) in message", 400, nil, `{"message":"(#131047) Re-engagement message"}`,
			APIError{Status: 400, Code: 131047, HasCode: true, Message: "(#131047) Re-engagement message"}, SessionClosed},
		{"telegram retry_after", 429, nil, `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}`,
			APIError{Status: 429, Message: "Too Many Requests: retry after 5", RetryAfter: 5 * time.Second}, RateLimited},
		{"top-level retry_after string", 429, nil, `{"message":"slow down","retry_after":"1.5"}`,
			APIError{Status: 429, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, RateLimited},
		{"retry-after header seconds", 429, http.Header{"Retry-After": {"7"}}, `{"message":"slow down"}`,
			APIError{Status: 429, Message: "slow down", RetryAfter: 7 * time.Second}, RateLimited},
		{"retry-after header date", 429, http.Header{"Retry-After": {testNow.Add(90 * time.Second).Format(http.TimeFormat)}}, ``,
			APIError{Status: 429, RetryAfter: 90 * time.Second}, RateLimited},
		{"retry-after date in the past", 429, http.Header{"Retry-After": {testNow.Add(-time.Hour).Format(http.TimeFormat)}}, `{"retry_after":9}`,
			APIError{Status: 429, RetryAfter: 0}, RateLimited},
		{"header wins over body", 429, http.Header{"Retry-After": {"2"}}, `{"retry_after":30}`,
			APIError{Status: 429, RetryAfter: 2 * time.Second}, RateLimited},
		{"unreadable header leaves body", 429, http.Header{"Retry-After": {"soon"}}, `{"parameters":{"retry_after":3}}`,
			APIError{Status: 429, RetryAfter: 3 * time.Second}, RateLimited},
		{"Inf is not delay-seconds", 429, http.Header{"Retry-After": {"Inf"}}, `{"retry_after":4}`,
			APIError{Status: 429, RetryAfter: 4 * time.Second}, RateLimited},
		{"absurd retry-after capped", 429, http.Header{"Retry-After": {"99999999999999"}}, ``,
			APIError{Status: 429, RetryAfter: 24 * time.Hour}, RateLimited},
		{"negative retry-after is zero", 429, http.Header{"Retry-After": {"-5"}}, ``,
			APIError{Status: 429}, RateLimited},
		{"plain text body", 502, nil, "upstream connect error\n or disconnect",
			APIError{Status: 502, Message: "upstream connect error or disconnect"}, Transient},
		{"html body", 503, nil, "<html><body>down</body></html>",
			APIError{Status: 503}, Transient},
		{"empty body", 500, nil, "",
			APIError{Status: 500}, Transient},
		{"2xx success false", 200, nil, `{"success":false,"message":"Contact not found"}`,
			APIError{Status: 200, Message: "Contact not found"}, Transient},
		{"2xx success false with code", 200, nil, `{"success":false,"error":{"message":"undeliverable","code":131026}}`,
			APIError{Status: 200, Code: 131026, HasCode: true, Message: "undeliverable"}, Permanent},
		{"2xx success string false", 200, nil, `{"success":"false","error":"outside the 24 hour window"}`,
			APIError{Status: 200, Message: "outside the 24 hour window"}, SessionClosed},
		{"2xx error string", 201, nil, `{"error":"quota exceeded","id":"x"}`,
			APIError{Status: 201, Message: "quota exceeded"}, Transient},
		{"2xx error true", 200, nil, `{"error":true}`,
			APIError{Status: 200}, Transient},
		{"duplicate reasons kept once", 400, nil, `{"error":{"message":"Bad request"},"message":"Bad request"}`,
			APIError{Status: 400, Message: "Bad request"}, Permanent},
		{"redirect", 301, http.Header{"Location": {"https://elsewhere"}}, ``,
			APIError{Status: 301}, Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			res, err := parseSendResponse(tt.status, h, []byte(tt.body), testNow, "")
			require.Nil(t, res)
			var ae *APIError
			require.True(t, errors.As(err, &ae), "want *APIError, got %T %v", err, err)
			require.Equal(t, tt.want, *ae)
			require.Equal(t, tt.wantCls, Classify(err))
		})
	}
}

func TestAPIErrorMessageIsCapped(t *testing.T) {
	long := strings.Repeat("é", 1000)
	_, err := parseSendResponse(400, http.Header{}, []byte(`{"message":"`+long+`"}`), testNow, "")
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, 300, utf8.RuneCountInString(ae.Message))
	require.True(t, strings.HasSuffix(ae.Message, "…"))

	exact := strings.Repeat("a", 300)
	_, err = parseSendResponse(400, http.Header{}, []byte(`{"message":"`+exact+`"}`), testNow, "")
	require.ErrorAs(t, err, &ae)
	require.Equal(t, exact, ae.Message)
}

func TestAPIErrorRedactsTheKey(t *testing.T) {
	const key = "sk_live_0123456789abcdef"
	tests := []struct {
		name string
		body string
	}{
		{"json message", `{"error":{"message":"key sk_live_0123456789abcdef is not valid for this host"}}`},
		{"plain text", `invalid x-api-key: sk_live_0123456789abcdef`},
		{"key across the cap", `{"message":"` + strings.Repeat("x", 290) + ` sk_live_0123456789abcdef"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSendResponse(401, http.Header{}, []byte(tt.body), testNow, key)
			require.Error(t, err)
			require.NotContains(t, err.Error(), key)
			require.NotContains(t, err.Error(), key[:12])
		})
	}
}

func TestAPIErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *APIError
		want string
	}{
		{"status only", &APIError{Status: 503}, "whautomate: HTTP 503: Service Unavailable"},
		{"code and message", &APIError{Status: 400, Code: 131047, HasCode: true, Message: "Re-engagement message"},
			"whautomate: HTTP 400, code 131047: Re-engagement message"},
		{"subcode", &APIError{Status: 400, Code: 10, HasCode: true, Subcode: 2018278, Message: "outside window"},
			"whautomate: HTTP 400, code 10/2018278: outside window"},
		{"retry after", &APIError{Status: 429, RetryAfter: 2 * time.Second}, "whautomate: HTTP 429: Too Many Requests (retry after 2s)"},
		{"code 0", &APIError{Status: 400, HasCode: true}, "whautomate: HTTP 400, code 0: Bad Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.err.Error())
		})
	}
}

// FuzzParseResponse feeds the send-response and error-body parser arbitrary
// answers: it must never panic, and what it returns must hold its invariants.
func FuzzParseResponse(f *testing.F) {
	f.Add(200, "", []byte(`{"success":true,"data":{"id":"x","messageId":"x"}}`))
	f.Add(400, "", []byte(`{"error":{"message":"(#131047) Re-engagement message","code":131047}}`))
	f.Add(429, "3", []byte(`{"parameters":{"retry_after":5}}`))
	f.Add(200, "", []byte(`{"success":false,"error":{"code":131026}}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		res, err := parseSendResponse(status, h, body, testNow, "secret-key")
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("status %d accepted", status)
			}
			if res == nil {
				t.Fatal("nil result without error")
			}
			return
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("error %T is not an *APIError", err)
		}
		if ae.Status != status {
			t.Fatalf("status %d, want %d", ae.Status, status)
		}
		if !utf8.ValidString(ae.Message) || utf8.RuneCountInString(ae.Message) > maxMessageLen {
			t.Fatalf("bad message %q", ae.Message)
		}
		if strings.Contains(ae.Error(), "secret-key") {
			t.Fatalf("key in %q", ae.Error())
		}
		if ae.RetryAfter < 0 || ae.RetryAfter > maxRetryAfter {
			t.Fatalf("retry after %v", ae.RetryAfter)
		}
		if !ae.HasCode && ae.Code != 0 {
			t.Fatalf("code %d without HasCode", ae.Code)
		}
		_ = Classify(err)
	})
}
