-- Cluster layout: put outbox entries a crashed deliverer took (left in the family's in-flight
-- list) back at the delivering end of the outbox, each only if it is still in flight.
-- KEYS[1]: in-flight list; KEYS[2]: outbox; ARGV: the entries
-- Returns how many were put back.
local moved = 0
for _, entry in ipairs(ARGV) do
  if redis.call('LREM', KEYS[1], 1, entry) == 1 then
    redis.call('RPUSH', KEYS[2], entry)
    moved = moved + 1
  end
end
return moved
