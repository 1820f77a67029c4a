-- Acknowledge a job and push it (possibly with an updated payload) back to its queue in one
-- step, without using a retry: how an interrupted iterable job continues later.
-- If the job is no longer in the working list (a shutdown or recovery already requeued it),
-- nothing is pushed, so it is never queued twice.
-- KEYS[1]: working list; KEYS[2]: queue:<q>; KEYS[3]: the queues set, or KEYS[2] again in the
-- cluster layout (the queues set is in another slot; the queue is registered already)
-- ARGV[1]: original raw payload; ARGV[2]: payload to push; ARGV[3]: 'head' or 'tail';
-- ARGV[4]: queue name (for the queues set)
-- Returns 1 if requeued, 0 if the job was no longer there.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
if KEYS[3] ~= KEYS[2] then
  redis.call('SADD', KEYS[3], ARGV[4])
end
if ARGV[3] == 'head' then
  redis.call('RPUSH', KEYS[2], ARGV[2])
else
  redis.call('LPUSH', KEYS[2], ARGV[2])
end
return 1
