// The Lua scripts behind RedisCounters. Each takes the calls of one event-loop turn (TickBatch) and
// runs them in order, as separate commands would run, but in one round trip; Redis runs a script
// atomically, which is what makes check-and-reserve exact across instances.
import { RedisScript } from "./redis-script.ts";

// Hits, one per key (a key may come more than once). A hit window opens with its first hit and
// expires at its end, so an ended window is simply gone. ARGV[i]: key i's window length.
// Answers (count, ms left) per key.
export const HITS = new RedisScript(`
local out = {}
for i = 1, #KEYS do
  local c = redis.call('INCR', KEYS[i])
  local t = redis.call('PTTL', KEYS[i])
  if t < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[i]); t = tonumber(ARGV[i]) end
  out[2 * i - 1] = c
  out[2 * i] = t
end
return out`);

export const PEEK = new RedisScript(`
local c = redis.call('GET', KEYS[1])
if not c then return false end
return {tonumber(c), redis.call('PTTL', KEYS[1])}`);

// Reservations, each of several items: check every item, then add to all or none, so no other
// instance's reservation can come between the check and the add. ARGV: the hold keys' TTL (ms),
// then for each reservation its item count, the (1-based) index of its held item or 0, then
// (amount, limit or -1 for none, endsAt) per item; KEYS: every item's window in the same order, then
// the reservation's hold key when it has one. A window is named by its end (key:endsAt) and expires
// at it, so a new window starts at 0. An admitted reservation with a held item (a budget) records
// that item's amount under its hold key, for RELEASES; a hold key already there means the
// reservation was released before it ran (its caller stopped waiting): it then adds nothing.
// Answers per reservation: the index of the item refused (or skipped) or -1, then each item's count.
export const RESERVATIONS = new RedisScript(`
local out = {}
local ttl = ARGV[1]
local k = 0
local a = 2
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  local h = tonumber(ARGV[a + 1])
  local refused = -1
  local counts = {}
  local hold = false
  if h > 0 then
    hold = KEYS[k + n + 1]
    if redis.call('EXISTS', hold) == 1 then refused = h - 1 end
  end
  for i = 1, n do
    local c = tonumber(redis.call('GET', KEYS[k + i]) or '0')
    counts[i] = c
    local limit = tonumber(ARGV[a + 3 * i])
    if refused == -1 and limit >= 0 and c + tonumber(ARGV[a + 3 * i - 1]) > limit then refused = i - 1 end
  end
  if refused == -1 then
    for i = 1, n do
      counts[i] = redis.call('INCRBY', KEYS[k + i], ARGV[a + 3 * i - 1])
      redis.call('PEXPIREAT', KEYS[k + i], ARGV[a + 3 * i + 1])
    end
    if hold then redis.call('SET', hold, ARGV[a + 3 * h - 1], 'PX', ttl) end
  end
  out[#out + 1] = refused
  for i = 1, n do out[#out + 1] = counts[i] end
  k = k + n
  if hold then k = k + 1 end
  a = a + 2 + 3 * n
end
return out`);

// Settlements: each window's delta added. A window that has ended has expired: nothing to correct.
// '%.0f' keeps big counts (nano-dollars) out of Lua's exponent notation. KEYS past the deltas (one
// per ARGV) are the hold keys of the budget reservations settled: done with, so deleted.
export const ADJUST = new RedisScript(`
for i = 1, #ARGV do
  local v = redis.call('GET', KEYS[i])
  if v then
    local n = tonumber(v) + tonumber(ARGV[i])
    if n < 0 then n = 0 end
    redis.call('SET', KEYS[i], string.format('%.0f', n), 'KEEPTTL')
  end
end
for i = #ARGV + 1, #KEYS do redis.call('DEL', KEYS[i]) end
return 0`);

/** What a hold key holds once its reservation is released: a reservation that comes after it adds nothing. */
export const RELEASED = "released";

// Releases of budget reservations whose answer did not come in time, each settled to what its
// request used (0 when it was refused). KEYS: (hold key, window) per release; ARGV: the hold keys'
// TTL (ms), then (used, endsAt) per release. A hold key holding an amount means the reservation
// ran: the window gets used minus that amount. No hold key means it has not run (and may still
// come, from a socket Redis has not read yet): the window gets used, and the hold key is marked
// released so that reservation adds nothing. Already released: nothing (a retry). A window that
// does not exist yet is made, expiring at its end (past it: gone at once).
export const RELEASES = new RedisScript(`
local ttl = ARGV[1]
for i = 1, #KEYS / 2 do
  local held = redis.call('GET', KEYS[2 * i - 1])
  if held ~= '${RELEASED}' then
    redis.call('SET', KEYS[2 * i - 1], '${RELEASED}', 'PX', ttl)
    local delta = tonumber(ARGV[2 * i]) - tonumber(held or '0')
    local window = KEYS[2 * i]
    local v = redis.call('GET', window)
    if v then
      local n = tonumber(v) + delta
      if n < 0 then n = 0 end
      redis.call('SET', window, string.format('%.0f', n), 'KEEPTTL')
    elseif delta > 0 then
      redis.call('SET', window, string.format('%.0f', delta))
      redis.call('PEXPIREAT', window, ARGV[2 * i + 1])
    end
  end
end
return 0`);
