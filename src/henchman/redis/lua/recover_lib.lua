-- Shared by recover.lua (Sidekiq layout) and recover_queue.lua (cluster layout): give every job
-- of a dead process's working list back to its queue, or to the poison list once it has been
-- recovered `limit` times (counted per jid in the recoveries hash, which expires `ttl` seconds
-- after the last recovery). Returns {moved, poisoned}.
local function give_back(working, queue, recoveries, poison, limit, ttl)
  local moved, poisoned = 0, 0
  while true do
    local raw = redis.call('LPOP', working)
    if not raw then break end
    local ok, job = pcall(cjson.decode, raw)
    local count = 0
    if ok and type(job) == 'table' and type(job['jid']) == 'string' then
      count = redis.call('HINCRBY', recoveries, job['jid'], 1)
    end
    if limit > 0 and count >= limit then
      redis.call('LPUSH', poison, raw)
      poisoned = poisoned + 1
    else
      redis.call('RPUSH', queue, raw)
      moved = moved + 1
    end
  end
  if moved + poisoned > 0 then
    redis.call('EXPIRE', recoveries, ttl)
  end
  return {moved, poisoned}
end
