#pragma once
/// AsyncResult: the eventual reply to an async request.
#include "netref/export.hpp"
#include <chrono>
#include <exception>
#include <functional>
#include <memory>

#include "netref/protocol/value.hpp"

namespace netref {

class Connection;
namespace detail {
struct PendingCall;
struct ConnectionImpl;
}  // namespace detail

/// A handle on a reply that has not necessarily arrived. Cheap to copy (shared state).
/// Something must serve the connection for the reply to arrive: wait()/value() do it
/// themselves ("whoever waits, serves"); so do serve(), a server loop or a
/// BackgroundServingThread.
class NETREF_API AsyncResult {
 public:
  AsyncResult() = default;

  /// True once the reply (or an error) is here. Does not serve the connection.
  bool ready() const;
  /// Waits up to timeout (negative: forever) serving the connection meanwhile; true if ready.
  bool wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1)) const;
  /// Waits (up to the expiry, see set_expiry) and returns the value, or throws the remote
  /// error, ConnectionClosed, or Timeout when expired.
  Value value() const;
  /// Once ready: the error it carries, or nullptr.
  std::exception_ptr error() const;
  /// Calls fn(*this) once the result is ready: now if it already is, else on the thread that
  /// delivers the reply (keep it short; it must not wait on this connection).
  void then(std::function<void(const AsyncResult&)> fn) const;
  /// value() and wait() give up after timeout from now (negative: never). The default expiry
  /// of an async request is none.
  void set_expiry(std::chrono::milliseconds timeout) const;

  /// Gives up on the reply: if it has not arrived, the result settles now with Cancelled
  /// (then-callbacks run on this thread) and a late reply is dropped. True if this call
  /// settled it; false if it was already settled.
  bool cancel() const;

  explicit operator bool() const noexcept { return static_cast<bool>(call_); }

 private:
  friend class Connection;
  friend struct detail::ConnectionImpl;
  AsyncResult(std::shared_ptr<Connection> connection, std::shared_ptr<detail::PendingCall> call)
      : connection_(std::move(connection)), call_(std::move(call)) {}
  std::shared_ptr<Connection> connection_;
  std::shared_ptr<detail::PendingCall> call_;
};

}  // namespace netref
