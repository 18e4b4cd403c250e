#pragma once
/// DeferredResult: the protocol's "reply later" hook. A handler that cannot answer yet returns
/// a Value holding a DeferredResult; the connection then gives its thread back at once and
/// sends the reply when the result settles (resolve or reject, from any thread). No thread
/// waits meanwhile. Exactly one reply goes out per request: a result dropped unsettled is
/// answered with an error, and one that settles after its connection closed is dropped.
///
/// Users rarely touch it: a bound function returns netref::Deferred<T>
/// (netref/service/deferred.hpp), or an asio::awaitable through netref::spawn_deferred
/// (netref/asio.hpp).
#include "netref/export.hpp"
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

#include "netref/protocol/object.hpp"
#include "netref/protocol/value.hpp"

namespace netref {

/// A result that settles later. Thread-safe; hold it by shared_ptr (create()).
class NETREF_API DeferredResult final : public Object {
 public:
  /// What the connection runs once the result settles: the value, or the error (then the
  /// value is None). Called once, on the settling thread, with no lock held.
  using Listener = std::function<void(Value, std::exception_ptr)>;

  static std::shared_ptr<DeferredResult> create() { return std::shared_ptr<DeferredResult>(new DeferredResult()); }
  /// Unsettled: settles with a RuntimeError ("dropped before it settled"), so the peer is
  /// answered rather than left waiting.
  ~DeferredResult() override;

  /// Settles with value (sent to the peer as the handler's result). True if this call
  /// settled it; false if it was settled already. Any thread.
  bool resolve(Value value);
  /// Settles with error (sent to the peer as an exception reply, as a handler's throw).
  bool reject(std::exception_ptr error);
  /// True once resolved or rejected.
  bool settled() const;

  /// Sets the one listener (the connection serving the request sets it). Runs it now, on
  /// this thread, if the result has settled already.
  void listen(Listener listener);

  std::string_view type_name() const noexcept override { return "netref.DeferredResult"; }

 private:
  DeferredResult() = default;
  bool settle(Value value, std::exception_ptr error);

  mutable std::mutex mutex_;
  bool settled_ = false;   // set once by settle()
  bool delivered_ = false; // the listener has the outcome (or will, on the settling thread)
  Value value_;            // the outcome, kept until a listener takes it
  std::exception_ptr error_;
  Listener listener_;      // set once by listen(); dropped after it runs
};

/// The DeferredResult a Value holds, if it holds one (a handler's "reply later"), else null.
NETREF_API std::shared_ptr<DeferredResult> deferred_result_of(const Value& value) noexcept;

}  // namespace netref
