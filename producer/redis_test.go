package producer_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

func usedMemory(t testing.TB, rdb redis.UniversalClient) int64 {
	t.Helper()
	info := rdb.Info(context.Background(), "memory").Val()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}

// redisCPU is the server's CPU time so far, in seconds.
func redisCPU(t testing.TB, rdb redis.UniversalClient) float64 {
	t.Helper()
	total := 0.0
	for _, line := range strings.Split(rdb.Info(context.Background(), "cpu").Val(), "\r\n") {
		k, v, _ := strings.Cut(line, ":")
		if k == "used_cpu_sys" || k == "used_cpu_user" {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}
