// The process-wide log handler: set rarely, read on each event (never on the call path:
// callers ask log_wanted first, one relaxed load).
#include "netref/protocol/log.hpp"

#include <atomic>
#include <memory>
#include <mutex>

namespace netref {
namespace {

struct Global {
  std::mutex mutex;
  std::shared_ptr<const LogHandler> handler;  // guarded by mutex; copied out to call
  std::atomic<bool> set{false};
};

Global& global() {
  static Global g;
  return g;
}

}  // namespace

void set_log_handler(LogHandler handler) {
  auto& g = global();
  std::shared_ptr<const LogHandler> next;
  if (handler) next = std::make_shared<const LogHandler>(std::move(handler));
  std::lock_guard lk(g.mutex);
  g.set.store(next != nullptr, std::memory_order_relaxed);
  g.handler.swap(next);
}

namespace detail {

bool log_wanted(const LogHandler& override) noexcept {
  return static_cast<bool>(override) || global().set.load(std::memory_order_relaxed);
}

void log(const LogHandler& override, LogLevel level, std::string_view message, ConnectionId connection) noexcept {
  try {
    if (override) {
      override(level, message, connection);
      return;
    }
    auto& g = global();
    if (!g.set.load(std::memory_order_relaxed)) return;
    std::shared_ptr<const LogHandler> handler;
    {
      std::lock_guard lk(g.mutex);
      handler = g.handler;
    }
    if (handler) (*handler)(level, message, connection);
  } catch (...) {
    // a failing log must not take its caller down
  }
}

}  // namespace detail
}  // namespace netref
