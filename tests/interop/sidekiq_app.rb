# Ruby side of the interop tests: real Sidekiq (Debian's ruby-sidekiq 6.4.1).
require "sidekiq"
require "json"

Sidekiq.configure_server { |config| config.logger.level = Logger::WARN }
Sidekiq.configure_client { |config| config.logger.level = Logger::WARN }

# Runs jobs that henchman pushed to the "ruby" queue.
class RubyJob
  include Sidekiq::Worker

  def perform(*args)
    Sidekiq.redis { |c| c.rpush("interop:ruby_ran", JSON.generate(args)) }
  end
end
