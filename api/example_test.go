package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/api"
	"github.com/sendq/sendq/producer"
	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate"
)

// echoBackend accepts every message as queued; the other methods find
// nothing. (cmd/sendq wires the real one: the producer and its stores.)
type echoBackend struct{}

func (echoBackend) Send(_ context.Context, _ string, m tasks.Message) (producer.Receipt, error) {
	return producer.Receipt{ID: m.ID, State: producer.StateQueued}, nil
}
func (echoBackend) Status(context.Context, []string, string) (*producer.Outcome, string, error) {
	return nil, "", producer.ErrNotFound
}
func (echoBackend) ContactMessages(context.Context, string, string, int, int) (*whautomate.MessagePage, error) {
	return &whautomate.MessagePage{}, nil
}
func (echoBackend) StartCampaign(context.Context, string, api.CampaignRequest, io.Reader) (api.CampaignStart, error) {
	return api.CampaignStart{}, nil
}
func (echoBackend) Campaign(context.Context, string) (*producer.Campaign, string, error) {
	return nil, "", producer.ErrNotFound
}
func (echoBackend) PauseCampaign(context.Context, string) error  { return nil }
func (echoBackend) ResumeCampaign(context.Context, string) error { return nil }
func (echoBackend) CancelCampaign(context.Context, string) error { return nil }
func (echoBackend) Events(context.Context, []string, string, time.Duration) ([]api.Event, string, error) {
	return nil, "0-0", nil
}

func Example() {
	set, _ := accounts.NewSet(accounts.Account{ID: "clinic-sg", APIToken: "clinic-token"})
	srv, err := api.New(api.Config{Backend: echoBackend{}, Accounts: set})
	if err != nil {
		panic(err)
	}
	send := func(body string) {
		req := httptest.NewRequest("POST", "/api/v1/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer clinic-token")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "order-1042")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	send(`{"channel": "telegram", "to": {"contact_id": "c1"}, "text": "Your table is ready"}`)
	send(`{"channel": "whatsapp", "to": {"phone": "12"}, "text": "hi"}`)
	// Output:
	// 202 {"id":"order-1042","state":"queued","duplicate":false}
	// 400 {"type":"urn:sendq:problem:invalid-request","title":"Invalid request","status":400,"detail":"to.phone: must be 8 to 15 digits with country code","errors":[{"field":"to.phone","message":"must be 8 to 15 digits with country code"}]}
}

var _ http.Handler = (*api.Server)(nil)
