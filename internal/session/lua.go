package session

import "github.com/redis/go-redis/v9"

// Fields of a session hash.
const (
	fieldInbound = "in" // unix ms of the last inbound message
	fieldClosed  = "cl" // unix ms of the last "outside the window" answer
)

// WindowLua is the session rule, and the one place it is written: the Lua
// function session_window(key, window_ms, now_ms) tells what the session
// hash at key says of the window at now — 'open' while now < inbound +
// window and no refusal came after the inbound message, 'unknown' with
// nothing on record, else 'closed'. The store's look-ups run it, and the
// outcome store's park script includes it, to check atomically with
// parking that no window opened meanwhile.
const WindowLua = `
local function session_window(key, window, now)
  local inb, closed = unpack(redis.call('HMGET', key, '` + fieldInbound + `', '` + fieldClosed + `'))
  inb, closed = tonumber(inb or '0'), tonumber(closed or '0')
  if inb == 0 and closed == 0 then return 'unknown' end
  if inb > 0 and inb >= closed and tonumber(now) < inb + tonumber(window) then return 'open' end
  return 'closed'
end
`

// lookupScript tells what is known of a window. KEYS 1 the session hash.
// ARGV 1 window ms, 2 now (unix ms). Returns 'open', 'closed' or 'unknown'.
var lookupScript = redis.NewScript(WindowLua + `
return session_window(KEYS[1], ARGV[1], ARGV[2])
`)

// inboundScript records an inbound message: the later inbound time wins, and
// any refusal on record is forgotten (the contact has written since).
// KEYS 1 the session hash. ARGV 1 the message's time (unix ms), 2 how long
// the hash is kept (ms), 3 window ms, 4 now (unix ms). Returns the window
// at now, as lookupScript does.
var inboundScript = redis.NewScript(WindowLua + `
local cur = tonumber(redis.call('HGET', KEYS[1], '` + fieldInbound + `') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], '` + fieldInbound + `', ARGV[1]) end
redis.call('HDEL', KEYS[1], '` + fieldClosed + `')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return session_window(KEYS[1], ARGV[3], ARGV[4])
`)

// closedScript records a refusal, keeping the later time. KEYS 1 the
// session hash. ARGV 1 the refusal's time (unix ms), 2 how long the hash is
// kept (ms).
var closedScript = redis.NewScript(`
local cur = tonumber(redis.call('HGET', KEYS[1], '` + fieldClosed + `') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], '` + fieldClosed + `', ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)
