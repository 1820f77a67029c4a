# The benchmark's no-op job for Ruby Sidekiq (`sidekiq -r ./noop_job.rb -q default`): the same
# commands as jobs/record.py, in one pipelined round trip.
require "sidekiq"

[:configure_server, :configure_client].each do |hook|
  Sidekiq.send(hook) { |config| config.logger.level = Logger::WARN }  # INFO logs 2 lines per job
end

class NoopJob
  include Sidekiq::Worker

  def perform(enqueued_at)
    now = Process.clock_gettime(Process::CLOCK_REALTIME)
    Sidekiq.redis do |conn|
      conn.pipelined do |pipe|
        pipe.set("bench:first", now.to_s, nx: true)
        pipe.set("bench:last", now.to_s)
        pipe.incr("bench:done")
        pipe.rpush("bench:lat", (now - enqueued_at).to_s) if enqueued_at > 0
      end
    end
  end
end
