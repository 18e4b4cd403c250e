#pragma once
/// PendingProxy: an attribute path on the result of an AsyncCall that may not have arrived,
/// called without waiting for it (promise pipelining, after Cap'n Proto's, on dynamic proxies):
///
///   auto counter = root->attr("make_counter")->async_call(10);  // sent now
///   auto added = counter->attr("add")->async_call(5);           // sent now, on the pending result
///   auto v = added.value().as<std::int64_t>();                  // both answered in one round trip
///
/// Between netref peers that both listed `pipeline`, a call on a pending result leaves at once
/// and the peer runs it after that result, in the order sent; if the result failed, the call
/// fails with the same error. To a peer without `pipeline` (Python's rpyc) the same code
/// waits for the result, then calls it: one round trip per dependency. docs/PIPELINING.md.
#include <chrono>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "netref/export.hpp"
#include "netref/protocol/pipeline.hpp"
#include "netref/proxy/proxy.hpp"

namespace netref {

class NETREF_API PendingProxy {
 public:
  PendingProxy(AsyncResult target, detail::AttrPath path, std::optional<std::chrono::milliseconds> timeout)
      : target_(std::move(target)), path_(std::move(path)), timeout_(timeout) {}

  /// Itself, so chains read `pending->attr("x")->async_call()`.
  const PendingProxy* operator->() const noexcept { return this; }

  /// The attribute `name` of the pending result's path; nothing is sent.
  PendingProxy attr(std::string_view name) const { return PendingProxy(target_, path_.with(name), timeout_); }

  /// Calls the path without waiting (pipelined, or after the result between other peers).
  /// The AsyncCall fails with the target's error when the target failed.
  template <class... Ts>
  AsyncCall async_call(Ts&&... args) const {
    AsyncCall pending(Proxy::with_arguments([this](std::span<Value> positional, Kwargs keywords) {
      return invoke_async(positional, std::move(keywords));
    }, std::forward<Ts>(args)...));
    if (timeout_) pending.set_expiry(*timeout_);
    return pending;
  }

  /// Calls the path and waits for its reply only (pipelined: one round trip for both).
  /// Throws what the callee raised, or the target's error.
  template <class... Ts>
  Proxy call(Ts&&... args) const {
    return Proxy(Proxy::with_arguments([this](std::span<Value> positional, Kwargs keywords) {
      return invoke(positional, std::move(keywords));
    }, std::forward<Ts>(args)...));
  }

  /// The path on the result, once it is here (waits for it; throws the target's error).
  Proxy settled() const;
  /// The path's value (waits for the result, then fetches the path).
  Proxy get() const { return settled().get(); }

  /// This proxy, its calls waiting at most timeout (as Proxy::with_timeout).
  PendingProxy with_timeout(std::chrono::milliseconds timeout) const { return PendingProxy(target_, path_, timeout); }

 private:
  AsyncResult invoke_async(std::span<Value> args, Kwargs kwargs) const;
  Value invoke(std::span<Value> args, Kwargs kwargs) const;

  AsyncResult target_;
  detail::AttrPath path_;
  std::optional<std::chrono::milliseconds> timeout_;
};

inline PendingProxy AsyncCall::attr(std::string_view name) const {
  return PendingProxy(result_, detail::AttrPath(name), std::nullopt);
}

}  // namespace netref
