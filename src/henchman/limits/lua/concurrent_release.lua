-- Concurrent limiter, release: drop the lease and, if it was still held, wake one waiter.
-- KEYS[3]: ZSET of leases; KEYS[4]: LIST of wake-up tokens (waiters BLPOP it)
-- ARGV[A]: token; ARGV[A+1]: size; ARGV[A+2]: lease length (µs)
-- Returns {1, now} if the lease was held, {0, now} if it had already expired.
if redis.call('ZREM', KEYS[3], ARGV[A]) == 0 then
  return {0, now}
end
redis.call('RPUSH', KEYS[4], '1')
-- At most `size` wake-ups are ever useful; they expire with the leases they stand for.
redis.call('LTRIM', KEYS[4], -tonumber(ARGV[A + 1]), -1)
redis.call('PEXPIRE', KEYS[4], math.ceil(tonumber(ARGV[A + 2]) / 1000))
return {1, now}
