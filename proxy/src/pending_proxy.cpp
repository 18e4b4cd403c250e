// PendingProxy: calls on a pending result, pipelined when the peer keeps it.
#include "netref/proxy/pending_proxy.hpp"

namespace netref {

Proxy PendingProxy::settled() const {
  Proxy p(target_.value(), path_);
  p.timeout_ = timeout_;
  return p;
}

AsyncResult PendingProxy::invoke_async(std::span<Value> args, Kwargs kwargs) const {
  if (pipelinable(target_)) return pipelined_async_call(target_, path_.names(), args, std::move(kwargs), timeout_);
  // A peer without `pipeline`, or the result is here: wait for it (one round trip per
  // dependency), then the ordinary call on it; its error is the call's.
  target_.wait();
  if (auto error = target_.error()) return failed_async_result(target_, std::move(error));
  return settled().invoke_async(args, std::move(kwargs));
}

Value PendingProxy::invoke(std::span<Value> args, Kwargs kwargs) const {
  if (pipelinable(target_)) return pipelined_call(target_, path_.names(), args, std::move(kwargs), timeout_);
  return settled().invoke(args, std::move(kwargs));
}

}  // namespace netref
