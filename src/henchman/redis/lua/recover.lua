-- requires: recover_lib
-- Orphan recovery: give a dead process's working list back to its queue.
-- Re-checks that the owner is dead (its heartbeat hash expired) inside the script, so a slow
-- process that comes back is never robbed. A job recovered ARGV[2] times is a poison pill: it goes
-- to the poison list, from which the caller writes its dead-set record.
-- KEYS[1]: working list; KEYS[2]: queue:<q>; KEYS[3]: owner's process hash;
-- KEYS[4]: recoveries hash (jid -> count); KEYS[5]: poison list; KEYS[6]: working-list registry
-- ARGV[1]: registry field of this working list; ARGV[2]: poison-pill limit; ARGV[3]: TTL (s) of
-- the recoveries hash
-- Returns {moved, poisoned}, or {-1, 0} if the owner is alive.
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {-1, 0}
end
local result = give_back(KEYS[1], KEYS[2], KEYS[4], KEYS[5], tonumber(ARGV[2]), ARGV[3])
redis.call('HDEL', KEYS[6], ARGV[1])
return result
