-- Leader lease (Sidekiq Enterprise layout: the key holds the leader's identity), atomically.
-- KEYS[1]: dear-leader
-- ARGV[1]: this process's identity; ARGV[2]: lease in milliseconds; ARGV[3]: 'hold' or 'resign'
-- 'hold' takes the lease when nobody holds it, renews it when this process holds it, and
-- otherwise leaves it alone. Returns {leader (1/0), newly acquired (1/0), lease ms left}.
-- 'resign' deletes the key only if this process holds it (stepping down on stop); returns 1/0.
local current = redis.call('GET', KEYS[1])
if ARGV[3] == 'resign' then
  if current == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {1, 1, tonumber(ARGV[2])}
end
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, 0, tonumber(ARGV[2])}
end
return {0, 0, redis.call('PTTL', KEYS[1])}
