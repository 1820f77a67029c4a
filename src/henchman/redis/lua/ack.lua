-- Acknowledge a job and record its failure in one step: the job is either still
-- in its working list (and will be recovered) or in the retry/dead set, never in neither.
-- If the job is no longer in the working list (a shutdown or orphan recovery already put it back
-- in its queue), nothing is recorded, so the job is never both queued and in the retry set; this
-- also makes a repeated call after a lost reply harmless.
-- KEYS[1]: working list; KEYS[2]: retry or dead zset
-- ARGV[1]: original raw payload; ARGV[2]: score; ARGV[3]: new payload ('' = acknowledge only)
-- ARGV[4]: trim cutoff score ('' for none); ARGV[5]: max entries kept (when trimming)
-- Returns 1 if the job was acknowledged (and recorded), 0 if it was no longer there.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  if ARGV[4] ~= '' then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
  end
end
return 1
