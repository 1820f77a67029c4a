-- Forget processes that died without cleaning up: remove a member of the
-- processes set only if its heartbeat hash no longer exists (it expired 60 s after the last beat).
-- A member whose hash exists but lacks a readable info is skipped by readers, never removed: it
-- may be a live process. Checking and removing in one script means a process that beats between
-- the check and the removal is never dropped from the set.
-- KEYS[1]: the processes set; KEYS[i + 1]: the heartbeat hash of process ARGV[i]
-- ARGV: the identities (members of the processes set) to check
-- Returns the number of members removed.
local removed = 0
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    removed = removed + redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return removed
