-- Points limiter: correct an admission's estimate with the points actually used
-- (level += actual - estimate, drained to now first; never below zero).
-- KEYS[3]: HASH {l = level, t = time of l (µs)}
-- ARGV[A]: actual - estimate; ARGV[A+1]: capacity; ARGV[A+2]: period (µs)
-- Returns the new level as a string.
local delta = tonumber(ARGV[A])
local capacity = tonumber(ARGV[A + 1])
local period = tonumber(ARGV[A + 2])
local state = redis.call('HMGET', KEYS[3], 'l', 't')
local level = tonumber(state[1]) or 0
local since = tonumber(state[2]) or now
level = math.max(level - (now - since) * capacity / period + delta, 0)
redis.call('HSET', KEYS[3], 'l', tostring(level), 't', now)
redis.call('PEXPIRE', KEYS[3], math.ceil(math.max(level / capacity, 1) * period / 1000) + 1000)
return tostring(level)
