# Sidekiq's client side for jobs/driver.py: ruby client.rb enqueue|bulk N | latency N PAUSE WARMUP
# Prints one JSON line, like driver.py.
require "json"
require_relative "noop_job"

def monotonic = Process.clock_gettime(Process::CLOCK_MONOTONIC)

command, n = ARGV[0], Integer(ARGV[1])
Sidekiq.redis(&:ping)  # connected before anything is timed
started = nil
case command
when "enqueue"
  started = monotonic
  n.times { NoopJob.perform_async(0.0) }
when "bulk"
  args = Array.new(n) { [0.0] }
  started = monotonic
  Sidekiq::Client.push_bulk("class" => NoopJob, "args" => args)
when "latency"
  pause, warmup = Float(ARGV[2]), Integer(ARGV[3])
  warmup.times { NoopJob.perform_async(0.0) }
  sleep 0.5
  started = monotonic
  n.times do
    NoopJob.perform_async(Process.clock_gettime(Process::CLOCK_REALTIME))
    sleep pause
  end
else
  abort "unknown command #{command}"
end
puts JSON.generate({seconds: monotonic - started, n: n})
