#pragma once
// A connection's life: Open, then Closing (one thread empties the tables and runs the close
// handler), then Closed. Each state carries what it needs; nothing else says "closed".
#include <atomic>
#include <exception>
#include <optional>
#include <thread>
#include <variant>

#include "netref/protocol/close_reason.hpp"

namespace netref::detail {

struct Open {};
struct Closing {
  std::thread::id closer;  // the thread running the close
  CloseReason reason;
  std::exception_ptr error;  // what pending calls and later calls report
};
struct Closed {
  CloseReason reason;
  std::exception_ptr error;
};

/// Open | Closing | Closed, with a lock-free mirror of "still open" for the call path. Not
/// locked otherwise: the connection changes and reads it under its state lock.
class ConnectionState {
 public:
  /// Lock-free: false from the moment a close begins.
  bool open() const noexcept { return open_.load(std::memory_order_acquire); }
  /// Open -> Closing, on this thread. False when a close has begun already.
  bool begin_close(CloseReason reason, std::exception_ptr error) noexcept {
    if (!std::holds_alternative<Open>(state_)) return false;
    state_ = Closing{std::this_thread::get_id(), reason, std::move(error)};
    open_.store(false, std::memory_order_release);
    return true;
  }
  /// Closing -> Closed: the close handler has run.
  void finish_close() noexcept {
    if (auto* closing = std::get_if<Closing>(&state_)) state_ = Closed{closing->reason, std::move(closing->error)};
  }
  /// True once closed, and while this thread runs the close (which must not wait for itself).
  bool settled_for_this_thread() const noexcept {
    if (std::holds_alternative<Closed>(state_)) return true;
    const auto* closing = std::get_if<Closing>(&state_);
    return closing != nullptr && closing->closer == std::this_thread::get_id();
  }
  bool closing_or_closed() const noexcept { return !std::holds_alternative<Open>(state_); }
  /// Why it closed; nullopt while open.
  std::optional<CloseReason> reason() const noexcept {
    if (const auto* c = std::get_if<Closing>(&state_)) return c->reason;
    if (const auto* c = std::get_if<Closed>(&state_)) return c->reason;
    return std::nullopt;
  }
  /// The error that closed it; null while open, or when closed without one.
  std::exception_ptr error() const noexcept {
    if (const auto* c = std::get_if<Closing>(&state_)) return c->error;
    if (const auto* c = std::get_if<Closed>(&state_)) return c->error;
    return nullptr;
  }

 private:
  std::variant<Open, Closing, Closed> state_;
  std::atomic<bool> open_{true};
};

}  // namespace netref::detail
