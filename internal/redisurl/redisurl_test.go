package redisurl

import (
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		check     func(t *testing.T, c redis.UniversalClient)
		err       string
	}{
		{name: "Standalone", url: "redis://:pw@127.0.0.1:6380/3", check: func(t *testing.T, c redis.UniversalClient) {
			o := c.(*redis.Client).Options()
			require.Equal(t, "127.0.0.1:6380", o.Addr)
			require.Equal(t, 3, o.DB)
			require.Equal(t, "pw", o.Password)
		}},
		{name: "TLS", url: "rediss://h:6380/0", check: func(t *testing.T, c redis.UniversalClient) {
			require.NotNil(t, c.(*redis.Client).Options().TLSConfig)
		}},
		{name: "Sentinel", url: "redis-sentinel://:pw@s1:26380,s2,s3:26382/2?master=sendq", check: func(t *testing.T, c redis.UniversalClient) {
			_, ok := c.(*redis.Client) // a failover client is a *redis.Client
			require.True(t, ok)
			require.Equal(t, 2, c.(*redis.Client).Options().DB)
		}},
		{name: "Cluster", url: "redis-cluster://n1:7000,n2", check: func(t *testing.T, c redis.UniversalClient) {
			require.Equal(t, []string{"n1:7000", "n2:6379"}, c.(*redis.ClusterClient).Options().Addrs)
		}},
		{name: "SentinelWithoutMaster", url: "redis-sentinel://s1:26379/0", err: "master=NAME"},
		{name: "SentinelBadDB", url: "redis-sentinel://s1/x?master=m", err: `database "x"`},
		{name: "ClusterDB", url: "redis-cluster://n1:7000/2", err: "database 0 only"},
		{name: "NoHost", url: "redis-cluster:///", err: "no host"},
		{name: "UnknownScheme", url: "mysql://h", err: `scheme "mysql"`},
		{name: "NotAURL", url: "::", err: "not a URL"},
		{name: "BadStandalone", url: "redis://h:6379/notadb", err: "REDIS_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Open(tc.url, 0)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.ErrorContains(t, err, "REDIS_URL")
				return
			}
			require.NoError(t, err)
			defer c.Close()
			tc.check(t, c)
		})
	}
}

// FuzzOpen: any REDIS_URL gives a client or an error naming REDIS_URL,
// never a panic.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"redis://127.0.0.1:6379/0", "rediss://:pw@h:1/2", "redis-sentinel://a,b:2/1?master=m",
		"redis-cluster://a:1,b:2", "redis-cluster://a/3", "redis://h:99999", "redis-sentinel://[::1]:26379/0?master=m", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := Open(raw, 0)
		if err != nil {
			if len(err.Error()) < 9 || err.Error()[:9] != "REDIS_URL" {
				t.Fatalf("error does not name REDIS_URL: %v", err)
			}
			return
		}
		c.Close()
	})
}
