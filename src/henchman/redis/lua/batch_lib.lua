-- Batch accounting shared by batch_ack.lua and batch_commit.lua (prepended to each by
-- henchman.redis.scripts). A batch is the hash <prefix><bid> plus sets named <prefix><bid><suffix>
-- (henchman.keys spells the same names): -jids (jobs not yet succeeded = pending), -failed (jobs
-- that failed and have not succeeded since), -died, -kids (child batches), -kcomplete and
-- -ksuccess (children whose complete / success fired).
-- complete fires once when every pending job has failed at least once (nothing left that has
-- never run) and every child completed; success once when nothing is pending and every child
-- succeeded; death once, on the first death, and on every ancestor whose death has not fired.
-- Firing = HSET of the time + LPUSH of the callback jobs, in the same script, so exactly once.
-- A child's callbacks are jobs of its parent (their jids join the parent's pending set), so a
-- parent cannot succeed before its children's callbacks have succeeded.
local CFG = {}
local SUFFIXES = {'', '-jids', '-failed', '-died', '-kids', '-kcomplete', '-ksuccess'}
local STATUS_MARK = '"__henchman_batch_status_7c1e__"'
local JID_MARK = '__henchman_batch_jid_52ab__'

-- CFG.tag: the family's hash tag in the cluster layout (nil in Sidekiq's layout); CFG.outbox:
-- the family's outbox list in the cluster layout, where fired callbacks wait to be delivered.
local function key(bid, suffix)
  if CFG.tag then
    return CFG.prefix .. CFG.tag .. bid .. suffix
  end
  return CFG.prefix .. bid .. suffix
end

local function expire_all(bid, at)
  for _, suffix in ipairs(SUFFIXES) do
    redis.call('EXPIREAT', key(bid, suffix), at)
  end
end

-- Give a key that may have just been created the expiry of its batch.
local function touch(bid, k)
  local at = redis.call('HGET', key(bid, ''), 'expires_at')
  if at then
    redis.call('EXPIREAT', k, at)
  end
end

local function splice(text, mark, value)
  local i, j = string.find(text, mark, 1, true)
  if not i then
    return text
  end
  return string.sub(text, 1, i - 1) .. value .. string.sub(text, j + 1)
end

local function status_json(bid, event)
  local f = redis.call('HMGET', key(bid, ''), 'total', 'description', 'created_at', 'parent')
  return cjson.encode({
    bid = bid,
    event = event,
    total = tonumber(f[1]) or 0,
    pending = redis.call('SCARD', key(bid, '-jids')),
    failures = redis.call('SCARD', key(bid, '-failed')),
    description = f[2] or cjson.null,
    created_at = tonumber(f[3]) or cjson.null,
    parent_bid = f[4] or cjson.null,
  })
end

-- Push the callback jobs of `event` ([queue, template] entries); with a parent, they join the
-- parent's pending jobs. Entries [queue, payload, 'push'] are pushed as they are.
local function fire(bid, event)
  local h = key(bid, '')
  local templates = redis.call('HGET', h, 'cb-' .. event)
  if not templates then
    return
  end
  local parent = redis.call('HGET', h, 'parent')
  local status = status_json(bid, event)
  for i, entry in ipairs(cjson.decode(templates)) do
    local queue, raw = entry[1], entry[2]
    if entry[3] == 'push' then
      -- A workflow's next step: a whole payload whose jid its own batch registered already.
      raw = string.sub(raw, 1, -2) .. ',"enqueued_at":' .. CFG.now .. '}'
    else
      local jid = string.sub(redis.sha1hex(bid .. ':' .. event .. ':' .. i), 1, 24)
      raw = splice(splice(raw, STATUS_MARK, status), JID_MARK, jid)
      raw = string.sub(raw, 1, -2) .. ',"created_at":' .. CFG.now .. ',"enqueued_at":' .. CFG.now .. '}'
      if parent then
        if redis.call('SADD', key(parent, '-jids'), jid) == 1 then
          redis.call('HINCRBY', key(parent, ''), 'total', 1)
        end
        touch(parent, key(parent, '-jids'))
      end
    end
    if CFG.outbox then
      redis.call('LPUSH', CFG.outbox, cjson.encode({queue, raw}))
    else
      redis.call('SADD', CFG.queues, queue)
      redis.call('LPUSH', CFG.qprefix .. queue, raw)
    end
  end
end

local check

local function child_done(parent, suffix, bid)
  if parent and redis.call('EXISTS', key(parent, '')) == 1 then
    redis.call('SADD', key(parent, suffix), bid)
    touch(parent, key(parent, suffix))
    check(parent)
  end
end

-- Fire complete and/or success if their conditions now hold (each at most once).
check = function(bid)
  local pending = redis.call('SCARD', key(bid, '-jids'))
  local failed = redis.call('SCARD', key(bid, '-failed'))
  if pending ~= failed and pending ~= 0 then  -- the common case: jobs still to run
    return
  end
  local h = key(bid, '')
  local st = redis.call('HMGET', h, 'created_at', 'complete_at', 'success_at', 'parent')
  if not st[1] or st[3] then
    return
  end
  local kids = redis.call('SCARD', key(bid, '-kids'))
  local parent = st[4]
  if not st[2] and pending == failed and redis.call('SCARD', key(bid, '-kcomplete')) == kids then
    redis.call('HSET', h, 'complete_at', CFG.now)
    fire(bid, 'complete')
    child_done(parent, '-kcomplete', bid)
  end
  if pending == 0 and redis.call('SCARD', key(bid, '-ksuccess')) == kids then
    redis.call('HSET', h, 'success_at', CFG.now)
    fire(bid, 'success')
    local at = math.floor(tonumber(CFG.now) + tonumber(CFG.success_ttl))
    redis.call('HSET', h, 'expires_at', at)
    expire_all(bid, at)
    child_done(parent, '-ksuccess', bid)
  end
end

-- A job of `bid` died: fire death on the batch and every ancestor not fired yet, and keep each
-- of them at least as long as the dead set keeps the job.
local function died(bid)
  local b = bid
  local keep = math.floor(tonumber(CFG.now) + tonumber(CFG.dead_ttl))
  while b do
    local h = key(b, '')
    if redis.call('EXISTS', h) == 0 then
      return
    end
    if tonumber(redis.call('HGET', h, 'expires_at') or 0) < keep then
      redis.call('HSET', h, 'expires_at', keep)
      expire_all(b, keep)
    end
    if redis.call('HSETNX', h, 'death_at', CFG.now) == 1 then
      fire(b, 'death')
    end
    b = redis.call('HGET', h, 'parent')
  end
end

-- Count one finished job of `bid` ('success', 'failure' or 'dead'); idempotent per jid.
local function count(outcome, jid, bid)
  if outcome == 'success' then
    if redis.call('SREM', key(bid, '-jids'), jid) == 1 then
      if redis.call('SREM', key(bid, '-failed'), jid) == 1 then  -- only a failed job can be dead
        redis.call('SREM', key(bid, '-died'), jid)
      end
      check(bid)
    end
  elseif redis.call('SISMEMBER', key(bid, '-jids'), jid) == 1 then
    if redis.call('SADD', key(bid, '-failed'), jid) == 1 then
      touch(bid, key(bid, '-failed'))
    end
    if outcome == 'dead' then
      if redis.call('SADD', key(bid, '-died'), jid) == 1 then
        touch(bid, key(bid, '-died'))
      end
      died(bid)
    end
    check(bid)
  end
end
