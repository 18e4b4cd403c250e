// AsyncResult: waits serve the connection; then() runs on the delivering thread.
#include "netref/protocol/async_result.hpp"

#include "connection_impl.hpp"
#include "netref/protocol/detail/wait_observer.hpp"

namespace netref {

bool AsyncResult::ready() const {
  std::lock_guard lk(connection_->impl_->state_mutex);
  return call_->done;
}

bool AsyncResult::wait(std::chrono::milliseconds timeout) const {
  if (call_->done.load(std::memory_order_acquire)) return true;
  detail::ObservedWait observed(*connection_);  // a pool thread gives its place while it waits
  auto deadline = std::chrono::steady_clock::time_point::max();
  if (timeout.count() >= 0) deadline = std::chrono::steady_clock::now() + timeout;
  {
    std::lock_guard lk(connection_->impl_->state_mutex);
    deadline = std::min(deadline, call_->expiry);
  }
  return connection_->impl_->wait_for(call_, deadline);
}

Value AsyncResult::value() const {
  if (!wait()) throw Timeout("async result expired before its reply arrived");
  std::lock_guard lk(connection_->impl_->state_mutex);
  if (call_->error) std::rethrow_exception(call_->error);
  return call_->value;
}

std::exception_ptr AsyncResult::error() const {
  std::lock_guard lk(connection_->impl_->state_mutex);
  return call_->done ? call_->error : nullptr;
}

void AsyncResult::then(std::function<void(const AsyncResult&)> fn) const {
  {
    std::lock_guard lk(connection_->impl_->state_mutex);
    if (!call_->done) {
      call_->callbacks.push_back(std::move(fn));
      return;
    }
  }
  fn(*this);
}

bool AsyncResult::cancel() const {
  // A netref peer that listed `cancel` is told to stop the handler; against any other the
  // cancel is local only.
  return connection_->impl_->cancel_call(call_, std::make_exception_ptr(Cancelled("the call was cancelled")));
}

void AsyncResult::set_expiry(std::chrono::milliseconds timeout) const {
  if (timeout.count() >= 0) return connection_->impl_->arm_expiry(call_, timeout);  // settles at expiry
  std::lock_guard lk(connection_->impl_->state_mutex);
  call_->expiry = std::chrono::steady_clock::time_point::max();
  if (call_->expiry_timer) call_->expiry_timer->cancel();
}

}  // namespace netref
