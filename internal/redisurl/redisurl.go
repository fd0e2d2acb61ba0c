// Package redisurl opens the Redis a REDIS_URL names: redis:// and
// rediss:// (one server), redis-sentinel://[:pw@]h:p[,h:p]/db?master=NAME
// (a master found through Sentinels, followed across failovers) and
// redis-cluster://[:pw@]h:p[,h:p] (Redis Cluster). Errors name REDIS_URL.
package redisurl

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Open returns a client for raw; poolSize 0 keeps go-redis's default.
func Open(raw string, poolSize int) (redis.UniversalClient, error) {
	u, err := parse(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "redis", "rediss":
		opt, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %v", err)
		}
		if poolSize > 0 {
			opt.PoolSize = poolSize
		}
		if opt.Network == "tcp" {
			opt.Dialer = checkedWhenIdle(redis.NewDialer(opt))
		}
		return redis.NewClient(opt), nil
	case "redis-sentinel":
		addrs, err := hostList(u, "26379")
		if err != nil {
			return nil, err
		}
		master := u.Query().Get("master")
		if master == "" {
			return nil, errors.New("REDIS_URL: redis-sentinel:// needs ?master=NAME")
		}
		db, err := dbNumber(u)
		if err != nil {
			return nil, err
		}
		pw, _ := u.User.Password()
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: master, SentinelAddrs: addrs, Password: pw, DB: db, PoolSize: poolSize,
			SentinelPassword: u.Query().Get("sentinel_password"),
			Dialer:           checkedWhenIdle(tcpDialer(nil)),
		}), nil
	case "redis-cluster":
		addrs, err := hostList(u, "6379")
		if err != nil {
			return nil, err
		}
		if p := strings.Trim(u.Path, "/"); p != "" && p != "0" {
			return nil, fmt.Errorf("REDIS_URL: Redis Cluster has database 0 only, not %q", p)
		}
		pw, _ := u.User.Password()
		opt := &redis.ClusterOptions{Addrs: addrs, Password: pw, PoolSize: poolSize}
		if u.Query().Get("tls") == "true" {
			opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		opt.Dialer = checkedWhenIdle(tcpDialer(opt.TLSConfig))
		return redis.NewClusterClient(opt), nil
	}
	return nil, fmt.Errorf("REDIS_URL: scheme %q: want redis, rediss, redis-sentinel or redis-cluster", u.Scheme)
}

// parse reads a URL whose host part may list several hosts (which
// url.Parse refuses as a bad port): it parses the URL with the first host
// and keeps the whole list in Host.
func parse(raw string) (*url.URL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, errors.New("REDIS_URL: not a URL")
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	userinfo, hosts := "", authority
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, hosts = authority[:i+1], authority[i+1:]
	}
	first, _, _ := strings.Cut(hosts, ",")
	u, err := url.Parse(scheme + "://" + userinfo + first + tail)
	if err != nil {
		return nil, errors.New("REDIS_URL: not a URL")
	}
	u.Host = hosts
	return u, nil
}

// hostList reads h:p[,h:p]; a host without a port gets defaultPort.
func hostList(u *url.URL, defaultPort string) ([]string, error) {
	var addrs []string
	for _, h := range strings.Split(u.Host, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if _, _, err := splitHostPort(h); err != nil {
			h += ":" + defaultPort
		}
		addrs = append(addrs, h)
	}
	if len(addrs) == 0 {
		return nil, errors.New("REDIS_URL: no host")
	}
	return addrs, nil
}

func splitHostPort(h string) (string, int, error) {
	i := strings.LastIndexByte(h, ':')
	if i < 0 || strings.HasSuffix(h, "]") {
		return "", 0, errors.New("no port")
	}
	port, err := strconv.Atoi(h[i+1:])
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, errors.New("bad port")
	}
	return h[:i], port, nil
}

func dbNumber(u *url.URL) (int, error) {
	p := strings.Trim(u.Path, "/")
	if p == "" {
		return 0, nil
	}
	db, err := strconv.Atoi(p)
	if err != nil || db < 0 {
		return 0, fmt.Errorf("REDIS_URL: database %q is not a number", p)
	}
	return db, nil
}
