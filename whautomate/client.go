package whautomate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Version is the sendq version, sent in the default User-Agent. The build
// sets it with -ldflags "-X github.com/sendq/sendq/whautomate.Version=…".
var Version = "dev"

// DefaultBaseURL is Whautomate's global API host. India accounts use
// https://api.in.whautomate.com.
const DefaultBaseURL = "https://api.whautomate.com"

// DefaultTimeout bounds one API call when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// maxResponseBody bounds what is read of one answer.
const maxResponseBody = 4 << 20

// ErrInvalid is wrapped by the errors of requests that cannot be made as
// asked (no recipient, two recipients, an unknown channel or kind, a missing
// payload); they never reach the API, and Classify calls them Permanent.
var ErrInvalid = errors.New("whautomate: invalid request")

// Config configures a Client. Zero values mean the documented defaults.
type Config struct {
	// BaseURL is the API host, with an optional path prefix. Defaults to
	// DefaultBaseURL.
	BaseURL string
	// APIKey is sent as the x-api-key header (required).
	APIKey string
	// LocationID, when set, is sent on every send as "location": {"id": …}.
	LocationID string
	// HTTPClient makes the calls. Defaults to a client whose Transport keeps
	// up to 256 idle keep-alive connections to the host and does not follow
	// redirects.
	HTTPClient *http.Client
	// Timeout bounds each call. Defaults to DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent as the User-Agent header. Defaults to "sendq/"+Version.
	UserAgent string
}

// Client calls Whautomate's REST API. It is safe for concurrent use.
type Client struct {
	base     string // scheme://host[/prefix], no trailing slash
	key      string
	location string
	hc       *http.Client
	timeout  time.Duration
	ua       string
	now      func() time.Time // for Retry-After dates; tests replace it
}

// New returns a Client for cfg, or an error naming the field that is wrong.
func New(cfg Config) (*Client, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("whautomate: Config.APIKey is required")
	}
	for _, r := range cfg.APIKey {
		if r <= ' ' || r >= 0x7f {
			// The key itself is never echoed.
			return nil, errors.New("whautomate: Config.APIKey contains spaces, control or non-ASCII characters")
		}
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("whautomate: Config.BaseURL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("whautomate: Config.BaseURL %q is not an http(s) URL", base)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("whautomate: Config.BaseURL %q must not have user info, a query or a fragment", u.Redacted())
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("whautomate: Config.Timeout %v is negative", cfg.Timeout)
	}
	c := &Client{
		base:     strings.TrimRight(u.String(), "/"),
		key:      cfg.APIKey,
		location: strings.TrimSpace(cfg.LocationID),
		hc:       cfg.HTTPClient,
		timeout:  cfg.Timeout,
		ua:       cfg.UserAgent,
		now:      time.Now,
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.ua == "" {
		c.ua = "sendq/" + Version
	}
	return c, nil
}

// defaultHTTPClient is tuned for many concurrent sends to one host.
func defaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.ForceAttemptHTTP2 = true
	return &http.Client{
		Transport: t,
		// ASSUMPTION: the API does not redirect. Following a redirect would
		// turn a POST into a GET; a 3xx is returned as an *APIError instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// TransportError is a call that got no HTTP answer: a dial error, a reset, a
// timeout, a cancelled context, or an answer that could not be read.
type TransportError struct {
	// Op is the call, e.g. "POST /v1/messages/whatsapp/sendtext".
	Op string
	// Err is the cause (a *net.OpError, context.DeadlineExceeded, io.EOF, …).
	Err error
	// Sent reports whether the request was written in full, so it may have
	// reached Whautomate: a send that failed with Sent set is ambiguous (it
	// may have gone out), one without Sent surely did not.
	Sent bool

	key string // redacted from Error, should the cause ever quote it
}

// Error describes the failure; it never contains the API key.
func (e *TransportError) Error() string {
	s := "whautomate: " + e.Op + ": " + fmt.Sprint(e.Err)
	if e.Sent {
		s += " (request sent: outcome unknown)"
	}
	return redact(s, e.key)
}

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the cause is a timeout.
func (e *TransportError) Timeout() bool {
	var ne net.Error
	return errors.Is(e.Err, context.DeadlineExceeded) || (errors.As(e.Err, &ne) && ne.Timeout())
}

// answer is an HTTP answer read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do makes one call with the client's timeout. A non-nil error is always a
// *TransportError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body []byte) (*answer, error) {
	op := method + " " + path
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, &TransportError{Op: op, Err: err, key: c.key}
	}
	req.Header.Set("x-api-key", c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// ASSUMPTION (idempotency): no idempotency key is documented, so none is
	// sent; net/http therefore never retries a POST that was written.
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is already in Op
		}
		return nil, &TransportError{Op: op, Err: err, Sent: wrote.Load(), key: c.key}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, &TransportError{Op: op, Err: err, Sent: true, key: c.key}
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// redact replaces every occurrence of key in s.
func redact(s, key string) string {
	if key == "" {
		return s
	}
	return strings.ReplaceAll(s, key, "[redacted]")
}
