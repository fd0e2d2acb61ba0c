package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/content"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/api"
	"github.com/sendq/sendq/internal/outcome"
	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// Tokens of the test server: one for every account, one for each of two.
const (
	tokenAll = "token-all-accounts"
	tokenA   = "token-of-a"
	tokenB   = "token-of-b"
)

// redisSlot is this package's database (see redistest): the benchmarks'.
const redisSlot = 0

// fixture is a real API server on the real Redis, with its pieces.
type fixture struct {
	t       testing.TB
	srv     *httptest.Server
	api     *api.Server
	rdb     redis.UniversalClient
	backend *testBackend
	sandbox *whautomatetest.Server
	openapi validator.Validator
	// strict: every request, not only every answer, must match the
	// document (false while a test sends bad requests on purpose).
	mu sync.Mutex
}

type setupOptions struct {
	accounts []accounts.Account
	cfg      api.Config
}

// setup starts the API with accounts a (token tokenA) and b (tokenB) and
// SENDQ_API_TOKEN tokenAll, on a flushed database.
func setup(t testing.TB, opts ...func(*setupOptions)) *fixture {
	t.Helper()
	o := setupOptions{accounts: []accounts.Account{{ID: "a", APIToken: tokenA}, {ID: "b", APIToken: tokenB}}}
	o.cfg.Token = tokenAll
	for _, f := range opts {
		f(&o)
	}
	rdb := redistest.Client(t, redisSlot)
	sandbox := whautomatetest.NewServer(whautomatetest.Options{APIKey: "sandbox-key"})
	t.Cleanup(sandbox.Close)
	client, err := whautomate.New(whautomate.Config{BaseURL: sandbox.URL(), APIKey: "sandbox-key"})
	require.NoError(t, err)
	set, err := accounts.NewSet(o.accounts...)
	require.NoError(t, err)
	b := newTestBackend(t, rdb, client)
	o.cfg.Backend, o.cfg.Accounts = b, set
	o.cfg.Heartbeat = 200 * time.Millisecond
	s, err := api.New(o.cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, api: s, rdb: rdb, backend: b, sandbox: sandbox}
	f.openapi = f.loadValidator()
	return f
}

// loadValidator reads the document the server serves and makes the
// validator that every test request and answer goes through.
func (f *fixture) loadValidator() validator.Validator {
	res, err := http.Get(f.srv.URL + "/api/v1/openapi.json")
	require.NoError(f.t, err)
	defer res.Body.Close()
	require.Equal(f.t, http.StatusOK, res.StatusCode)
	data, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	doc, err := libopenapi.NewDocument(data)
	require.NoError(f.t, err)
	// A campaign file is text: JSON Lines are read as the string they are,
	// not as one JSON value.
	asText := content.DecoderFunc(func(in *content.DecodeInput) (any, error) {
		b, err := io.ReadAll(in.Body)
		return string(b), err
	})
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(),
		config.WithBodyDecoder("application/x-ndjson", asText), config.WithBodyDecoder("application/jsonl", asText))
	require.Empty(f.t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(f.t, ok, "the served OpenAPI document is not valid: %v", verrs)
	return v
}

// call is one request of a test.
type call struct {
	method, path, token string
	header              map[string]string
	body                string
	// badRequest: the request is wrong on purpose, so the document need
	// not accept it; its answer must still match the document.
	badRequest bool
	// undocumented: a method or path the document does not have, whose
	// answer it cannot describe.
	undocumented bool
}

// answer is the server's answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(a.body, &v), "body: %s", a.body)
	return v
}

// problem reads a problem answer and checks its shape.
func (a answer) problem(t testing.TB) api.Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", a.header.Get("Content-Type"), "body: %s", a.body)
	var p api.Problem
	require.NoError(t, json.Unmarshal(a.body, &p))
	require.Equal(t, a.status, p.Status)
	require.NotEmpty(t, p.Type)
	require.NotEmpty(t, p.Title)
	return p
}

// do sends c and checks the request (unless c.badRequest) and the answer
// against the served OpenAPI document.
func (f *fixture) do(c call) answer {
	f.t.Helper()
	req := f.request(c)
	if !c.badRequest {
		ok, errs := f.openapi.ValidateHttpRequestSync(f.request(c))
		require.True(f.t, ok, "request %s %s does not match the OpenAPI document: %v", c.method, c.path, errs)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(f.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(f.t, err)
	if !c.undocumented {
		f.checkAnswer(c, res, body)
	}
	return answer{status: res.StatusCode, header: res.Header, body: body}
}

// checkAnswer validates an answer against the document.
func (f *fixture) checkAnswer(c call, res *http.Response, body []byte) {
	f.t.Helper()
	copyRes := *res
	copyRes.Body = io.NopCloser(bytes.NewReader(body))
	ok, errs := f.openapi.ValidateHttpResponse(f.request(c), &copyRes)
	require.True(f.t, ok, "answer %d to %s %s does not match the OpenAPI document: %v\nbody: %s", res.StatusCode, c.method, c.path, errs, body)
}

func (f *fixture) request(c call) *http.Request {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, f.srv.URL+c.path, body)
	require.NoError(f.t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	return req
}

// keys lists every key in the test database.
func (f *fixture) keys() []string {
	f.t.Helper()
	ks, err := f.rdb.Keys(context.Background(), "*").Result()
	require.NoError(f.t, err)
	return ks
}

// testBackend is the API's Backend on a real producer and outcome store,
// as cmd/sendq wires it. Until records carry their account, it remembers
// in memory which account each message and campaign was sent for, as the
// records will.
type testBackend struct {
	p        *producer.Producer
	outcomes *outcome.Store
	client   *whautomate.Client

	mu        sync.Mutex
	owners    map[string]string // message id → account
	campaigns map[string]string // campaign id → account
}

func newTestBackend(t testing.TB, rdb redis.UniversalClient, client *whautomate.Client) *testBackend {
	p, err := producer.New(producer.Config{Redis: rdb})
	require.NoError(t, err)
	store, err := outcome.New(rdb, outcome.Config{})
	require.NoError(t, err)
	return &testBackend{p: p, outcomes: store, client: client, owners: map[string]string{}, campaigns: map[string]string{}}
}

func (b *testBackend) owner(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.owners[id]
}

func (b *testBackend) Send(ctx context.Context, account string, m tasks.Message) (producer.Receipt, error) {
	if m.ID == "" {
		m.ID = producer.NewID()
	}
	b.mu.Lock()
	if _, ok := b.owners[m.ID]; !ok {
		b.owners[m.ID] = account
	}
	b.mu.Unlock()
	return b.p.Send(ctx, m)
}

func (b *testBackend) Status(ctx context.Context, id string) (*producer.Outcome, string, error) {
	rec, err := b.p.Status(ctx, id)
	if err != nil {
		return nil, "", err
	}
	return rec, b.accountOf(rec.ID, rec.Campaign), nil
}

func (b *testBackend) accountOf(id, campaign string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if campaign != "" {
		if a, ok := b.campaigns[campaign]; ok {
			return a
		}
	}
	return b.owners[id]
}

func (b *testBackend) ContactMessages(ctx context.Context, _, contactID string, page, limit int) (*whautomate.MessagePage, error) {
	return b.client.Messages(ctx, contactID, page, limit)
}

func (b *testBackend) StartCampaign(ctx context.Context, account string, req api.CampaignRequest, body io.Reader) (api.CampaignStart, error) {
	st := api.CampaignStart{ID: req.ID}
	rows, bad, err := producer.ReadCampaign(body, req.JSONLines, req.Defaults)
	st.Rejected = bad
	if err != nil || len(rows) == 0 {
		return st, err
	}
	msgs := make([]tasks.Message, len(rows))
	for i, r := range rows {
		msgs[i] = r.Message
		msgs[i].NotBefore = req.At
	}
	b.mu.Lock()
	b.campaigns[req.ID] = account
	b.mu.Unlock()
	rep, err := b.p.StartCampaign(ctx, req.ID, msgs, producer.StartOptions{WaitLock: 15 * time.Second})
	st.Accepted, st.Duplicates = rep.Accepted, rep.Duplicates
	return st, err
}

func (b *testBackend) Campaign(ctx context.Context, id string) (*producer.Campaign, string, error) {
	c, err := b.p.CampaignStatus(ctx, id)
	if err != nil {
		return nil, "", err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return c, b.campaigns[id], nil
}

func (b *testBackend) PauseCampaign(ctx context.Context, id string) error {
	return b.p.PauseCampaign(ctx, id)
}
func (b *testBackend) ResumeCampaign(ctx context.Context, id string) error {
	return b.p.ResumeCampaign(ctx, id)
}
func (b *testBackend) CancelCampaign(ctx context.Context, id string) error {
	return b.p.CancelCampaign(ctx, id)
}

func (b *testBackend) Events(ctx context.Context, accts []string, cursor string, block time.Duration) ([]api.Event, string, error) {
	if cursor == "" {
		id, err := b.outcomes.LastEventID(ctx)
		return nil, id, err
	}
	evs, err := b.outcomes.EventsAfter(ctx, cursor, block, 500)
	if err != nil {
		if strings.Contains(err.Error(), outcome.ErrEventID.Error()) {
			return nil, cursor, api.ErrCursor
		}
		return nil, cursor, err
	}
	if len(evs) == 0 {
		return nil, cursor, nil
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.MessageID
	}
	recs, err := b.outcomes.GetMany(ctx, ids)
	if err != nil {
		return nil, cursor, err
	}
	var out []api.Event
	for i, e := range evs {
		if recs[i] == nil {
			continue
		}
		acct := b.accountOf(e.MessageID, recs[i].Campaign)
		reached := false
		for _, a := range accts {
			reached = reached || a == acct
		}
		if !reached {
			continue
		}
		rec := *recs[i]
		rec.State, rec.UpdatedAt = e.State, e.At
		out = append(out, api.Event{Cursor: e.ID, Account: acct, Outcome: rec})
	}
	return out, evs[len(evs)-1].ID, nil
}
