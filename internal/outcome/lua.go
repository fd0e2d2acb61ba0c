package outcome

import (
	"github.com/redis/go-redis/v9"

	"github.com/sendq/sendq/internal/session"
)

// Every script that changes a record goes through move(), so the record, its
// campaign's counts and the event stream change together.
//
// A campaign is cancelled lazily: `cancel` moves the campaign's unfinished
// counts to "cancelled" at once, and a record that still says queued (or any
// unfinished state) counts — and reads — as cancelled from then on. eff() gives
// that effective state.
//
// Common KEYS: 1 record, 2 campaign hash (the record key again when there is no
// campaign), 3 event stream, 4 the counts of all messages by state. Common ARGV: 1 message id, 2 now (unix ms),
// 3 "1" if the message has a campaign, 4 event stream cap.
const luaPrelude = `
local okey, ckey, evkey, gkey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, now, hasc, evmax = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]
local TERMINAL = {sent=true, failed=true, expired=true, cancelled=true, suppressed=true}

local function campaign_state()
  if not hasc then return false end
  return redis.call('HGET', ckey, 'st')
end

local function eff(st)
  if st and not TERMINAL[st] and campaign_state() == 'cancelled' then return 'cancelled' end
  return st
end

local function event(st, extra)
  local args = {'XADD', evkey, 'MAXLEN', '~', evmax, '*', 'id', id, 'st', st, 't', now}
  if extra then for _, v in ipairs(extra) do table.insert(args, v) end end
  redis.call(unpack(args))
end

-- count moves the counts (global and campaign) of a record from state old
-- (nil: a new record) to new and adds the event; the record itself is the
-- caller's to write.
local function count(old, new, extra)
  if old == new then return end
  if old then redis.call('HINCRBY', gkey, old, -1) end
  redis.call('HINCRBY', gkey, new, 1)
  if hasc then
    if old then redis.call('HINCRBY', ckey, 'n:' .. old, -1) end
    redis.call('HINCRBY', ckey, 'n:' .. new, 1)
  end
  event(new, extra)
end

-- move sets the record's state to new and keeps the campaign counts in step.
local function move(new, extra)
  local old = eff(redis.call('HGET', okey, 'st'))
  redis.call('HSET', okey, 'st', new, 'ua', now)
  if old == 'scheduled' and new ~= old then redis.call('HDEL', okey, 'nb', 'rs') end
  count(old, new, extra)
  return old
end

-- create records a message that has no record yet; fields is a flat list.
local function create(state, fields)
  redis.call('HSET', okey, 'st', state, 'ca', now, unpack(fields))
  redis.call('HINCRBY', gkey, eff(state), 1)
  if hasc then
    redis.call('HINCRBY', ckey, 'tot', 1)
    redis.call('HINCRBY', ckey, 'n:' .. eff(state), 1)
  end
end

local function release_lease(token)
  if redis.call('HGET', okey, 'lt') == token then
    redis.call('HDEL', okey, 'lt', 'le')
  end
  if hasc then redis.call('ZREM', KEYS[5], id) end
end
`

// createScript: ARGV 5 state, 6 retention ms (for an unfinished record: the
// longest it may wait plus the retention), 7.. the record's fields.
// Returns {created (0/1), state}.
var createScript = redis.NewScript(luaPrelude + `
local st = redis.call('HGET', okey, 'st')
if st then return {0, eff(st)} end
local fields = {}
for i = 7, #ARGV do table.insert(fields, ARGV[i]) end
create(ARGV[5], fields)
redis.call('PEXPIRE', okey, ARGV[6])
return {1, eff(ARGV[5])}
`)

// claimScript starts a send attempt. KEYS 5 campaign in-flight set, 6 campaign
// held set. ARGV 5 token, 6 lease ms, 7 order score, 8 retention ms, 9 the
// member for the held set, 10.. the record's fields (to create it if the
// producer died before writing it).
// Returns {status, attempts, ambiguous (0/1), wait ms}.
var claimScript = redis.NewScript(luaPrelude + `
local st, at, lt, le, amb = unpack(redis.call('HMGET', okey, 'st', 'at', 'lt', 'le', 'amb'))
if not st then
  local fields = {}
  for i = 10, #ARGV do table.insert(fields, ARGV[i]) end
  create('queued', fields)
  redis.call('PEXPIRE', okey, ARGV[8])
  st = 'queued'
end
if TERMINAL[st] then return {'done', 0, 0, 0} end
local cst = campaign_state()
if cst == 'cancelled' then
  move('cancelled')
  redis.call('PEXPIRE', okey, ARGV[8])
  return {'cancelled', 0, 0, 0}
end
if cst == 'paused' or cst == 'auto_paused' then
  redis.call('ZADD', KEYS[6], ARGV[7], ARGV[9])
  return {'paused', 0, 0, 0}
end
local attempts = tonumber(at or '0')
local ambiguous = 0
if lt and lt ~= ARGV[5] then
  local left = tonumber(le) - tonumber(now)
  if left > 0 then return {'busy', attempts, 0, left} end
  ambiguous = 1
end
local until_ = tonumber(now) + tonumber(ARGV[6])
redis.call('HSET', okey, 'lt', ARGV[5], 'le', until_)
if amb then
  ambiguous = 1
  redis.call('HDEL', okey, 'amb')
end
if hasc then redis.call('ZADD', KEYS[5], until_, id) end
return {'claimed', attempts, ambiguous, 0}
`)

// finishScript records what a send attempt came to and gives the lease back.
// KEYS 5 campaign in-flight set, 6 upstream-id index (or the record key),
// 7 campaign rate counter for this second (or the record key).
// ARGV 5 token, 6 new state, 7 calls made (added to attempts), 8 upstream id,
// 9 error ("" clears it), 10 retention ms, 11 auto-pause: window ms,
// 12 min sample, 13 failure ratio (0 disables), 14 reason ("" leaves none:
// a scheduled message's not_before and reason go when it leaves the state).
// Returns the state before.
var finishScript = redis.NewScript(luaPrelude + `
local new = ARGV[6]
local cur, lt, at = unpack(redis.call('HMGET', okey, 'st', 'lt', 'at'))
local mine = lt and lt == ARGV[5]
if cur and TERMINAL[cur] and not (cur == 'sent' and new == 'failed') then
  if mine then redis.call('HDEL', okey, 'lt', 'le') end
  if hasc then redis.call('ZREM', KEYS[5], id) end
  return cur
end
-- One HSET and at most one HDEL write the record.
local set, del, extra = {'HSET', okey, 'st', new, 'ua', now}, {'HDEL', okey}, nil
local function put(f, v) table.insert(set, f); table.insert(set, v) end
if ARGV[8] ~= '' then
  put('u', ARGV[8])
  extra = {'u', ARGV[8]}
  redis.call('SET', KEYS[6], id, 'PX', ARGV[10])
end
if ARGV[9] == '' then table.insert(del, 'e') else put('e', ARGV[9]) end
if ARGV[14] ~= '' then
  put('rs', ARGV[14])
elseif cur == 'scheduled' then
  table.insert(del, 'rs')
end
if cur == 'scheduled' then table.insert(del, 'nb') end
local calls = tonumber(ARGV[7])
if calls > 0 then put('at', string.format('%d', tonumber(at or '0') + calls)) end
if new == 'sent' then put('sa', now) end
if mine then table.insert(del, 'lt'); table.insert(del, 'le') end
local old = eff(cur)
redis.call(unpack(set))
if #del > 2 then redis.call(unpack(del)) end
if hasc then redis.call('ZREM', KEYS[5], id) end
count(old, new, extra)
if TERMINAL[new] then
  redis.call('PEXPIRE', okey, ARGV[10])
  if hasc then
    if new == 'sent' then
      redis.call('INCR', KEYS[7])
      redis.call('PEXPIRE', KEYS[7], 120000)
    end
    -- auto-pause: failures over a recent window of finished messages
    local ratio = tonumber(ARGV[13])
    if ratio > 0 then
      local ws, wt, wf = unpack(redis.call('HMGET', ckey, 'ws', 'wt', 'wf'))
      ws, wt, wf = tonumber(ws or '0'), tonumber(wt or '0'), tonumber(wf or '0')
      if tonumber(now) - ws > tonumber(ARGV[11]) then ws, wt, wf = tonumber(now), 0, 0 end
      wt = wt + 1
      if new == 'failed' then wf = wf + 1 end
      redis.call('HSET', ckey, 'ws', ws, 'wt', wt, 'wf', wf)
      if wt >= tonumber(ARGV[12]) and wf / wt > ratio and redis.call('HGET', ckey, 'st') == 'running' then
        redis.call('HSET', ckey, 'st', 'auto_paused', 'rs',
          string.format('failure rate %d%% over the last %d finished messages (%d failed)', math.floor(100 * wf / wt), wt, wf))
      end
    end
  end
end
return old or ''
`)

// The scripts that end a run without a send (returnScript, retryScript,
// parkScript, holdScript) share KEYS 5, the campaign in-flight set, and ARGV 5, the
// run's token.

// luaSetAside ends a run without a send: the calls it made are added to the
// attempts, its reason becomes the record's error, the record moves to
// state, and the lease is given back.
const luaSetAside = `
local function set_aside(state, reason, calls)
  if tonumber(calls) > 0 then redis.call('HINCRBY', okey, 'at', calls) end
  if reason == '' then redis.call('HDEL', okey, 'e') else redis.call('HSET', okey, 'e', reason) end
  move(state)
  release_lease(ARGV[5])
end
`

// returnScript gives the lease back; nothing else changes.
var returnScript = redis.NewScript(luaPrelude + `
release_lease(ARGV[5])
return 1
`)

// retryScript records a run that will be retried. ARGV 6 reason, 7 calls
// made.
var retryScript = redis.NewScript(luaPrelude + luaSetAside + `
set_aside('retrying', ARGV[6], ARGV[7])
return 1
`)

// parkScript sets a message aside to wait for its contact's session window,
// unless one opened meanwhile (by the session rule: see session.WindowLua).
// KEYS 6.. pairs (session hash, waiting set) for each of the recipient's
// identities. ARGV 6 reason, 7 calls made, 8 window ms (0: do not check the
// window), 9 order score, 10 member for the waiting sets. Returns "open"
// when a session window is open by now (nothing parked, the lease kept),
// else "parked".
var parkScript = redis.NewScript(luaPrelude + luaSetAside + session.WindowLua + `
local window = tonumber(ARGV[8])
if window > 0 then
  for i = 6, #KEYS, 2 do
    if session_window(KEYS[i], window, now) == 'open' then return 'open' end
  end
  for i = 7, #KEYS, 2 do
    redis.call('ZADD', KEYS[i], ARGV[9], ARGV[10])
  end
end
set_aside('waiting_session', ARGV[6], ARGV[7])
return 'parked'
`)

// holdScript sets a message aside until a time, for a reason (quiet hours,
// the messaging limit): it moves to scheduled with not_before and reason,
// and the lease is given back. A message finished meanwhile (its campaign
// cancelled) only gives the lease back. ARGV 6 not_before (unix ms),
// 7 reason. Returns the state before.
var holdScript = redis.NewScript(luaPrelude + `
local old = eff(redis.call('HGET', okey, 'st'))
if old and TERMINAL[old] then
  release_lease(ARGV[5])
  return old
end
move('scheduled')
redis.call('HSET', okey, 'nb', ARGV[6], 'rs', ARGV[7])
release_lease(ARGV[5])
return old or ''
`)
