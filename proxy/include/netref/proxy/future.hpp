#pragma once
/// to_future: an AsyncCall as a std::future<Proxy>. The future's get() does not serve the
/// connection: something else must (a BackgroundServingThread, a server's loop), or get()
/// waits for ever. Use AsyncCall::value() to wait while serving.
#include <future>
#include <memory>

#include "netref/proxy/proxy.hpp"

namespace netref {

/// A future that becomes ready when call settles: its value, or what the callee raised
/// (RemoteError and subclasses, ConnectionClosed, Cancelled) as the future's exception.
inline std::future<Proxy> to_future(const AsyncCall& call) {
  auto promise = std::make_shared<std::promise<Proxy>>();
  auto future = promise->get_future();
  call.then([promise](const AsyncCall& settled) {
    if (auto error = settled.error()) promise->set_exception(error);
    else promise->set_value(settled.value());  // ready: value() does not wait
  });
  return future;
}

}  // namespace netref
