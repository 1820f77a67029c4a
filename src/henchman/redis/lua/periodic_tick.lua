-- Handle one tick of one periodic schedule exactly once (the tick is identified by the schedule
-- id and the tick time): check leadership, check and advance the schedule's high-water mark,
-- and push the job, in one step. Two processes that both believe they lead, a leader change or a
-- restart can therefore never enqueue a tick twice, nor enqueue an older tick after a newer one.
-- KEYS[1]: dear-leader; KEYS[2]: marks hash; KEYS[3]: the schedule's history list;
-- KEYS[4]: queues set; KEYS[5]: the queue list; KEYS[6]: paused set
-- In the cluster layout KEYS[1] and KEYS[4] are the queue list again (the leader key and the
-- queues set are in another slot): the leadership check and the SADD are skipped (the lease
-- loop decides who ticks, the mark keeps each tick once, the caller registers the queue).
-- ARGV[1]: identity; ARGV[2]: schedule id; ARGV[3]: tick epoch; ARGV[4]: payload; ARGV[5]: queue
-- ARGV[6]: history entry (JSON); ARGV[7]: history length kept; ARGV[8]: mode
-- mode 'tick' enqueues (unless paused), 'skip' only records, 'manual' enqueues without touching
-- the mark and without a leadership check (an operator's "enqueue now"), 'init' sets the mark
-- if the schedule has none.
-- Returns 'enqueued', 'skipped', 'paused', 'duplicate', 'not-leader' or 'initialized'.
local mode = ARGV[8]
if mode == 'init' then
  redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3])
  return 'initialized'
end
if mode ~= 'manual' then
  if KEYS[1] ~= KEYS[5] and redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 'not-leader'
  end
  local mark = redis.call('HGET', KEYS[2], ARGV[2])
  if mark and tonumber(mark) >= tonumber(ARGV[3]) then
    return 'duplicate'
  end
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  if mode == 'tick' and redis.call('SISMEMBER', KEYS[6], ARGV[2]) == 1 then
    return 'paused'
  end
end
redis.call('LPUSH', KEYS[3], ARGV[6])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[7]) - 1)
if mode == 'skip' then
  return 'skipped'
end
if KEYS[4] ~= KEYS[5] then
  redis.call('SADD', KEYS[4], ARGV[5])
end
redis.call('LPUSH', KEYS[5], ARGV[4])
return 'enqueued'
