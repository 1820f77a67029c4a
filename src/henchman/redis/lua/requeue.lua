-- Push every job of a working list back to the head of its queue, oldest fetched at the very
-- head, so jobs interrupted by a shutdown run next and use no retry.
-- KEYS[1]: working list; KEYS[2]: queue:<q>
-- Returns the number of jobs moved.
local moved = 0
while redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT') do
  moved = moved + 1
end
return moved
