package redisurl

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHealthCheckOnlyWhenIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			_, _ = c.Write([]byte("+OK\r\n"))
			_, _ = io.Copy(io.Discard, c) // until the client closes
		}
	}()
	c, err := checkedWhenIdle(tcpDialer(nil))(context.Background(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	w, ok := c.(*idleChecked)
	require.True(t, ok, "a TCP connection is wrapped")

	probe := func() bool {
		raw, err := w.SyscallConn()
		require.NoError(t, err)
		called := false
		require.NoError(t, raw.Read(func(uintptr) bool { called = true; return true }))
		return called
	}
	require.False(t, probe(), "just dialled: no check")
	buf := make([]byte, 5)
	_, err = c.Read(buf)
	require.NoError(t, err)
	require.False(t, probe(), "just read: no check")
	w.used.Store(time.Now().Add(-idleCheck).UnixNano())
	require.True(t, probe(), "idle for idleCheck: the real socket is checked")
}

func TestTLSConnectionsAreNotWrapped(t *testing.T) {
	a, b := net.Pipe() // like a *tls.Conn, it offers no system-call access
	defer b.Close()
	c, err := checkedWhenIdle(func(context.Context, string, string) (net.Conn, error) { return a, nil })(context.Background(), "tcp", "x")
	require.NoError(t, err)
	require.Same(t, a, c)
}
