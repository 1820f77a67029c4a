-- Move chosen jobs from a sorted set (schedule or retry) to the dead set: the
-- admin's "kill". Each job is in its set or dead, never in neither and never in both; a job no
-- longer in the set is skipped. The payload is stored unchanged, as Sidekiq does.
-- KEYS[1]: the source sorted set; KEYS[2]: the dead set
-- ARGV[1]: now (epoch seconds, the death score); ARGV[2]: trim cutoff score (entries older are
-- removed); ARGV[3]: most entries kept; ARGV[4..]: the exact raw payloads to move.
-- Returns the number of jobs moved.
local moved = 0
for i = 4, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[1], ARGV[i])
    moved = moved + 1
  end
end
if moved > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
end
return moved
