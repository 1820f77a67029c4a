-- Concurrent limiter, acquire: at most `size` leases at once; a lease not released within
-- `lease` microseconds expires (a crashed holder loses its slot).
-- KEYS[3]: ZSET of leases, member = token, score = expiry (µs)
-- ARGV[A]: token; ARGV[A+1]: size; ARGV[A+2]: lease length (µs)
-- Returns {1, 0, now} when admitted, or {0, µs until the earliest lease expires, now}.
local size = tonumber(ARGV[A + 1])
local lease = tonumber(ARGV[A + 2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
if redis.call('ZCARD', KEYS[3]) < size then
  redis.call('ZADD', KEYS[3], now + lease, ARGV[A])
  redis.call('PEXPIRE', KEYS[3], math.ceil(lease / 1000) + 1000)
  return {1, 0, now}
end
local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
return {0, math.max(tonumber(first[2]) - now, 1), now}
