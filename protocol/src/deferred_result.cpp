// DeferredResult: one outcome, handed to one listener on whichever thread completes the pair.
#include "netref/protocol/deferred_result.hpp"

#include <typeinfo>
#include <utility>

#include "netref/protocol/errors.hpp"

namespace netref {

DeferredResult::~DeferredResult() {
  Listener listener;
  {
    std::lock_guard lk(mutex_);
    if (settled_ || !listener_) return;
    listener.swap(listener_);
  }
  try {
    listener(Value(), std::make_exception_ptr(RemoteError(
                          "RuntimeError", "the handler's deferred result was dropped before it settled")));
  } catch (...) {
    // a destructor never throws; the listener sends best effort anyway
  }
}

bool DeferredResult::resolve(Value value) { return settle(std::move(value), nullptr); }

bool DeferredResult::reject(std::exception_ptr error) {
  if (!error) error = std::make_exception_ptr(RemoteError("RuntimeError", "deferred result rejected without an error"));
  return settle(Value(), std::move(error));
}

bool DeferredResult::settled() const {
  std::lock_guard lk(mutex_);
  return settled_;
}

bool DeferredResult::settle(Value value, std::exception_ptr error) {
  Listener listener;
  {
    std::lock_guard lk(mutex_);
    if (settled_) return false;
    settled_ = true;
    if (!listener_) {  // nobody listens yet: listen() hands it over
      value_ = std::move(value);
      error_ = std::move(error);
      return true;
    }
    listener.swap(listener_);
    delivered_ = true;
  }
  listener(std::move(value), std::move(error));  // outside the lock: it sends on the network
  return true;
}

void DeferredResult::listen(Listener listener) {
  {
    std::lock_guard lk(mutex_);
    if (!settled_) {
      listener_ = std::move(listener);
      return;
    }
    if (delivered_) return;
    delivered_ = true;
  }
  listener(std::move(value_), std::move(error_));
}

std::shared_ptr<DeferredResult> deferred_result_of(const Value& value) noexcept {
  const auto* object = value.get_if<ObjectPtr>();
  // DeferredResult is final: one type_info comparison, no dynamic_cast, on every reply.
  if (object == nullptr || !*object || typeid(**object) != typeid(DeferredResult)) return nullptr;
  return std::static_pointer_cast<DeferredResult>(*object);
}

}  // namespace netref
