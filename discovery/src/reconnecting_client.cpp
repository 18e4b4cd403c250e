// ReconnectingClient: one connection at a time, replaced by a thread of its own when it drops.
// The close handler of each connection only marks it down; the thread connects again through
// the Balancer, retires the old connection (its netrefs then throw StaleReference) and hands
// the new root to on_reconnect before root() callers see it.
#include "netref/discovery/reconnecting_client.hpp"

#include <algorithm>

#include "netref/discovery/errors.hpp"
#include "netref/protocol/log.hpp"

namespace netref {
namespace {

std::string address_text(const std::optional<ServiceAddress>& a) {
  return a ? a->host + ":" + std::to_string(a->port) : std::string("?");
}

std::string error_text(const std::exception_ptr& error) {
  if (!error) return "closed";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace

ReconnectingClient::ReconnectingClient(InstanceSource source, ReconnectConfig config)
    : balancer_(std::move(source), config.balancer), config_(std::move(config)), random_(std::random_device{}()) {
  install(balancer_.connect());
  thread_ = std::thread([this] { run(); });
}

ReconnectingClient::~ReconnectingClient() { close(); }

void ReconnectingClient::install(Client client) {
  ConnectionPtr conn = client.connection_ptr();
  const auto instance = balancer_.last_instance();
  std::unique_ptr<BackgroundServingThread> serving;
  if (config_.serve_in_background) serving = std::make_unique<BackgroundServingThread>(conn, false);
  {
    std::lock_guard lk(mutex_);
    client_ = std::move(client);
    serving_ = std::move(serving);
    instance_ = instance;
    ++epoch_;
  }
  // Outside the lock: a connection closed already runs the handler now, and it locks.
  conn->set_close_handler([this](Connection& closed) { dropped(closed); });
  std::lock_guard lk(mutex_);
  if (serving_) serving_->start();
}

void ReconnectingClient::dropped(const Connection& conn) {
  {
    std::lock_guard lk(mutex_);
    if (!client_ || &client_->connection() != &conn || closing_) return;  // an older one, or ours closing
    down_ = true;
  }
  changed_.notify_all();
}

std::chrono::milliseconds ReconnectingClient::retry_delay(unsigned rounds) {
  // Every instance that failed is backing off: wait for the first to be due. Discovery itself
  // failing (no registry, no instance listed) backs off on the same schedule, by rounds.
  const auto now = config_.balancer.now ? config_.balancer.now() : std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> first_due;
  for (const InstanceState& s : balancer_.state()) {
    if (!first_due || s.retry_at < *first_due) first_due = s.retry_at;
  }
  std::chrono::milliseconds delay;
  if (first_due && *first_due > now) {
    delay = std::chrono::ceil<std::chrono::milliseconds>(*first_due - now);
  } else {
    delay = detail::backoff_delay(config_.balancer.backoff, rounds,
                                  std::uniform_real_distribution<double>(0.0, 1.0)(random_));
  }
  return std::max(delay, std::chrono::milliseconds(1));
}

void ReconnectingClient::run() {
  std::unique_lock lk(mutex_);
  for (;;) {
    changed_.wait(lk, [&] { return closing_ || down_; });
    if (closing_) return;
    std::optional<Client> old = std::move(client_);
    client_.reset();
    std::unique_ptr<BackgroundServingThread> old_serving = std::move(serving_);
    const auto old_instance = instance_;
    lk.unlock();

    const std::string why = old ? error_text(old->connection().close_error()) : std::string("closed");
    old_serving.reset();  // joins: the thread ended with its connection
    if (config_.on_disconnect) {
      try {
        config_.on_disconnect(why);
      } catch (...) {
        detail::log(config_.balancer.client.connection.log, LogLevel::warning, "ReconnectingClient: on_disconnect threw", ConnectionId::none);
      }
    }
    std::optional<Client> fresh;
    for (unsigned rounds = 1; !fresh; ++rounds) {
      try {
        fresh = balancer_.connect();
      } catch (const std::exception& e) {  // netref's errors, and whatever the source throws
        lk.lock();
        last_error_ = e.what();
        if (changed_.wait_for(lk, retry_delay(rounds), [&] { return closing_; })) return;
        lk.unlock();
      }
    }
    const auto reached = balancer_.last_instance();
    if (old) {
      old->connection().mark_stale("its link to " + address_text(old_instance) + " dropped (" + why +
                                   ") and the client reconnected to " + address_text(reached) +
                                   "; take new references from the client's root()");
    }
    old.reset();
    Client installed = *fresh;
    install(std::move(*fresh));
    if (config_.on_reconnect) {
      try {
        config_.on_reconnect(Proxy(Value(installed.connection().root())));
      } catch (const std::exception& e) {
        detail::log(config_.balancer.client.connection.log, LogLevel::warning, std::string("ReconnectingClient: on_reconnect threw: ") + e.what(), ConnectionId::none);
      } catch (...) {
        detail::log(config_.balancer.client.connection.log, LogLevel::warning, "ReconnectingClient: on_reconnect threw", ConnectionId::none);
      }
    }
    lk.lock();
    // The new connection may have dropped already (its handler then set down_ again).
    down_ = !client_ || client_->closed();
    last_error_.clear();
    lk.unlock();
    changed_.notify_all();
    lk.lock();
  }
}

std::pair<Proxy, std::uint64_t> ReconnectingClient::current_root(std::uint64_t after) {
  const auto deadline = std::chrono::steady_clock::now() + config_.reconnect_wait;
  for (;;) {
    Client client(nullptr);
    std::uint64_t epoch = 0;
    {
      std::unique_lock lk(mutex_);
      const bool ready = changed_.wait_until(lk, deadline, [&] {
        return closing_ || (!down_ && client_ && epoch_ > after && !client_->closed());
      });
      if (closing_) throw ConnectionClosed("the reconnecting client is closed");
      if (!ready) {
        throw ServiceUnavailable("no connection to the service after waiting " +
                                 std::to_string(config_.reconnect_wait.count()) + " ms for a reconnect" +
                                 (last_error_.empty() ? std::string() : ": " + last_error_));
      }
      client = *client_;
      epoch = epoch_;
    }
    try {
      return {client.root(), epoch};  // GETROOT once per connection, outside the lock
    } catch (const ConnectionClosed&) {
      after = epoch;  // dropped in between: wait for the next one
    }
  }
}

Proxy ReconnectingClient::root() { return current_root(0).first; }

Client ReconnectingClient::client() {
  for (;;) {
    const std::uint64_t epoch = current_root(0).second;
    std::lock_guard lk(mutex_);
    if (client_ && epoch_ == epoch) return *client_;  // else replaced meanwhile: the newest
  }
}

bool ReconnectingClient::closing() const {
  std::lock_guard lk(mutex_);
  return closing_;
}

std::uint64_t ReconnectingClient::epoch() const {
  std::lock_guard lk(mutex_);
  return epoch_;
}

std::optional<ServiceAddress> ReconnectingClient::instance() const {
  std::lock_guard lk(mutex_);
  return instance_;
}

bool ReconnectingClient::connected() const {
  std::lock_guard lk(mutex_);
  return !down_ && client_ && !client_->closed();
}

void ReconnectingClient::close() {
  std::optional<Client> client;
  std::unique_ptr<BackgroundServingThread> serving;
  {
    std::lock_guard lk(mutex_);
    closing_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  {
    std::lock_guard lk(mutex_);
    client = std::move(client_);
    client_.reset();
    serving = std::move(serving_);
  }
  if (client) client->close();  // its close handler sees closing_ and does nothing
  serving.reset();
}

}  // namespace netref
