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
//	{sendq:a:<scope>}:rl:q:<lane>    a lane's admission schedule (Admit)
//	{sendq:a:<scope>}:rl:t:<key>, …  a scoped key's and its recipients', as above
//
// Stored values:
//   - a schedule key ("b", "t:…", "rt:…") holds GCRA's theoretical arrival
//     time (TAT): the time the next event would be due if events went at
//     exactly the limit. It expires at that time, after which a missing key
//     and a TAT in the past mean the same.
//   - an admission key ("q:…") holds the time the lane's next request may
//     start, and expires then.
//   - a cool-down key ("ac", "c:…", "rc:…") holds the time the cool-down ends
//     and expires then; or, for a hold (Limiter.Hold), the negated time the
//     hold ends, and it stays beyond that time until Unhold: once that time
//     has come, each request granted is a probe that moves it on by the
//     probe lease, so that one probe at a time checks whether the hold may
//     be lifted.
//   - a penalty key ("pn:…") counts a recipient's penalties and expires an
//     hour after the last.
//
// The levels of a request, broadest first: the scope (its budget and its
// cool-down), the key (its limit and cool-down), the recipient (its pace and
// cool-down). The scripts take the keys of the levels present in that order,
// and from ARGV the reason codes to answer for each, so that they need not
// know which levels are there.
const luaClock = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function int(n) return string.format('%d', n) end

-- A cool-down key holds the time it ends; a hold (Limiter.Hold) the
-- negated time, and it outlives that time: once it has passed, the next
-- request granted is the hold's probe, and the hold moves on past it.
local HOLD_TTL = 3600000 -- ms a hold is kept without a probe

-- left is the time that remains of the cool-down at key (0 if none), or of
-- the hold, up to HOLD_RECHECK (0 once its time has come).
local HOLD_RECHECK = 2000000 -- µs: the longest wait a hold reports

local function left(key)
  local v = tonumber(redis.call('GET', key))
  if v and v < 0 then
    -- Held: come back within HOLD_RECHECK, so that a lifted hold lets the
    -- waiting requests go within that.
    if -v > now then return math.min(-v - now, HOLD_RECHECK) end
    return 0
  end
  if v and v > now then return v - now end
  return 0
end

-- extend makes the cool-down at key last at least d from now; a hold
-- stays a hold.
local function extend(key, d)
  local want = now + d
  local v = tonumber(redis.call('GET', key))
  if v and v < 0 then
    if -v >= want then return -v - now end
    redis.call('SET', key, int(-want), 'PX', HOLD_TTL)
    return d
  end
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
// ARGV: 1 the longest wait to commit to (µs), then four a level: its
// interval (µs, 0: no limit), its tolerance τ (µs), and the reason codes of
// its schedule and of its cool-down.
// A last ARGV is the probe lease (µs): how long a probe of a hold keeps
// every other request of the hold's level waiting.
// Returns {ok, wait µs, reason code, now µs, 1 if the slot is a hold's probe,
// then a level's hold µs for each level}: a hold is what the level alone imposes (its cool-down, or without
// one the wait its schedule asks), which the local front may remember.
//
// GCRA with reservation: a level lets an event go at the earliest time
// t >= now with t >= TAT − τ; taking it moves TAT to max(TAT, t) + interval.
// The slot is the latest of the levels' times, and every level's schedule
// advances from it, or none does; a narrower level that would hold the event
// past a broader limited level's own next slot is refused rather than let it
// push that level's schedule (see the package doc).
var reserveScript = redis.NewScript(luaClock + `
local maxwait, n = tonumber(ARGV[1]), #KEYS / 2
local probe = tonumber(ARGV[#ARGV])
local function arg(k, j) return tonumber(ARGV[4 * k - 2 + j]) end
local hold, probing = {}, 0
local function answer(ok, wait, reason)
  return {ok, wait, reason, now, probing, unpack(hold, 1, n)}
end

-- Cool-downs first: the longest, the broadest on a tie; nothing is taken.
local wait, reason = 0, 0
for k = 1, n do
  hold[k] = left(KEYS[2 * k])
  if hold[k] > wait then wait, reason = hold[k], arg(k, 3) end
end
if wait > 0 then return answer(0, wait, reason) end

-- The slot: the latest of the levels' earliest times; the binding level is
-- the broadest that asks for it.
local tat, at, bind = {}, now, 0
for k = 1, n do
  tat[k] = 0
  if arg(k, 0) > 0 then tat[k] = tonumber(redis.call('GET', KEYS[2 * k - 1])) or 0 end
  hold[k] = math.max(now, tat[k] - arg(k, 1)) - now
  if now + hold[k] > at then at, bind, reason = now + hold[k], k, arg(k, 2) end
end
if at - now > maxwait then return answer(0, at - now, reason) end
-- A narrower level not free when a broader limited one is would move that
-- one's schedule past its own next slot, wasting the capacity for every
-- other key or recipient: refuse instead, and let the caller come back.
for k = 1, bind - 1 do
  if arg(k, 0) > 0 then return answer(0, at - now, reason) end
end

for k = 1, n do
  local iv = arg(k, 0)
  if iv > 0 then
    local t = math.max(tat[k], at) + iv
    redis.call('SET', KEYS[2 * k - 1], int(t), 'PX', int(math.ceil((t - now) / 1000)))
  end
  -- A hold whose time has come: this request is its probe, and no other
  -- goes until the probe's lease ends (or Unhold lifts the hold).
  local v = tonumber(redis.call('GET', KEYS[2 * k]))
  if v and v < 0 then
    redis.call('SET', KEYS[2 * k], int(-(at + probe)), 'PX', HOLD_TTL)
    probing = 1
  end
end
return answer(1, at - now, reason)
`)

// holdScript holds KEYS[1] for ARGV[1] µs from now, then lets one probe at
// a time through (see left): a refusal, fresh news, replaces a probe's
// lease. Returns 1.
var holdScript = redis.NewScript(luaClock + `
redis.call('SET', KEYS[1], int(-(now + tonumber(ARGV[1]))), 'PX', HOLD_TTL)
return 1
`)

// unholdScript lifts the hold at KEYS[1], if it is one (a cool-down stays).
// Returns 1 if it lifted one.
var unholdScript = redis.NewScript(`
local v = tonumber(redis.call('GET', KEYS[1]))
if v and v < 0 then redis.call('DEL', KEYS[1]) return 1 end
return 0
`)

// cooldownScript extends the cool-down at KEYS[1] to ARGV[1] µs from now.
// Returns the time left of it (µs), which is more than asked when a longer
// one was already running.
var cooldownScript = redis.NewScript(luaClock + `
return extend(KEYS[1], tonumber(ARGV[1]))
`)

// leftScript reports the cool-downs at KEYS, a level's each, broadest
// first; ARGV holds the reason code of each. Returns {the longest µs (the
// broadest on a tie), its reason code, then each one's µs}.
var leftScript = redis.NewScript(luaClock + `
local best, reason, each = 0, 0, {}
for k = 1, #KEYS do
  each[k] = left(KEYS[k])
  if each[k] > best then best, reason = each[k], tonumber(ARGV[k]) end
end
return {best, reason, unpack(each)}
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
