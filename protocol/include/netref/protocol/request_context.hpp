#pragma once
/// RequestContext: what a handler may know about the request it serves: its deadline (sent
/// by a netref caller as a relative timeout) and a stop token the caller's cancel sets.
#include "netref/export.hpp"
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>

namespace netref {
namespace detail {
struct ConnectionImpl;
}

/// The request this thread is serving. Made by the connection around each handler, on the
/// stack: nothing is allocated unless the handler asks for a stop token. Calls the handler
/// makes on this thread (sync or async, through any connection) wait at most what is left of
/// the deadline, and a netref peer is sent that remainder as their own deadline.
///
/// ```cpp
/// calc.def("crunch", [](std::int64_t n) {
///   auto* request = netref::RequestContext::current();
///   std::int64_t sum = 0;
///   for (std::int64_t i = 0; i < n; ++i) {
///     if (request != nullptr && (request->stop_requested() || request->expired())) {
///       throw netref::Cancelled("stopped after " + std::to_string(i) + " steps");
///     }
///     sum += i;
///   }
///   return sum;
/// });
/// ```
class NETREF_API RequestContext {
 public:
  using Clock = std::chrono::steady_clock;

  /// The request this thread serves (the innermost one, when a handler's own call serves a
  /// callback meanwhile); null outside a handler. Only the serving thread may use it.
  static RequestContext* current() noexcept;

  /// When the caller stops waiting: the request's arrival plus the timeout the caller sent;
  /// nullopt when it sent none (a Python caller, or a call without a timeout).
  std::optional<Clock::time_point> deadline() const noexcept;
  /// What is left of the deadline (zero once it passed); nullopt without one.
  std::optional<std::chrono::milliseconds> remaining() const noexcept;
  /// True once the deadline passed.
  bool expired() const noexcept;

  /// Stops when the caller cancels this request (CANCEL from a netref peer that listed
  /// `cancel`). The first call makes the stop state; a cancel that came before it is seen.
  std::stop_token stop_token();
  /// True once the caller cancelled the request. Cheap: polls without making a stop state.
  bool stop_requested() const noexcept;

  /// The seq of the request served (its caller's numbering).
  std::uint32_t seq() const noexcept { return seq_; }

  /// Made by the connection around a handler; becomes current() until destroyed.
  RequestContext(std::uint32_t seq, Clock::time_point deadline) noexcept;
  ~RequestContext();
  RequestContext(const RequestContext&) = delete;
  RequestContext& operator=(const RequestContext&) = delete;

  /// The caller cancelled: stop_token() stops (now, or when first asked for). Any thread.
  void request_stop() noexcept;

 private:
  friend struct detail::ConnectionImpl;
  /// request_stop's first half, under the connection's lock: marks the request cancelled and
  /// returns the stop source to stop once that lock is let go (none when not made yet).
  std::optional<std::stop_source> mark_cancelled() noexcept;

  std::uint32_t seq_;
  Clock::time_point deadline_;  // max: none
  RequestContext* previous_;    // current() before this one
  mutable std::mutex mutex_;    // guards stop_ and cancelled_ (request_stop comes from the reader)
  std::optional<std::stop_source> stop_;  // made by the first stop_token()
  std::atomic<bool> cancelled_{false};    // set once by request_stop
};

}  // namespace netref
