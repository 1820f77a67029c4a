-- Leaky bucket and points limiters: a level that drains continuously at `capacity` per `period`
-- µs; an admission of `amount` is allowed while level + amount <= capacity. A leaky bucket
-- admits amount 1 (a burst of `capacity`, then one every period / capacity); a points limiter
-- admits the caller's estimate, corrected afterwards by level_adjust.lua.
-- KEYS[3]: HASH {l = level, t = time of l (µs)}
-- ARGV[A]: amount; ARGV[A+1]: capacity; ARGV[A+2]: period (µs)
-- Returns {1, 0, now} when admitted, or {0, µs until the level has room for amount, now}.
local amount = tonumber(ARGV[A])
local capacity = tonumber(ARGV[A + 1])
local period = tonumber(ARGV[A + 2])
local state = redis.call('HMGET', KEYS[3], 'l', 't')
local level = tonumber(state[1]) or 0
local since = tonumber(state[2]) or now
level = math.max(level - (now - since) * capacity / period, 0)
if level + amount <= capacity then
  redis.call('HSET', KEYS[3], 'l', tostring(level + amount), 't', now)
  redis.call('PEXPIRE', KEYS[3], math.ceil(period / 1000) + 1000)
  return {1, 0, now}
end
return {0, math.max(math.ceil((level + amount - capacity) * period / capacity), 1), now}
