// Package redistest connects integration tests to a real Redis server.
//
// The server is named by SENDQ_TEST_REDIS_URL (default
// redis://127.0.0.1:6379/14); it may also be a redis-sentinel:// or
// redis-cluster:// URL (see package redisurl). Each test package passes its
// own slot so that packages tested in parallel never share a database: the
// database used is the URL's minus slot. Setup flushes that database only
// (never FLUSHALL: the others belong to someone else). Redis Cluster has one
// database, so there setup flushes every master, and packages must be tested
// one at a time (go test -p 1). With no server answering the test is
// skipped with a clear message, except under CI=true, where it fails.
package redistest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/redisurl"
)

// DefaultURL is used when SENDQ_TEST_REDIS_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/14"

// Slots in use, one per test package so that packages tested at once never
// flush each other's database: 0 benchmarks and redisurl, 1 worker, 2-6,
// 12 and 13 cmd/sendq (one per end-to-end test that may run at once with
// another), 7 ratelimit, 8 internal/optout, 9 internal/msglimit,
// 10 internal/outcome, 11 api.

// Options returns the connection options for slot (0 to 13) of a standalone
// SENDQ_TEST_REDIS_URL (tests that need a plain client).
func Options(t testing.TB, slot int) *redis.Options {
	t.Helper()
	opt, err := redis.ParseURL(baseURL())
	if err != nil {
		t.Skipf("SENDQ_TEST_REDIS_URL is not a standalone redis:// URL: %v", err)
	}
	if slot < 0 || slot > 13 || opt.DB-slot < 0 {
		t.Fatalf("redistest: slot %d out of range for database %d", slot, opt.DB)
	}
	opt.DB -= slot
	opt.PoolSize = 128
	return opt
}

func baseURL() string {
	if raw := os.Getenv("SENDQ_TEST_REDIS_URL"); raw != "" {
		return raw
	}
	return DefaultURL
}

// URL returns the URL of slot's database, as REDIS_URL for a process.
func URL(t testing.TB, slot int) string {
	t.Helper()
	raw := baseURL()
	switch {
	case strings.HasPrefix(raw, "redis-cluster://"):
		return raw
	case strings.HasPrefix(raw, "redis-sentinel://"):
		base, query, _ := strings.Cut(raw, "?")
		i := strings.LastIndexByte(base, '/')
		db, err := strconv.Atoi(base[i+1:])
		if i < len("redis-sentinel://") || err != nil || db-slot < 0 {
			t.Fatalf("SENDQ_TEST_REDIS_URL: want redis-sentinel://hosts/DB?master=NAME with DB ≥ %d", slot)
		}
		return fmt.Sprintf("%s/%d?%s", base[:i], db-slot, query)
	}
	opt := Options(t, slot)
	return fmt.Sprintf("redis://%s/%d", opt.Addr, opt.DB)
}

// Client returns a client on slot's database, flushed, closed at the end of
// the test.
func Client(t testing.TB, slot int) redis.UniversalClient {
	t.Helper()
	rdb, err := redisurl.Open(URL(t, slot), 128)
	if err != nil {
		t.Fatalf("SENDQ_TEST_REDIS_URL: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis at %s does not answer (CI=true needs it): %v", URL(t, slot), err)
		}
		t.Skipf("integration test skipped: no Redis answers at %s (%v); set SENDQ_TEST_REDIS_URL or start redis-server", URL(t, slot), err)
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.FlushDB(ctx).Err() })
	} else {
		err = rdb.FlushDB(ctx).Err()
	}
	if err != nil {
		t.Fatalf("redistest: flushdb: %v", err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// UsedMemory is the server's used_memory (INFO memory), in bytes.
func UsedMemory(t testing.TB, rdb redis.UniversalClient) int64 {
	t.Helper()
	v, ok := infoField(rdb, "memory", "used_memory")
	if !ok {
		t.Fatal("redistest: no used_memory in INFO")
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// CPU is the server's CPU time so far (INFO cpu, user and system), for
// benchmarks that report Redis CPU per operation.
func CPU(t testing.TB, rdb redis.UniversalClient) time.Duration {
	t.Helper()
	total := 0.0
	for _, f := range []string{"used_cpu_sys", "used_cpu_user"} {
		v, ok := infoField(rdb, "cpu", f)
		if !ok {
			t.Fatalf("redistest: no %s in INFO", f)
		}
		s, _ := strconv.ParseFloat(v, 64)
		total += s
	}
	return time.Duration(total * float64(time.Second))
}

func infoField(rdb redis.UniversalClient, section, field string) (string, bool) {
	for _, line := range strings.Split(rdb.Info(context.Background(), section).Val(), "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v, true
		}
	}
	return "", false
}
