-- A run of a job with a result record starts: one step, so attempts and workers never lose a
-- concurrent update. KEYS[1] = henchman:result:<jid>
-- ARGV[1] = TTL in ms, ARGV[2] = worker identity, ARGV[3..] = field, value pairs
local key = KEYS[1]
for i = 3, #ARGV, 2 do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
redis.call('HINCRBY', key, 'attempts', 1)
local workers = redis.call('HGET', key, 'workers')
if workers and workers ~= '' then
  workers = workers .. '\n' .. ARGV[2]
else
  workers = ARGV[2]
end
redis.call('HSET', key, 'workers', workers)
redis.call('PEXPIRE', key, ARGV[1])
return 1
