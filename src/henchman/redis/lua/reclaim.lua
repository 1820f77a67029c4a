-- Give back jobs that sit in a live worker's working list without the worker knowing (a fetch
-- whose reply was lost ran late on the server): each goes back to the head of its queue, but only
-- if it is still in the working list, so a job acknowledged meanwhile is left alone.
-- KEYS[1]: working list; KEYS[2]: queue:<q>
-- ARGV: raw payloads, as listed (newest first): the oldest ends at the very head.
-- Returns the number of jobs moved.
local moved = 0
for i = 1, #ARGV do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i])
    moved = moved + 1
  end
end
return moved
