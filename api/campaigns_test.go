package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func csvCall(path, token, body string) call {
	return call{method: "POST", path: path, token: token, body: body, header: map[string]string{"Content-Type": "text/csv"}}
}

func TestCampaigns(t *testing.T) {
	f := setup(t)
	file := "phone,name,param1\n+6591230001,Ann,A1\nnot-a-phone,Bob,B1\n+6591230002,Cid,C1\n+6591230001,Ann,A1\n"
	a := f.do(csvCall("/api/v1/campaigns?id=spring&channel=whatsapp&template=promo&language=en", tokenA, file))
	require.Equal(t, http.StatusCreated, a.status, "%s", a.body)
	r := a.json(t)
	require.Equal(t, "spring", r["id"])
	require.Equal(t, "a", r["account"])
	require.EqualValues(t, 2, r["accepted"])
	require.EqualValues(t, 1, r["rejected"])
	require.EqualValues(t, 1, r["duplicates"])
	errs := r["errors"].([]any)
	require.EqualValues(t, 3, errs[0].(map[string]any)["line"])
	require.Equal(t, "/api/v1/campaigns/spring", a.header.Get("Location"))

	t.Run("status", func(t *testing.T) {
		s := f.do(call{method: "GET", path: "/api/v1/campaigns/spring", token: tokenA})
		require.Equal(t, http.StatusOK, s.status, "%s", s.body)
		st := s.json(t)
		require.Equal(t, "running", st["state"])
		require.EqualValues(t, 2, st["total"])
		require.EqualValues(t, 2, st["counts"].(map[string]any)["queued"])
	})
	t.Run("another account sees nothing", func(t *testing.T) {
		for _, c := range []call{
			{method: "GET", path: "/api/v1/campaigns/spring", token: tokenB},
			{method: "POST", path: "/api/v1/campaigns/spring/pause", token: tokenB},
			{method: "POST", path: "/api/v1/campaigns/spring/cancel", token: tokenB},
			csvCall("/api/v1/campaigns?id=spring&channel=whatsapp&template=promo&language=en", tokenB, "phone\n+6591230009\n"),
		} {
			got := f.do(c)
			require.Equal(t, http.StatusNotFound, got.status, "%s %s: %s", c.method, c.path, got.body)
		}
		s := f.do(call{method: "GET", path: "/api/v1/campaigns/spring", token: tokenA})
		require.Equal(t, "running", s.json(t)["state"], "B's refused pause changed nothing")
		require.EqualValues(t, 2, s.json(t)["total"], "B's refused start added nothing")
	})
	t.Run("pause, resume, cancel", func(t *testing.T) {
		for _, step := range []struct{ action, state string }{{"pause", "paused"}, {"resume", "running"}, {"cancel", "cancelled"}} {
			got := f.do(call{method: "POST", path: "/api/v1/campaigns/spring/" + step.action, token: tokenAll})
			require.Equal(t, http.StatusOK, got.status, "%s", got.body)
			require.Equal(t, step.state, got.json(t)["state"])
		}
		got := f.do(call{method: "POST", path: "/api/v1/campaigns/spring/resume", token: tokenA})
		require.Equal(t, http.StatusConflict, got.status, "%s", got.body)
		again := f.do(csvCall("/api/v1/campaigns?id=spring&channel=whatsapp&template=promo&language=en", tokenA, "phone\n+6591230003\n"))
		require.Equal(t, http.StatusConflict, again.status, "%s", again.body)
	})
	t.Run("JSON Lines", func(t *testing.T) {
		body := `{"contact_id": "c1", "text": "hi"}` + "\n" + `{"contact_id": "c2", "text": "hello"}` + "\n"
		got := f.do(call{method: "POST", path: "/api/v1/campaigns?id=jl&channel=telegram", token: tokenB, body: body,
			header: map[string]string{"Content-Type": "application/x-ndjson"}})
		require.Equal(t, http.StatusCreated, got.status, "%s", got.body)
		require.EqualValues(t, 2, got.json(t)["accepted"])
		require.Equal(t, "b", got.json(t)["account"])
	})
	t.Run("unknown campaign", func(t *testing.T) {
		for _, c := range []call{
			{method: "GET", path: "/api/v1/campaigns/nope", token: tokenAll},
			{method: "POST", path: "/api/v1/campaigns/nope/pause", token: tokenAll},
		} {
			got := f.do(c)
			require.Equal(t, http.StatusNotFound, got.status, "%s", got.body)
		}
	})
}

// TestCampaignOverTheCap: an upload past MaxCampaignBytes is refused with
// 413 while it streams, and starts nothing.
func TestCampaignOverTheCap(t *testing.T) {
	f := setup(t, func(o *setupOptions) { o.cfg.MaxCampaignBytes = 1 << 10 })
	var file strings.Builder
	file.WriteString("contact_id\n")
	for i := 0; file.Len() <= 2<<10; i++ {
		fmt.Fprintf(&file, "contact-%d\n", i)
	}
	for _, ct := range []string{"text/csv", "application/x-ndjson"} {
		body := file.String()
		if ct != "text/csv" {
			body = strings.ReplaceAll(strings.TrimPrefix(body, "contact_id\n"), "contact-", `{"contact_id": "x`)
			body = strings.ReplaceAll(body, "\n", "\"}\n")
		}
		a := f.do(call{method: "POST", path: "/api/v1/campaigns?id=big&channel=telegram&text=hi", token: tokenA, body: body,
			header: map[string]string{"Content-Type": ct}, badRequest: true})
		require.Equal(t, http.StatusRequestEntityTooLarge, a.status, "%s: %s", ct, a.body)
		require.Equal(t, "body", a.problem(t).Errors[0].Field)
	}
	require.Empty(t, f.keys())
}
