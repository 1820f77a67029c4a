-- Cluster layout: fetch.lua for several queues that one master serves, in one call, so a fetch
-- round sends one call per master instead of one per queue.
-- KEYS[1], KEYS[2]: the first group's queue and working list (the call is routed by them; the
-- node checks that it serves their slot). They are repeated as that group's ARGV.
-- ARGV: groups, each: queue key, working key, how many jobs to take, how many acknowledgements,
-- then that many raw payloads (each removed from the working list).
-- The other groups' keys are in other slots, which the caller believes this node serves. A script
-- without a flags line may touch keys of several slots of its own node (Redis 6.2 and 7, Valkey);
-- the node refuses a key of a slot it does not serve, and of a slot being migrated a key it does
-- not hold. So each group after the first is checked first (EXISTS on both its keys, through
-- redis.pcall, which returns the refusal instead of raising): a refused group is left untouched
-- and reported, and the caller sends it on its own. The first group's keys are the call's KEYS,
-- which the node checked before running the script. In a group the jobs are moved before the acknowledgements are
-- removed, so every write goes to a key that exists (all a migrating slot serves).
-- A job is always in its queue or in a working list, never in neither.
-- Returns: {refused group numbers}, then group number, raw payload, group number, raw payload, ...
local out = {{}}
local i = 1
local group = 0
while i <= #ARGV do
  group = group + 1
  local queue, working = ARGV[i], ARGV[i + 1]
  local want, acks = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local first = i + 4
  i = first + acks
  if group > 1 and type(redis.pcall('EXISTS', queue, working)) ~= 'number' then
    table.insert(out[1], group)
  else
    if want > 0 then
      local items = redis.call('RPOP', queue, want)
      if items then
        redis.call('LPUSH', working, unpack(items))
        for _, raw in ipairs(items) do
          out[#out + 1] = group
          out[#out + 1] = raw
        end
      end
    end
    for a = first, i - 1 do
      redis.call('LREM', working, 1, ARGV[a])
    end
  end
end
return out
