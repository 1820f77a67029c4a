-- requires: batch_lib
-- Commit the jobs() blocks of one outermost block (a batch and the batches opened inside it):
-- every check first, so an error changes nothing; then each batch is created (or reopened), its
-- staged jids join its pending set and its staged payloads move to their queues and to the
-- schedule, all in this one step: workers see the block's jobs only as a whole.
-- KEYS[1]: the queues set; KEYS[2]: the schedule zset; KEYS[3]: the batches zset
-- ARGV[1]: JSON list of batch specs {bid, parent ('' for none), new (bool), fields (object,
-- new batches only), queues (staged queue names), scheduled (bool)}, parents before children
-- ARGV[2]: now; ARGV[3]: batch key prefix; ARGV[4]: queue key prefix; ARGV[5]: seconds a batch
-- is kept while pending; ARGV[6]: seconds kept after success; ARGV[7]: seconds the dead set keeps
-- a job; ARGV[8]: staging suffix of queue lists ('-stage:'); ARGV[9]: of the scheduled zset;
-- ARGV[10]: of the jid set
-- ARGV[11] (cluster layout only): the family's hash tag. Then KEYS[1..3] are all the family's
-- outbox: the staged payloads (and any callback that fires) move to the outbox, oldest at the
-- right, instead of their queues and the schedule (henchman.batches.outbox delivers them), and
-- the index of batches is written by the caller before this step.
-- Returns {bid, jobs added} per spec, or an error naming the batch that cannot take jobs.
CFG.now, CFG.prefix, CFG.qprefix, CFG.queues = ARGV[2], ARGV[3], ARGV[4], KEYS[1]
if ARGV[11] then
  CFG.tag, CFG.outbox = ARGV[11], KEYS[1]
end
CFG.success_ttl, CFG.dead_ttl = ARGV[6], ARGV[7]
local specs = cjson.decode(ARGV[1])
local creating = {}
for _, spec in ipairs(specs) do
  if spec['new'] then
    creating[spec['bid']] = true
  end
end

local function refuse(bid)
  local st = redis.call('HMGET', key(bid, ''), 'created_at', 'success_at')
  if not st[1] then
    return 'batch ' .. bid .. ' does not exist (unknown, or expired)'
  end
  if st[2] then
    return 'batch ' .. bid .. ' already succeeded: no jobs can be added to it'
  end
  return nil
end

for _, spec in ipairs(specs) do
  local why = nil
  if not spec['new'] then
    why = refuse(spec['bid'])
  elseif spec['parent'] ~= '' and not creating[spec['parent']] then
    why = refuse(spec['parent'])
  end
  if why then
    return redis.error_reply('ERR henchman: ' .. why)
  end
end

local function chunks(list, fn)
  for i = 1, #list, 1000 do
    fn({unpack(list, i, math.min(i + 999, #list))})
  end
end

local out = {}
for _, spec in ipairs(specs) do
  local bid = spec['bid']
  local h = key(bid, '')
  if spec['new'] then
    local exp = math.floor(tonumber(CFG.now) + tonumber(ARGV[5]))
    for field, value in pairs(spec['fields']) do
      redis.call('HSET', h, field, value)
    end
    redis.call('HSET', h, 'created_at', CFG.now, 'expires_at', exp, 'total', 0)
    if spec['parent'] ~= '' then
      redis.call('HSET', h, 'parent', spec['parent'])
      redis.call('SADD', key(spec['parent'], '-kids'), bid)
      touch(spec['parent'], key(spec['parent'], '-kids'))
    end
    if not CFG.outbox then
      redis.call('ZADD', KEYS[3], CFG.now, bid)
    end
  end
  local staged = key(bid, ARGV[10])
  local target = key(bid, '-jids')
  local added = 0
  if redis.call('EXISTS', target) == 0 then
    if redis.call('EXISTS', staged) == 1 then  -- a new batch: the staged set becomes it, O(1)
      added = redis.call('SCARD', staged)
      redis.call('RENAME', staged, target)
    end
  else
    chunks(redis.call('SMEMBERS', staged), function(jids)
      added = added + redis.call('SADD', target, unpack(jids))
    end)
  end
  redis.call('HINCRBY', h, 'total', added)
  for _, queue in ipairs(spec['queues']) do
    -- A staged list already has its queue's layout (newest at the left).
    local list = key(bid, ARGV[8] .. queue)
    local qkey = CFG.qprefix .. queue
    if redis.call('EXISTS', list) == 0 then
      -- nothing staged for this queue
    elseif CFG.outbox then
      while true do
        local oldest = redis.call('LRANGE', list, -1000, -1)
        if #oldest == 0 then
          break
        end
        for i = #oldest, 1, -1 do
          redis.call('LPUSH', CFG.outbox, cjson.encode({queue, oldest[i]}))
        end
        redis.call('LTRIM', list, 0, -(#oldest + 1))
      end
      redis.call('DEL', list)
    elseif redis.call('EXISTS', qkey) == 0 then
      redis.call('RENAME', list, qkey)
      redis.call('PERSIST', qkey)
    else
      while true do
        local oldest = redis.call('LRANGE', list, -1000, -1)
        if #oldest == 0 then
          break
        end
        local ordered = {}
        for i = #oldest, 1, -1 do
          ordered[#ordered + 1] = oldest[i]
        end
        redis.call('LPUSH', qkey, unpack(ordered))
        redis.call('LTRIM', list, 0, -(#oldest + 1))
      end
      redis.call('DEL', list)
    end
    if not CFG.outbox then
      redis.call('SADD', KEYS[1], queue)
    end
  end
  if spec['scheduled'] then
    local at = key(bid, ARGV[9])
    local flat = redis.call('ZRANGE', at, 0, -1, 'WITHSCORES')
    local args = {}
    if CFG.outbox then
      for i = 1, #flat, 2 do
        redis.call('LPUSH', CFG.outbox, cjson.encode({'', flat[i], flat[i + 1]}))
      end
      flat = {}
    end
    for i = 1, #flat, 2 do
      args[#args + 1] = flat[i + 1]
      args[#args + 1] = flat[i]
    end
    for i = 1, #args, 1000 do
      redis.call('ZADD', KEYS[2], unpack(args, i, math.min(i + 999, #args)))
    end
    redis.call('DEL', at)
  end
  redis.call('DEL', staged)
  expire_all(bid, redis.call('HGET', h, 'expires_at'))
  out[#out + 1] = {bid, added}
end
for i = #specs, 1, -1 do
  check(specs[i]['bid'])
end
return out
