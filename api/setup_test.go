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
	"github.com/sendq/sendq/internal/redistest"
	"github.com/sendq/sendq/whautomate"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// Tokens of the test server: one for every account, one for each of two.
const (
	tokenAll = "token-all-accounts"
	tokenA   = "token-of-a"
	tokenB   = "token-of-b"
)

// redisSlot is this package's database (see redistest).
const redisSlot = 11

// fixture is a real API server on the real Redis, with its pieces.
type fixture struct {
	t       testing.TB
	srv     *httptest.Server
	api     *api.Server
	rdb     redis.UniversalClient
	backend *api.StoreBackend
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
	b, err := api.NewStoreBackend(rdb, set, func(accounts.Account) (*whautomate.Client, error) { return client, nil })
	require.NoError(t, err)
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
