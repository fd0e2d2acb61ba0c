package ratelimit

import "github.com/redis/go-redis/v9"

// Every script reads the clock with TIME, so that all processes share
// Redis's clock, and keeps time as whole microseconds since the Unix epoch
// (about 1.8e15: exact in a Lua number, which is a float64). Numbers are
// written with %d because tostring would print them in exponent form.
//
// Stored values:
//   - a schedule key ("t:…", "rt:…") holds GCRA's theoretical arrival time
//     (TAT): the time the next event would be due if events went at exactly
//     the limit. It expires at that time, after which a missing key and a TAT
//     in the past mean the same.
//   - a cool-down key ("c:…", "rc:…") holds the time the cool-down ends and
//     expires then.
//   - a penalty key ("pn:…") counts a recipient's penalties and expires an
//     hour after the last.
const luaClock = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function int(n) return string.format('%d', n) end

-- left is the time that remains of the cool-down at key (0 if none).
local function left(key)
  local v = tonumber(redis.call('GET', key))
  if v and v > now then return v - now end
  return 0
end

-- extend makes the cool-down at key last at least d from now.
local function extend(key, d)
  local want = now + d
  local v = tonumber(redis.call('GET', key))
  if v and v >= want then return v - now end
  redis.call('SET', key, int(want), 'PX', int(math.ceil(d / 1000)))
  return d
end
`

// Reason codes the scripts return, indexes into reasons.
const (
	codeNone = iota
	codeRate
	codeRecipientRate
	codeCooldown
	codeRecipientCooldown
)

// reasons names the reason codes as Reservation.Reason reports them.
var reasons = [...]string{
	codeNone:              "",
	codeRate:              ReasonRate,
	codeRecipientRate:     ReasonRecipientRate,
	codeCooldown:          ReasonCooldown,
	codeRecipientCooldown: ReasonRecipientCooldown,
}

// reserveScript takes one slot for a key and, optionally, a recipient of it.
//
// KEYS: 1 the key's schedule, 2 the key's cool-down, and with a recipient
// 3 the recipient's schedule, 4 the recipient's cool-down.
// ARGV: 1 the key's interval (µs, 0: no limit), 2 its tolerance τ (µs),
// 3 the recipient's interval (µs, 0: no limit), 4 its tolerance (µs),
// 5 the longest wait to commit to (µs).
// Returns {ok, wait µs, reason code, hold µs, now µs}: hold is what the
// key alone imposes (its cool-down, or without one the wait its schedule
// asks), which the local front may remember for the key.
//
// GCRA with reservation: an event may go at the earliest time t >= now with
// t >= TAT − τ; taking it moves TAT to max(TAT, t) + interval. Both
// schedules advance from the same t, or neither does; a recipient that would
// hold the event past the key's own next slot is refused rather than let it
// push the key's schedule (see the package doc).
var reserveScript = redis.NewScript(luaClock + `
local ci, ctol = tonumber(ARGV[1]), tonumber(ARGV[2])
local ri, rtol = tonumber(ARGV[3]), tonumber(ARGV[4])
local maxwait = tonumber(ARGV[5])
local rcp = #KEYS == 4

local ccd, rcd = left(KEYS[2]), 0
if rcp then rcd = left(KEYS[4]) end
if ccd > 0 and ccd >= rcd then return {0, ccd, 3, ccd, now} end
if rcd > 0 then return {0, rcd, 4, ccd, now} end

local function tat(key, iv)
  if iv <= 0 then return 0 end
  return tonumber(redis.call('GET', key)) or 0
end
local ctat, rtat = tat(KEYS[1], ci), 0
if rcp then rtat = tat(KEYS[3], ri) end
local cat = math.max(now, ctat - ctol)
local rat = math.max(now, rtat - rtol)
local at = math.max(cat, rat)
local reason = 0
if at > now then
  if cat >= rat then reason = 1 else reason = 2 end
end
if at - now > maxwait then return {0, at - now, reason, cat - now, now} end
-- A recipient that is not free when the channel is would move the channel's
-- schedule past its own next slot, wasting that capacity for every other
-- recipient: refuse instead, and let the caller come back at rat.
if ci > 0 and rat > cat then return {0, rat - now, 2, cat - now, now} end

local function commit(key, old, iv)
  local n = math.max(old, at) + iv
  redis.call('SET', key, int(n), 'PX', int(math.ceil((n - now) / 1000)))
end
if ci > 0 then commit(KEYS[1], ctat, ci) end
if rcp and ri > 0 then commit(KEYS[3], rtat, ri) end
return {1, at - now, reason, cat - now, now}
`)

// cooldownScript extends the cool-down at KEYS[1] to ARGV[1] µs from now.
// Returns the time left of it (µs), which is more than asked when a longer
// one was already running.
var cooldownScript = redis.NewScript(luaClock + `
return extend(KEYS[1], tonumber(ARGV[1]))
`)

// leftScript reports the cool-downs on a key (KEYS[1]) and, optionally, a
// recipient of it (KEYS[2]). Returns {the longer one µs, its reason code,
// the key's µs}.
var leftScript = redis.NewScript(luaClock + `
local c, r = left(KEYS[1]), 0
if #KEYS == 2 then r = left(KEYS[2]) end
if c > 0 and c >= r then return {c, 3, c} end
if r > 0 then return {r, 4, c} end
return {0, 0, 0}
`)

// penalizeScript counts a penalty for a recipient and sets its cool-down.
// KEYS: 1 the penalty count, 2 the recipient's cool-down. ARGV: 1 the first
// cool-down (µs), 2 the factor between successive ones, 3 the cap (µs), 4 how
// long the count is kept after the last penalty (ms).
// Returns the cool-down set for this penalty (µs).
var penalizeScript = redis.NewScript(luaClock + `
local base, factor, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local n = redis.call('INCR', KEYS[1]) - 1
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local d = base
for i = 1, n do
  d = d * factor
  if d >= cap then break end
end
d = math.min(d, cap)
extend(KEYS[2], d)
return d
`)
