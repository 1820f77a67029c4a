-- Reliable fetch (SPEC §6.1): move up to ARGV[1] jobs from the queues, in the order given, into
-- their per-queue working lists, atomically. A job is always in its queue or in a working list,
-- never in neither.
-- KEYS: queue:<q1>, working:<id>:<q1>, queue:<q2>, working:<id>:<q2>, ...
-- ARGV[1]: the most jobs to take (the capsule's free slots)
-- Returns a flat list: pair index (1-based), raw payload, pair index, raw payload, ...
local want = tonumber(ARGV[1])
local out = {}
local got = 0
for pair = 1, #KEYS / 2 do
  if got >= want then break end
  local items = redis.call('RPOP', KEYS[2 * pair - 1], want - got)
  if items then
    redis.call('LPUSH', KEYS[2 * pair], unpack(items))
    for _, raw in ipairs(items) do
      out[#out + 1] = pair
      out[#out + 1] = raw
    end
    got = got + #items
  end
end
return out
