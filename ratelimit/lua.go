package ratelimit

import "github.com/redis/go-redis/v9"

// Every script reads the clock with TIME, so that all processes share
// Redis's clock, and keeps time as whole microseconds since the Unix epoch
// (about 1.8e15: exact in a Lua number, which is a float64). Numbers are
// written with %d because tostring would print them in exponent form.
//
// The keys (see keyspace for their names): the unscoped ones start with
// Config.Prefix ("{sendq}:rl:"); a scope's start with the same prefix with
// ":a:<scope>" inside the hash tag ("{sendq:a:<scope>}:rl:"), so that every
// key of one call shares a Redis Cluster slot and each scope (account) has a
// slot of its own.
//
//	{sendq}:rl:t:<key>               a key's schedule
//	{sendq}:rl:c:<key>               a key's cool-down
//	{sendq}:rl:rt:<key>:<recipient>  a recipient's schedule
//	{sendq}:rl:rc:<key>:<recipient>  a recipient's cool-down
//	{sendq}:rl:pn:<key>:<recipient>  a recipient's penalty count
//	{sendq:a:<scope>}:rl:b           the scope's budget schedule
//	{sendq:a:<scope>}:rl:ac          the scope's cool-down
//	{sendq:a:<scope>}:rl:t:<key>, …  a scoped key's and its recipients', as above
//
// Stored values:
//   - a schedule key ("b", "t:…", "rt:…") holds GCRA's theoretical arrival
//     time (TAT): the time the next event would be due if events went at
//     exactly the limit. It expires at that time, after which a missing key
//     and a TAT in the past mean the same.
//   - a cool-down key ("ac", "c:…", "rc:…") holds the time the cool-down ends
//     and expires then.
//   - a penalty key ("pn:…") counts a recipient's penalties and expires an
//     hour after the last.
//
// The levels of a request, broadest first: the scope (its budget and its
// cool-down), the key (its limit and cool-down), the recipient (its pace and
// cool-down). A script told which are present by a spec such as "skr" (the
// scope, the key, the recipient) finds their keys in KEYS in that order.
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

-- levels lists the levels spec names ('s' the scope, 'k' the key, 'r' the
-- recipient), broadest first, each with its place in the full order and the
-- reason codes of its schedule and of its cool-down.
local function levels(spec)
  local out = {}
  for i, lv in ipairs({{'s', 5, 6}, {'k', 1, 3}, {'r', 2, 4}}) do
    if string.find(spec, lv[1], 1, true) then
      out[#out + 1] = {name = lv[1], i = i, rate = lv[2], cool = lv[3]}
    end
  end
  return out
end
`

// Reason codes the scripts return, indexes into reasons.
const (
	codeNone = iota
	codeRate
	codeRecipientRate
	codeCooldown
	codeRecipientCooldown
	codeBudget
	codeScopeCooldown
)

// reasons names the reason codes as Reservation.Reason reports them.
var reasons = [...]string{
	codeNone:              "",
	codeRate:              ReasonRate,
	codeRecipientRate:     ReasonRecipientRate,
	codeCooldown:          ReasonCooldown,
	codeRecipientCooldown: ReasonRecipientCooldown,
	codeBudget:            ReasonBudget,
	codeScopeCooldown:     ReasonAccountCooldown,
}

// reserveScript takes one slot for the levels of a request: its scope's
// budget, its key's limit, its recipient's pace, each optional.
//
// KEYS: each level's schedule and cool-down, broadest first (see above).
// ARGV: 1-2 the budget's interval and tolerance τ (µs; interval 0: no
// limit), 3-4 the key's, 5-6 the recipient's, 7 the longest wait to commit
// to (µs), 8 the spec of the levels present.
// Returns {ok, wait µs, reason code, key hold µs, now µs, scope hold µs}:
// a hold is what the key's or the scope's level alone imposes (its
// cool-down, or without one the wait its schedule asks), which the local
// front may remember for it.
//
// GCRA with reservation: a level lets an event go at the earliest time
// t >= now with t >= TAT − τ; taking it moves TAT to max(TAT, t) + interval.
// The slot is the latest of the levels' times, and every level's schedule
// advances from it, or none does; a narrower level that would hold the event
// past a broader limited level's own next slot is refused rather than let it
// push that level's schedule (see the package doc).
var reserveScript = redis.NewScript(luaClock + `
local maxwait = tonumber(ARGV[7])
local lv = levels(ARGV[8])
for k, l in ipairs(lv) do
  l.t, l.c = KEYS[2 * k - 1], KEYS[2 * k]
  l.iv, l.tol = tonumber(ARGV[2 * l.i - 1]), tonumber(ARGV[2 * l.i])
end
-- holds is what the key's and the scope's levels alone impose.
local function holds()
  local k, s = 0, 0
  for _, l in ipairs(lv) do
    if l.name == 'k' then k = l.hold elseif l.name == 's' then s = l.hold end
  end
  return k, s
end

-- Cool-downs first: the longest, the broadest on a tie; nothing is taken.
local wait, reason = 0, 0
for _, l in ipairs(lv) do
  l.hold = left(l.c)
  if l.hold > wait then wait, reason = l.hold, l.cool end
end
if wait > 0 then
  local kh, sh = holds()
  return {0, wait, reason, kh, now, sh}
end

-- The slot: the latest of the levels' earliest times; the binding level is
-- the broadest that asks for it.
local at, bind = now, 0
for k, l in ipairs(lv) do
  l.tat = 0
  if l.iv > 0 then l.tat = tonumber(redis.call('GET', l.t)) or 0 end
  l.hold = math.max(now, l.tat - l.tol) - now
  if now + l.hold > at then at, bind, reason = now + l.hold, k, l.rate end
end
local kh, sh = holds()
if at - now > maxwait then return {0, at - now, reason, kh, now, sh} end
-- A narrower level not free when a broader limited one is would move that
-- one's schedule past its own next slot, wasting the capacity for every
-- other key or recipient: refuse instead, and let the caller come back.
for k = 1, bind - 1 do
  if lv[k].iv > 0 then return {0, at - now, reason, kh, now, sh} end
end

for _, l in ipairs(lv) do
  if l.iv > 0 then
    local n = math.max(l.tat, at) + l.iv
    redis.call('SET', l.t, int(n), 'PX', int(math.ceil((n - now) / 1000)))
  end
end
return {1, at - now, reason, kh, now, sh}
`)

// cooldownScript extends the cool-down at KEYS[1] to ARGV[1] µs from now.
// Returns the time left of it (µs), which is more than asked when a longer
// one was already running.
var cooldownScript = redis.NewScript(luaClock + `
return extend(KEYS[1], tonumber(ARGV[1]))
`)

// leftScript reports the cool-downs of the levels ARGV[1] names, whose
// cool-down keys are KEYS, broadest first. Returns {the longest µs (the
// broadest on a tie), its reason code, the key's µs, the scope's µs}.
var leftScript = redis.NewScript(luaClock + `
local best, reason, kh, sh = 0, 0, 0, 0
for k, l in ipairs(levels(ARGV[1])) do
  local d = left(KEYS[k])
  if d > best then best, reason = d, l.cool end
  if l.name == 'k' then kh = d elseif l.name == 's' then sh = d end
end
return {best, reason, kh, sh}
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
