-- Write fields of a result record and refresh its TTL (the outcome of a run, or "queued").
-- KEYS[1] = henchman:result:<jid>; ARGV[1] = TTL in ms, ARGV[2..] = field, value pairs
local key = KEYS[1]
for i = 2, #ARGV, 2 do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', key, ARGV[1])
return 1
