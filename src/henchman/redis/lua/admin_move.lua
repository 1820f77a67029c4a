-- requires: payload_lib
-- Move chosen jobs from a sorted set (schedule, retry or dead) to their queues now:
-- the admin's "retry now" / "add to queue". Each job is in the set or in its queue, never in
-- neither and never in both; a job no longer in the set (the poller moved it, another admin
-- deleted it) is skipped, so nothing is ever pushed twice.
-- KEYS[1]: the sorted set; KEYS[2]: the queues set
-- ARGV[1]: now (float epoch seconds, with a decimal point); ARGV[2]: queue key prefix ('queue:');
-- ARGV[3]: '1' to decrement retry_count (a manual retry, as Sidekiq does: it may become -1), else
-- '0'; ARGV[4..]: the exact raw payloads (sorted-set members) to move.
-- Moved jobs get a fresh top-level enqueued_at = ARGV[1]. The payload text is edited, not
-- re-encoded, so every other byte (float formatting, key order) is kept. A payload that is not a
-- JSON object with a queue goes unchanged to queue 'default', where the worker records it as dead
-- with the reason (the worker owns error records, Lua does not), as schedule.lua does.
-- Returns the number of jobs moved.
local decrement = ARGV[3] == '1'
local moved = 0
for i = 4, #ARGV do
  local raw = ARGV[i]
  if redis.call('ZREM', KEYS[1], raw) == 1 then
    local ok, job = pcall(cjson.decode, raw)
    local queue = 'default'
    local out = raw
    if ok and type(job) == 'table' and type(job['queue']) == 'string' and job['queue'] ~= ''
        and string.sub(raw, 1, 1) == '{' and string.sub(raw, -1) == '}' and next(job) ~= nil then
      queue = job['queue']
      out = set_number(raw, job, 'enqueued_at', ARGV[1])
      if decrement and type(job['retry_count']) == 'number' then
        out = set_number(out, job, 'retry_count', tostring(job['retry_count'] - 1))
      end
    end
    redis.call('SADD', KEYS[2], queue)
    redis.call('LPUSH', ARGV[2] .. queue, out)
    moved = moved + 1
  end
end
return moved
