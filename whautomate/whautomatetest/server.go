package whautomatetest

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/sendq/sendq/tasks"
)

// DefaultAPIKey is the key the sandbox accepts when neither Options.APIKey
// nor Options.Keys names one.
const DefaultAPIKey = "test-key"

// Options configures a Server. Zero values mean the documented defaults.
type Options struct {
	// APIKey is the key of the sandbox's first account: a request must carry
	// it, or one of Keys, as its x-api-key. Defaults to DefaultAPIKey when
	// Keys is empty.
	APIKey string
	// Budget is the requests a minute APIKey's account may make (see
	// KeyOptions.Budget). 0 means no budget.
	Budget int
	// Keys are further accounts, each with its own key and budget. The empty
	// key is never accepted.
	Keys map[string]KeyOptions
	// RetryAfter429, if positive, is sent as the Retry-After header (in whole
	// seconds, rounded up) of the 429 that answers a request over its
	// budget. By default that 429 carries none: upstream does not document
	// the header.
	RetryAfter429 time.Duration
	// Latency is added to every answer (SetLatency changes it).
	Latency time.Duration
	// Window is how long a contact's last inbound message keeps text and
	// media open. Defaults to 24 h.
	Window time.Duration
	// Now is the sandbox's clock for windows, message timestamps and the
	// budgets' sliding minutes. Defaults to time.Now.
	Now func() time.Time
	// WebhookURL, if set, receives Whautomate's message webhook event for
	// every MarkInbound, as the real service posts it.
	WebhookURL string
	// WebhookToken is sent as the X-Webhook-Token header of webhook calls.
	WebhookToken string
}

// Sent is one send the sandbox accepted.
type Sent struct {
	// Channel is the endpoint's channel.
	Channel tasks.Channel
	// Kind is the endpoint's kind: text, media or template.
	Kind tasks.Kind
	// Path is the endpoint, e.g. "/v1/messages/whatsapp/sendtext".
	Path string
	// Recipient is the recipient as sent: the contact id, the client id or
	// the phone digits.
	Recipient string
	// ContactID is the contact the send went to.
	ContactID string
	// UpstreamID is the message id the sandbox answered with.
	UpstreamID string
	// Body is the request body as received.
	Body json.RawMessage
	// At is when the request arrived, by the wall clock (time.Now, not
	// Options.Now), so that tests can measure sends per second.
	At time.Time
}

// Server is the sandbox. Its methods are safe for concurrent use.
type Server struct {
	now          func() time.Time
	fakeClock    bool // Options.Now was set: budgets follow it, not the wall clock
	window       time.Duration
	retryAfter   string // the Retry-After of a budget's 429; "" for none
	webhookURL   string
	webhookToken string
	hook         *http.Client

	ctx    context.Context // done once Close is called
	cancel context.CancelFunc
	wg     sync.WaitGroup // handlers in flight

	srv       *http.Server
	serveDone chan struct{}
	url       string
	closeOnce sync.Once

	mu          sync.Mutex
	closed      bool
	keys        map[string]*account // by key; the empty key never stands here
	accounts    []*account          // by index
	primary     *account            // APIKey's account; nil once none was made
	primaryOpts KeyOptions
	latency     time.Duration
	down        bool
	scripts     []*script
	contacts    map[string]*contact
	byPhone     map[string]*contact
	nextMessage uint64
	nextContact uint64
	nextEvent   uint64
	sent        []Sent
	requests    []Request
	generation  uint64 // Reset's count: a request from before one is not settled after it
	calls       map[string]int
	total       int
	callsFor    map[string]int
	firstCall   map[string]time.Time
	hookErrs    []error
}

// New returns a sandbox that does not listen: serve its Handler yourself.
// Close it when done.
func New(opts Options) *Server {
	s := &Server{
		now:          opts.Now,
		window:       opts.Window,
		webhookURL:   opts.WebhookURL,
		webhookToken: opts.WebhookToken,
		fakeClock:    opts.Now != nil,
		latency:      opts.Latency,
		keys:         make(map[string]*account, len(opts.Keys)+1),
		primaryOpts:  KeyOptions{Budget: opts.Budget},
		requests:     make([]Request, 0, 1024),
		contacts:     make(map[string]*contact, 1024),
		byPhone:      make(map[string]*contact, 1024),
		sent:         make([]Sent, 0, 1024),
		calls:        make(map[string]int, 16),
		callsFor:     make(map[string]int, 1024),
		firstCall:    make(map[string]time.Time, 1024),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.window <= 0 {
		s.window = 24 * time.Hour
	}
	s.addKeys(opts)
	if opts.RetryAfter429 > 0 {
		s.retryAfter = strconv.FormatInt(int64((opts.RetryAfter429+time.Second-1)/time.Second), 10)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.webhookURL != "" {
		s.hook = &http.Client{Timeout: 10 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return s
}

// NewServer starts a sandbox on 127.0.0.1 at a free port, like
// httptest.NewServer. Close stops it.
func NewServer(opts Options) *Server {
	s := New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if ln, err = net.Listen("tcp6", "[::1]:0"); err != nil {
			panic("whautomatetest: failed to listen on a port: " + err.Error())
		}
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s
}

// URL is the base URL of a sandbox started by NewServer ("" for New), for
// whautomate.Config.BaseURL.
func (s *Server) URL() string { return s.url }

// Handler returns the sandbox's HTTP handler.
func (s *Server) Handler() http.Handler { return s }

// Close stops the sandbox: the listener, every connection, requests in
// flight (waiting out a latency or a delay), and webhook calls. It returns
// once all of them have ended. Requests after Close answer 503.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.cancel()
		if s.srv != nil {
			_ = s.srv.Close()
			<-s.serveDone
		}
		s.wg.Wait()
		if s.hook != nil {
			s.hook.CloseIdleConnections()
		}
	})
}

// SetLatency changes the delay added to every answer.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// SetDown makes every request answer 503 (true) or brings the sandbox back
// (false). Scripted answers still come first.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Sent returns every send the sandbox accepted, in order of acceptance.
// Scripted answers are not sends, unless Answer.Accept let one through.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// SentSince returns the sends accepted after the first n: Sent()[n:]
// without copying the rest.
func (s *Server) SentSince(n int) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n >= len(s.sent) {
		return nil
	}
	return slices.Clone(s.sent[max(n, 0):])
}

// SentCount returns len(Sent()) without copying: cheap enough to poll.
func (s *Server) SentCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent)
}

// Calls returns how many requests reached path (e.g.
// "/v1/messages/whatsapp/sendtext", or "/v1/messages/c1" for a contact's
// messages), whatever the answer; "" counts every request.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if path == "" {
		return s.total
	}
	return s.calls[path]
}

// CallsFor returns how many send requests named recipient (a contact id, a
// client id or the phone digits, as sent), whatever the answer.
func (s *Server) CallsFor(recipient string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsFor[recipient]
}

// FirstCall returns when the first send request naming recipient arrived,
// by the wall clock (as Sent.At); the zero time if none did.
func (s *Server) FirstCall(recipient string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstCall[recipient]
}

// WebhookErrors returns the failures of webhook calls made by MarkInbound
// (transport errors and non-2xx answers).
func (s *Server) WebhookErrors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hookErrs)
}

// Reset forgets every observation (Sent, Requests, Calls, CallsFor,
// FirstCall, WebhookErrors) and every unconsumed script. Contacts, their
// windows and messages, the keys and what their budgets have counted in the
// last minute, the latency and the down state stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = make([]Sent, 0, 1024)
	s.requests = make([]Request, 0, 1024)
	s.generation++
	clear(s.calls)
	clear(s.callsFor)
	clear(s.firstCall)
	s.total = 0
	s.scripts = nil
	s.hookErrs = nil
}

// errClosed is recorded for webhooks attempted after Close.
var errClosed = errors.New("whautomatetest: sandbox closed")
