-- requires: payload_lib
-- Cluster layout: schedule.lua for one queue's scheduled or retry set. Both keys carry the
-- queue's hash tag, so the move is one atomic step in one slot: each job is in the set or in the
-- queue, never in neither and never in both. The queue is already in the shared queues set (the
-- poller found the set through it).
-- KEYS[1]: schedule:{<q>} or retry:{<q>}; KEYS[2]: queue:{<q>}
-- ARGV[1]: now (epoch seconds); ARGV[2]: most jobs to move
-- Moved jobs get a fresh top-level enqueued_at = ARGV[1], edited into the payload text as
-- schedule.lua does. A payload that is not a JSON object is moved unchanged: the worker records
-- it as dead with the reason.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, raw in ipairs(due) do
  redis.call('ZREM', KEYS[1], raw)
  local ok, job = pcall(cjson.decode, raw)
  local out = raw
  if ok and type(job) == 'table' and string.sub(raw, 1, 1) == '{' and string.sub(raw, -1) == '}'
      and next(job) ~= nil then
    out = set_number(raw, job, 'enqueued_at', ARGV[1])
  end
  redis.call('LPUSH', KEYS[2], out)
end
return #due
