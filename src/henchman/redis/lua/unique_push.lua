-- Push a unique job only if no other job holds its lock, in one step: two clients
-- racing with the same job cannot both push it.
-- KEYS[1]: unique:<digest>; KEYS[2]: queue:<q> (now) or schedule (later); KEYS[3]: queues set,
-- or KEYS[2] again in the cluster layout (the queues set is in another slot: the client
-- registers the queue itself)
-- ARGV[1]: jid; ARGV[2]: lock lifetime (ms); ARGV[3]: run-at score ('' = now); ARGV[4]: queue
-- name; ARGV[5]: payload
-- Returns 1 if pushed (and locked), else the jid of the job holding the lock.
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('GET', KEYS[1])
end
if ARGV[3] == '' then
  if KEYS[3] ~= KEYS[2] then
    redis.call('SADD', KEYS[3], ARGV[4])
  end
  redis.call('LPUSH', KEYS[2], ARGV[5])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
end
return 1
