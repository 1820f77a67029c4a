-- Window limiter: at most `count` admissions in any sliding interval of `window` µs (a log of
-- admission times; an admission at t leaves the window at t + window).
-- KEYS[3]: ZSET of admissions, member = token, score = admission time (µs)
-- ARGV[A]: token; ARGV[A+1]: count; ARGV[A+2]: window (µs)
-- Returns {1, 0, now} when admitted, or {0, µs until the oldest admission leaves, now}.
local count = tonumber(ARGV[A + 1])
local window = tonumber(ARGV[A + 2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
if redis.call('ZCARD', KEYS[3]) < count then
  redis.call('ZADD', KEYS[3], now, ARGV[A])
  redis.call('PEXPIRE', KEYS[3], math.ceil(window / 1000) + 1000)
  return {1, 0, now}
end
local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
return {0, math.max(tonumber(oldest[2]) + window - now, 1), now}
