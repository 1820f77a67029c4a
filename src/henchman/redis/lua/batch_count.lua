-- requires: batch_lib
-- Cluster layout: count a finished job of a batch in its family's slot, before the job's
-- acknowledgement (ack.lua, in its queue's slot). Idempotent per jid, so a job that runs again
-- after a crash between the two steps is counted once. Callbacks that fire are written to the
-- family's outbox (delivered to their queues by henchman.batches.outbox), not pushed.
-- KEYS[1]: the family's outbox
-- ARGV[1]: 'success', 'failure' or 'dead'; ARGV[2]: jid; ARGV[3]: bid; ARGV[4]: now;
-- ARGV[5]: batch key prefix; ARGV[6]: seconds kept after success; ARGV[7]: seconds the dead
-- set keeps a job; ARGV[8]: the family's hash tag
-- Returns the outbox length.
CFG.now, CFG.prefix, CFG.outbox, CFG.tag = ARGV[4], ARGV[5], KEYS[1], ARGV[8]
CFG.success_ttl, CFG.dead_ttl = ARGV[6], ARGV[7]
count(ARGV[1], ARGV[2], ARGV[3])
return redis.call('LLEN', KEYS[1])
