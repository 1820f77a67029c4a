-- Bucket limiter: at most `count` admissions per calendar interval (UTC second, minute, hour or
-- day: the interval number is floor(server time / interval)).
-- KEYS[3]: HASH {b = interval number, n = admissions in it}
-- ARGV[A]: count; ARGV[A+1]: interval (µs)
-- Returns {1, 0, now} when admitted, or {0, µs until the next interval starts, now}.
local count = tonumber(ARGV[A])
local interval = tonumber(ARGV[A + 1])
local bucket = math.floor(now / interval)
local state = redis.call('HMGET', KEYS[3], 'b', 'n')
local used = 0
if tonumber(state[1]) == bucket then used = tonumber(state[2]) end
if used < count then
  redis.call('HSET', KEYS[3], 'b', bucket, 'n', used + 1)
  redis.call('PEXPIRE', KEYS[3], math.ceil(2 * interval / 1000))
  return {1, 0, now}
end
return {0, math.max((bucket + 1) * interval - now, 1), now}
