-- Cluster layout: recover.lua for one working list, every key in its queue's hash slot. The
-- caller checked that the owner's heartbeat hash (in the shared slot) has expired, and removes
-- the list from the shared registry after this step (a repeated call finds the list empty).
-- A job recovered ARGV[1] times is a poison pill: it goes to the queue's poison list, from which
-- the caller writes its dead-set record.
-- KEYS[1]: working list; KEYS[2]: queue:{<q>}; KEYS[3]: recoveries hash of <q> (jid -> count);
-- KEYS[4]: poison list of <q>
-- ARGV[1]: poison-pill limit; ARGV[2]: TTL (s) of the recoveries hash
-- Returns {moved, poisoned}.
local limit = tonumber(ARGV[1])
local moved, poisoned = 0, 0
while true do
  local raw = redis.call('LPOP', KEYS[1])
  if not raw then break end
  local ok, job = pcall(cjson.decode, raw)
  local count = 0
  if ok and type(job) == 'table' and type(job['jid']) == 'string' then
    count = redis.call('HINCRBY', KEYS[3], job['jid'], 1)
  end
  if limit > 0 and count >= limit then
    redis.call('LPUSH', KEYS[4], raw)
    poisoned = poisoned + 1
  else
    redis.call('RPUSH', KEYS[2], raw)
    moved = moved + 1
  end
end
if moved + poisoned > 0 then
  redis.call('EXPIRE', KEYS[3], ARGV[2])
end
return {moved, poisoned}
