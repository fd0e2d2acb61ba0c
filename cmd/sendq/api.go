package main

import (
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/accounts"
	"github.com/sendq/sendq/api"
)

// newAPI is the HTTP API (README "HTTP API") on rdb for the configured
// accounts, with the token that reaches all of them.
func newAPI(rdb redis.UniversalClient, set *accounts.Set, token string, log *slog.Logger) (*api.Server, error) {
	b, err := api.NewStoreBackend(rdb, set, apiClient)
	if err != nil {
		return nil, err
	}
	return api.New(api.Config{Backend: b, Accounts: set, Token: token, Logger: log})
}
