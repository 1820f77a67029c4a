-- Release a unique job's lock if that job still holds it (the lock may have expired and been
-- taken by a later push of the same job, whose lock must stay).
-- KEYS[1]: unique:<digest>; ARGV[1]: jid of the job releasing
-- Returns 1 if released, 0 if the lock was not this job's.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
