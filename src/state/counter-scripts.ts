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
// instance's reservation can come between the check and the add. ARGV: for each reservation its
// item count, then (amount, limit or -1 for none, endsAt) per item; KEYS: every item's window in
// the same order. A window is named by its end (key:endsAt) and expires at it, so a new window
// starts at 0. Answers per reservation: the index of the item refused or -1, then each item's count.
export const RESERVATIONS = new RedisScript(`
local out = {}
local k = 0
local a = 1
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  local refused = -1
  local counts = {}
  for i = 1, n do
    local c = tonumber(redis.call('GET', KEYS[k + i]) or '0')
    counts[i] = c
    local limit = tonumber(ARGV[a + 3 * i - 1])
    if refused == -1 and limit >= 0 and c + tonumber(ARGV[a + 3 * i - 2]) > limit then refused = i - 1 end
  end
  if refused == -1 then
    for i = 1, n do
      counts[i] = redis.call('INCRBY', KEYS[k + i], ARGV[a + 3 * i - 2])
      redis.call('PEXPIREAT', KEYS[k + i], ARGV[a + 3 * i])
    end
  end
  out[#out + 1] = refused
  for i = 1, n do out[#out + 1] = counts[i] end
  k = k + n
  a = a + 1 + 3 * n
end
return out`);

// Settlements: each window's delta added. A window that has ended has expired: nothing to correct.
// '%.0f' keeps big counts (nano-dollars) out of Lua's exponent notation.
export const ADJUST = new RedisScript(`
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then
    local n = tonumber(v) + tonumber(ARGV[i])
    if n < 0 then n = 0 end
    redis.call('SET', KEYS[i], string.format('%.0f', n), 'KEEPTTL')
  end
end
return 0`);
