-- Cluster layout: deliver.lua for one queue. Every key is in the queue's hash slot: its list, its
-- scheduled set and the working lists that take from it (listed by the caller from the shared
-- working-list registry). Each job is stored only if no copy is already in the queue, in one of
-- those working lists or in the scheduled set, so a push with an unknown outcome is never stored
-- twice.
-- KEYS[1]: queue:{<q>}; KEYS[2]: schedule:{<q>}; KEYS[3..]: working lists of <q>
-- ARGV: pairs: score ('' = now), raw payload
-- Returns the number of jobs stored (the others were already there).
local function present(raw)
  if redis.call('LPOS', KEYS[1], raw) then
    return true
  end
  for i = 3, #KEYS do
    if redis.call('LPOS', KEYS[i], raw) then
      return true
    end
  end
  return false
end
local stored = 0
for i = 1, #ARGV, 2 do
  local score, raw = ARGV[i], ARGV[i + 1]
  if score ~= '' then
    if not redis.call('ZSCORE', KEYS[2], raw) then
      redis.call('ZADD', KEYS[2], score, raw)
      stored = stored + 1
    end
  elseif not present(raw) then
    redis.call('LPUSH', KEYS[1], raw)
    stored = stored + 1
  end
end
return stored
