package msglimit

import "github.com/redis/go-redis/v9"

// takeLua decides one recipient against an account's messaging limit, the
// whole rule in one script so that every worker process counts the same.
//
// KEYS[1] counted: recipient → when first counted (ms), the rolling window.
// KEYS[2] waiting: transactional recipients refused → when their claim lapses (ms).
// ARGV: recipient, limit, transactional (1/0), now (ms), window (ms), grace (ms).
//
// Returns {1, 1} when counted now, {1, 0} when already counted in the
// window, {0, notBefore ms} when refused.
var takeLua = redis.NewScript(`
local counted, waiting = KEYS[1], KEYS[2]
local who = ARGV[1]
local limit = tonumber(ARGV[2])
local transactional = ARGV[3] == '1'
local now = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local grace = tonumber(ARGV[6])

redis.call('ZREMRANGEBYSCORE', counted, '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', waiting, '-inf', now)

if redis.call('ZSCORE', counted, who) then
  redis.call('ZREM', waiting, who)
  return {1, 0}
end

local n = redis.call('ZCARD', counted)
local reserved = 0
if not transactional then
  reserved = redis.call('ZCARD', waiting)
end
if limit - n > reserved then
  redis.call('ZADD', counted, now, who)
  redis.call('PEXPIRE', counted, window)
  redis.call('ZREM', waiting, who)
  return {1, 1}
end

-- Refused: a place is free for it once enough of the oldest counted
-- recipients have left the window.
local leave = n - limit + reserved + 1
local nb = now + grace
if n > 0 then
  local idx = math.min(math.max(leave, 1), n) - 1
  local oldest = redis.call('ZRANGE', counted, idx, idx, 'WITHSCORES')
  nb = math.max(tonumber(oldest[2]) + window, now + 1)
end
if transactional then
  redis.call('ZADD', waiting, nb + grace, who)
  local last = redis.call('ZRANGE', waiting, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', waiting, tonumber(last[2]) - now)
end
return {0, nb}
`)

// forgetLua takes a recipient's count back, only if it is the count made at
// that instant (not an earlier send's).
//
// KEYS[1] counted. ARGV: recipient, the instant of the count (ms).
var forgetLua = redis.NewScript(`
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
`)
