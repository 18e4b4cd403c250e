#pragma once
/// RequestContext: what a handler may know about the request it serves: its deadline (sent
/// by a netref caller as a relative timeout) and a stop token the caller's cancel sets.
#include "netref/export.hpp"
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>

namespace netref {
class RequestContext;
namespace detail {
struct ConnectionImpl;
/// The request this thread serves (RequestContext::current()).
NETREF_API extern constinit thread_local RequestContext* current_request;
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
  static RequestContext* current() noexcept { return detail::current_request; }

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

  /// Made by the connection around a handler; becomes current() until destroyed. Cheap: a
  /// few stores, nothing allocated (the stop state is made by the first stop_token()).
  RequestContext(std::uint32_t seq, Clock::time_point deadline) noexcept
      : seq_(seq), deadline_(deadline), previous_(detail::current_request) {
    detail::current_request = this;
  }
  ~RequestContext() {
    detail::current_request = previous_;
    if (stop_.load(std::memory_order_acquire) != nullptr) drop_stop();
  }
  RequestContext(const RequestContext&) = delete;
  RequestContext& operator=(const RequestContext&) = delete;

  /// The caller cancelled: stop_token() stops (now, or when first asked for). Any thread
  /// while the request is in service.
  void request_stop() noexcept;

 private:
  friend struct detail::ConnectionImpl;
  /// request_stop's first half, under the connection's lock: marks the request cancelled and
  /// returns the stop source to stop once that lock is let go (none when not made yet).
  std::optional<std::stop_source> mark_cancelled() noexcept;
  /// Deletes the stop source stop_token() made (out of line: the common request made none).
  void drop_stop() noexcept;

  std::uint32_t seq_;
  Clock::time_point deadline_;  // max: none
  RequestContext* previous_;    // current() before this one
  // Made by the first stop_token() (published with a CAS), deleted with the context. With
  // cancelled_ it forms a Dekker pair (both seq_cst): a cancel either sees the source and
  // stops it, or the handler's stop_token() sees cancelled_ and stops it itself.
  std::atomic<std::stop_source*> stop_{nullptr};
  std::atomic<bool> cancelled_{false};
};

}  // namespace netref
