package redisurl

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// idleCheck is how long a connection must have been idle before go-redis's
// health check looks at it.
//
// go-redis checks a pooled connection each time it takes one (a read system
// call that must find nothing to read), which on a send path of four round
// trips per message costs a sixth of the worker's CPU (go-redis#2599 reports
// 10-20 %). The check is there for a connection the server closed while it
// sat in the pool; one used within the last second is alive but for a server
// that went away in that second, and go-redis retries a command that finds
// its connection closed (EOF) on another one.
const idleCheck = time.Second

// checkedWhenIdle wraps dial's connections so that go-redis's health check
// runs only on those idle for idleCheck or longer. A connection that offers
// no system-call access (TLS) is returned as it is: go-redis cannot check it
// anyway.
func checkedWhenIdle(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		sc, ok := c.(syscall.Conn)
		if !ok {
			return c, nil
		}
		raw, err := sc.SyscallConn()
		if err != nil {
			return c, nil
		}
		w := &idleChecked{Conn: c, raw: raw}
		w.used.Store(time.Now().UnixNano())
		return w, nil
	}
}

// tcpDialer is go-redis's default dialer (redis.NewDialer) for the clients
// whose options hold no single *redis.Options to give it: Sentinel's and
// Cluster's.
func tcpDialer(tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return redis.NewDialer(&redis.Options{DialTimeout: 5 * time.Second, TLSConfig: tlsConfig})
}

type idleChecked struct {
	net.Conn
	raw  syscall.RawConn
	used atomic.Int64 // when it was last read or written, unix ns
}

func (c *idleChecked) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.used.Store(time.Now().UnixNano())
	return n, err
}

func (c *idleChecked) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.used.Store(time.Now().UnixNano())
	return n, err
}

// SyscallConn is what go-redis's health check reads the socket through: for
// a connection used within idleCheck, one that finds nothing to read and
// makes no system call.
func (c *idleChecked) SyscallConn() (syscall.RawConn, error) {
	if time.Now().UnixNano()-c.used.Load() < int64(idleCheck) {
		return recentlyUsed{}, nil
	}
	return c.raw, nil
}

// recentlyUsed is a syscall.RawConn that does nothing and reports no error.
type recentlyUsed struct{}

func (recentlyUsed) Control(func(fd uintptr)) error    { return nil }
func (recentlyUsed) Read(func(fd uintptr) bool) error  { return nil }
func (recentlyUsed) Write(func(fd uintptr) bool) error { return nil }
