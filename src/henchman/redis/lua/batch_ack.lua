-- requires: batch_lib
-- Acknowledge a job of a batch and count its outcome in the batch, in one step tied to the
-- acknowledgement: ack.lua's semantics (the job leaves its working list; a failure's retry or
-- dead record is written) plus the batch accounting and, when a condition now holds, the
-- callback jobs (see batch_lib). If the job is no longer in its working list (a stop or orphan
-- recovery gave it back), nothing is recorded: it will run and be counted again. Counting is
-- idempotent per jid, so a job that runs twice after a crash never counts twice.
-- KEYS[1]: working list; KEYS[2]: retry or dead zset; KEYS[3]: the queues set
-- ARGV[1..5]: as ack.lua (raw, score, new payload or '', trim cutoff or '', max entries)
-- ARGV[6]: 'success', 'failure' or 'dead'; ARGV[7]: jid; ARGV[8]: bid; ARGV[9]: now;
-- ARGV[10]: batch key prefix; ARGV[11]: queue key prefix; ARGV[12]: seconds kept after
-- success; ARGV[13]: seconds the dead set keeps a job
-- Returns 1 if the job was acknowledged, 0 if it was no longer there.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then
  return 0
end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
  if ARGV[4] ~= '' then
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])
    redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[5]) + 1))
  end
end
CFG.now, CFG.prefix, CFG.qprefix, CFG.queues = ARGV[9], ARGV[10], ARGV[11], KEYS[3]
CFG.success_ttl, CFG.dead_ttl = ARGV[12], ARGV[13]
count(ARGV[6], ARGV[7], ARGV[8])
return 1
