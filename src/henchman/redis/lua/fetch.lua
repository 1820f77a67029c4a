-- Reliable fetch: acknowledge finished jobs, then move up to ARGV[1] jobs from the
-- queues, in the order given, into their per-queue working lists, atomically. A job is always in
-- its queue or in a working list, never in neither.
-- KEYS: queue:<q1>, working:<id>:<q1>, queue:<q2>, working:<id>:<q2>, ...
-- ARGV[1]: the most jobs to take (the capsule's free slots)
-- ARGV[2], ARGV[3], ...: acknowledgements as pairs (pair index, raw payload): each is removed
-- from that pair's working list before fetching, so finished jobs cost no round trip of their own.
-- Returns a flat list: pair index (1-based), raw payload, pair index, raw payload, ...
for i = 2, #ARGV, 2 do
  redis.call('LREM', KEYS[2 * tonumber(ARGV[i])], 1, ARGV[i + 1])
end
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
