-- Deliver buffered pushes whose first attempt may have reached Redis after all (the client timed
-- out waiting for the reply, then Redis ran the command late): each job is stored only if no
-- copy of it is already in its queue, in a worker's working list or in the schedule, so a push
-- with an unknown outcome is never stored twice.
-- KEYS[1]: the queues set; KEYS[2]: schedule; KEYS[3]: the working-list registry
-- ARGV[1]: queue key prefix ('queue:'); then triples: queue name, score ('' = now), raw payload
-- Returns the number of jobs stored (the others were already there).
local working = redis.call('HKEYS', KEYS[3])
local function present(raw, queue_key)
  if redis.call('LPOS', queue_key, raw) then
    return true
  end
  for _, list in ipairs(working) do
    if redis.call('LPOS', list, raw) then
      return true
    end
  end
  return false
end
local stored = 0
for i = 2, #ARGV, 3 do
  local queue, score, raw = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if score ~= '' then
    if not redis.call('ZSCORE', KEYS[2], raw) then
      redis.call('ZADD', KEYS[2], score, raw)
      stored = stored + 1
    end
  else
    local queue_key = ARGV[1] .. queue
    if not present(raw, queue_key) then
      redis.call('SADD', KEYS[1], queue)
      redis.call('LPUSH', queue_key, raw)
      stored = stored + 1
    end
  end
end
return stored
