-- Shared head of every limiter script (prepended by henchman/limits/scripts.py).
-- KEYS[1]: the set of limiter names (or KEYS[2] again in the cluster layout, which keeps no
-- names set: nothing is added then); KEYS[2]: this limiter's definition hash.
-- ARGV[1]: the limiter's name; ARGV[2]: n, the number of definition (field, value) pairs that
-- follow (0 once this process has registered the limiter); ARGV[3 .. 2 + 2n]: those pairs.
-- The script's own arguments start at ARGV[A]. Time is the server's (TIME), never the client's,
-- so every process on the server shares one clock.
local n = tonumber(ARGV[2])
if n > 0 then
  if KEYS[1] ~= KEYS[2] then
    redis.call('SADD', KEYS[1], ARGV[1])
  end
  local fields = {}
  for i = 3, 2 + 2 * n do fields[#fields + 1] = ARGV[i] end
  redis.call('HSET', KEYS[2], unpack(fields))
end
local A = 3 + 2 * n
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2]) -- microseconds
