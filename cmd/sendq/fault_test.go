package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sendq/sendq/tasks"
	"github.com/sendq/sendq/whautomate/whautomatetest"
)

// faultRow is one line of the fault table: what broke, and what it cost.
type faultRow struct {
	fault      string
	messages   int
	lost       int
	sentTwice  int
	recovery   time.Duration
	annotation string
}

var (
	faultMu    sync.Mutex
	faultTable []faultRow
)

func report(t *testing.T, r faultRow) {
	t.Helper()
	faultMu.Lock()
	faultTable = append(faultTable, r)
	faultMu.Unlock()
	t.Logf("%-34s messages %5d  lost %d  sent twice %d  recovered in %v  %s",
		r.fault, r.messages, r.lost, r.sentTwice, r.recovery.Round(100*time.Millisecond), r.annotation)
}

// TestFaults breaks one thing at a time under a run of real worker processes
// and counts what was lost (must be 0) and sent twice; the table is printed
// at the end (go test -v -run TestFaults ./cmd/sendq/).
func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end fault suite; skipped with -short")
	}
	// The faults mostly wait (for asynq's lease, an outage, a slow API):
	// they run at once, each on its own database or server, after the
	// package's other tests (parallel tests wait for the rest), so that
	// they never share the machine with a timing test.
	t.Parallel()
	t.Cleanup(func() {
		var b strings.Builder
		fmt.Fprintf(&b, "\n%-34s %8s %5s %10s %10s\n", "fault", "messages", "lost", "sent twice", "recovery")
		for _, r := range faultTable {
			fmt.Fprintf(&b, "%-34s %8d %5d %10d %10v  %s\n", r.fault, r.messages, r.lost, r.sentTwice, r.recovery.Round(100*time.Millisecond), r.annotation)
		}
		t.Log(b.String())
	})
	env := []string{"SENDQ_CONCURRENCY=20", "SENDQ_RATE_WHATSAPP=0", "SENDQ_PACE_WHATSAPP=0"}

	t.Run("WorkerSIGKILL", func(t *testing.T) {
		t.Parallel()
		f := newFleet(t, 3, whautomatetest.Options{Latency: 50 * time.Millisecond}, env...)
		ids := f.enqueue(tasks.WhatsApp, "kill", 400)
		a := f.start("worker-a")
		waitFor(t, "a third sent", 60*time.Second, func() bool { return f.sandbox.SentCount() >= 130 })
		require.NoError(t, a.Process.Signal(syscall.SIGKILL))
		_ = a.Wait()
		killed := time.Now()
		f.start("worker-b")
		f.waitFinished(ids, 5*time.Minute)
		lost, twice := f.tally(ids)
		report(t, faultRow{"worker SIGKILL mid-run", len(ids), lost, twice, time.Since(killed), "asynq lease (30 s) + recoverer"})
		require.Zero(t, lost)
	})

	t.Run("RedisKilledAndRestartedWithAOF", func(t *testing.T) {
		t.Parallel()
		srv := startRedis(t)
		f := fleetOn(t, srv.client(t), srv.url(), whautomatetest.Options{Latency: 20 * time.Millisecond}, env...)
		ids := f.enqueue(tasks.WhatsApp, "redis", 600)
		f.start("worker")
		waitFor(t, "some sent", 60*time.Second, func() bool { return f.sandbox.SentCount() >= 150 })
		srv.kill(t)
		down := time.Now()
		time.AfterFunc(3*time.Second, func() { srv.restart(t) })
		f.waitFinished(ids, 4*time.Minute)
		lost, twice := f.tally(ids)
		report(t, faultRow{"Redis SIGKILL, restart after 3 s", len(ids), lost, twice, time.Since(down), "AOF appendfsync everysec"})
		require.Zero(t, lost)
	})

	t.Run("APIDownFor30s", func(t *testing.T) {
		t.Parallel()
		f := newFleet(t, 6, whautomatetest.Options{Latency: 20 * time.Millisecond}, env...)
		ids := f.enqueue(tasks.WhatsApp, "down", 300)
		f.start("worker")
		waitFor(t, "some sent", 60*time.Second, func() bool { return f.sandbox.SentCount() >= 50 })
		f.sandbox.SetDown(true)
		<-time.After(30 * time.Second) // the outage itself
		f.sandbox.SetDown(false)
		back := time.Now()
		f.waitFinished(ids, 5*time.Minute)
		lost, twice := f.tally(ids)
		report(t, faultRow{"API answering 503 for 30 s", len(ids), lost, twice, time.Since(back), "recovery after the API is back (backoff)"})
		require.Zero(t, lost)
	})

	t.Run("APIAnsweringAfter2s", func(t *testing.T) {
		t.Parallel()
		f := newFleet(t, 12, whautomatetest.Options{Latency: 2 * time.Second}, env...)
		ids := f.enqueue(tasks.WhatsApp, "slow", 200)
		start := time.Now()
		f.start("worker")
		f.waitFinished(ids, 3*time.Minute)
		lost, twice := f.tally(ids)
		report(t, faultRow{"API answering after 2 s", len(ids), lost, twice, time.Since(start), "whole run (20 concurrent)"})
		require.Zero(t, lost)
	})

	t.Run("ConnectionCutAfterTheRequest", func(t *testing.T) {
		t.Parallel()
		f := newFleet(t, 13, whautomatetest.Options{Latency: 10 * time.Millisecond}, env...)
		// Texts to contacts with open windows: each first call is taken in and
		// its connection cut, unanswered.
		var ids []string
		for i := range 100 {
			contact := fmt.Sprintf("cut-%05d", i)
			f.sandbox.MarkInbound(tasks.WhatsApp, contact, "", time.Now())
			f.sandbox.Script(whautomatetest.Match{Recipient: contact}, whautomatetest.Answer{Drop: true, Accept: true})
			m := tasks.Message{ID: contact, Channel: tasks.WhatsApp, Kind: tasks.KindText,
				To: tasks.Recipient{ContactID: contact}, Text: "your code is " + contact}
			_, err := f.producer.Send(context.Background(), m)
			require.NoError(t, err)
			ids = append(ids, contact)
		}
		start := time.Now()
		f.start("worker")
		f.waitFinished(ids, 3*time.Minute)
		lost, twice := f.tally(ids)
		report(t, faultRow{"connection cut after the request", len(ids), lost, twice, time.Since(start), "contact texts: checked before resending"})
		require.Zero(t, lost)
		require.Zero(t, twice)
	})
}

// redisServer is a redis-server process of the test's own, with AOF on
// unless its args turn it off.
type redisServer struct {
	port int
	dir  string
	cmd  *exec.Cmd
	args []string
}

// startRedis starts a redis-server of the test's own; args are further
// configuration, after (and over) the defaults.
func startRedis(t *testing.T, args ...string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &redisServer{port: port, dir: t.TempDir(), args: args}
	s.restart(t)
	t.Cleanup(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
		}
	})
	return s
}

func (s *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

func (s *redisServer) client(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.port), PoolSize: 64})
	t.Cleanup(func() { c.Close() })
	return c
}

// restart starts the server on its port and directory, and waits until it answers.
func (s *redisServer) restart(t *testing.T) {
	args := append([]string{"--port", fmt.Sprint(s.port), "--bind", "127.0.0.1", "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction"}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	logf, err := os.Create(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		t.Error(err)
		return
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		t.Error(err)
		return
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", s.port)})
	defer c.Close()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for c.Ping(context.Background()).Err() != nil {
		select {
		case <-deadline:
			t.Error("redis-server did not start")
			return
		case <-tick.C:
		}
	}
}

func (s *redisServer) kill(t *testing.T) {
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGKILL))
	_ = s.cmd.Wait()
}
