package worker

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestHTTPHandlerMountsAPI: the API handler gets every path under /api/v1/
// and nothing else.
func TestHTTPHandlerMountsAPI(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	api := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusTeapot) })
	h := NewHTTPHandler(HTTPConfig{Redis: rdb, API: api})
	for path, want := range map[string]int{
		"/api/v1/messages":     http.StatusTeapot,
		"/api/v1/openapi.json": http.StatusTeapot,
		"/healthz":             http.StatusOK,
		"/api/v2/messages":     http.StatusNotFound,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		require.Equal(t, want, rec.Code, path)
	}
}
