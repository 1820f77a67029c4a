-- A run of a job with a result record failed: append its error (keeping the newest ARGV[3]),
-- set the status fields and refresh the TTL, in one step.
-- KEYS[1] = henchman:result:<jid>
-- ARGV[1] = TTL in ms, ARGV[2] = the error entry (JSON object), ARGV[3] = errors kept,
-- ARGV[4..] = field, value pairs
local key = KEYS[1]
local errors = {}
local stored = redis.call('HGET', key, 'errors')
if stored then
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == 'table' then errors = decoded end
end
table.insert(errors, cjson.decode(ARGV[2]))
local keep = tonumber(ARGV[3])
while #errors > keep do table.remove(errors, 1) end
redis.call('HSET', key, 'errors', cjson.encode(errors))
for i = 4, #ARGV, 2 do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', key, ARGV[1])
return 1
