-- requires: payload_lib
-- Cluster layout: admin_move.lua for one queue's sorted set (scheduled, retry or dead). Both keys
-- carry the queue's hash tag: each chosen job is in the set or in the queue, never in neither and
-- never in both; a job no longer in the set is skipped. The queue is already in the shared queues
-- set (the admin found the set through it).
-- KEYS[1]: schedule:{<q>}, retry:{<q>} or dead:{<q>}; KEYS[2]: queue:{<q>}
-- ARGV[1]: now (float epoch seconds, with a decimal point); ARGV[2]: '1' to decrement
-- retry_count (a manual retry), else '0'; ARGV[3..]: the exact raw payloads to move.
-- Moved jobs get a fresh top-level enqueued_at = ARGV[1], edited into the payload text as
-- admin_move.lua does; a payload that is not a JSON object is moved unchanged (the worker
-- records it as dead with the reason).
-- Returns the number of jobs moved.
local decrement = ARGV[2] == '1'
local moved = 0
for i = 3, #ARGV do
  local raw = ARGV[i]
  if redis.call('ZREM', KEYS[1], raw) == 1 then
    local ok, job = pcall(cjson.decode, raw)
    local out = raw
    if ok and type(job) == 'table' and string.sub(raw, 1, 1) == '{' and string.sub(raw, -1) == '}'
        and next(job) ~= nil then
      out = set_number(raw, job, 'enqueued_at', ARGV[1])
      if decrement and type(job['retry_count']) == 'number' then
        out = set_number(out, job, 'retry_count', tostring(job['retry_count'] - 1))
      end
    end
    redis.call('LPUSH', KEYS[2], out)
    moved = moved + 1
  end
end
return moved
