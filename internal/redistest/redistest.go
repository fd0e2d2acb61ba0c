// Package redistest connects integration tests to a real Redis server.
//
// The server is named by SENDQ_TEST_REDIS_URL (default
// redis://127.0.0.1:6379/14). Each test package passes its own slot so that
// packages tested in parallel never share a database: the database used is
// the URL's minus slot. Setup flushes that database only (never FLUSHALL:
// the others belong to someone else). With no server answering the test is
// skipped with a clear message, except under CI=true, where it fails.
package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is used when SENDQ_TEST_REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/14"

// Options returns the connection options for slot (0 to 7).
func Options(t testing.TB, slot int) *redis.Options {
	t.Helper()
	raw := os.Getenv("SENDQ_TEST_REDIS_URL")
	if raw == "" {
		raw = DefaultURL
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("SENDQ_TEST_REDIS_URL: %v", err)
	}
	if slot < 0 || slot > 7 || opt.DB-slot < 0 {
		t.Fatalf("redistest: slot %d out of range for database %d", slot, opt.DB)
	}
	opt.DB -= slot
	opt.PoolSize = 128
	return opt
}

// URL returns the redis:// URL of slot's database.
func URL(t testing.TB, slot int) string {
	opt := Options(t, slot)
	return fmt.Sprintf("redis://%s/%d", opt.Addr, opt.DB)
}

// Client returns a client on slot's database, flushed, closed at the end of
// the test.
func Client(t testing.TB, slot int) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(Options(t, slot))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at %s does not answer (CI=true needs it): %v", rdb.Options().Addr, err)
		}
		t.Skipf("integration test skipped: no Redis answers at %s (%v); set SENDQ_TEST_REDIS_URL or start redis-server", rdb.Options().Addr, err)
	}
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redistest: flushdb: %v", err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
