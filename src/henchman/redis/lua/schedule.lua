-- requires: payload_lib
-- Move due jobs from a sorted set (schedule or retry) to their queues, atomically:
-- each job is in the set or in its queue, never in neither and never in both.
-- KEYS[1]: schedule or retry zset; KEYS[2]: the queues set
-- ARGV[1]: now (epoch seconds); ARGV[2]: most jobs to move; ARGV[3]: queue key prefix ('queue:')
-- Moved jobs get a fresh top-level enqueued_at = ARGV[1]. The payload text is edited, not
-- re-encoded, so every other byte (float formatting, key order) is kept. A payload that is not a
-- JSON object with a queue goes to queue 'default', where the worker records it as dead with the
-- reason (the worker owns error records, Lua does not).
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  local ok, job = pcall(cjson.decode, raw)
  local queue = 'default'
  local out = raw
  if ok and type(job) == 'table' and type(job['queue']) == 'string' and job['queue'] ~= ''
      and string.sub(raw, 1, 1) == '{' and string.sub(raw, -1) == '}' and next(job) ~= nil then
    queue = job['queue']
    out = set_number(raw, job, 'enqueued_at', ARGV[1])
  end
  redis.call('SADD', KEYS[2], queue)
  redis.call('LPUSH', ARGV[3] .. queue, out)
end
return #due
