// The thread's wait observer (detail/wait_observer.hpp).
#include "netref/protocol/detail/wait_observer.hpp"

namespace netref::detail {
namespace {
thread_local WaitObserver* current_observer = nullptr;
thread_local int observed_depth = 0;  // waits of this thread inside an observed one
}  // namespace

WaitObserver* exchange_wait_observer(WaitObserver* observer) noexcept {
  WaitObserver* previous = current_observer;
  current_observer = observer;
  return previous;
}

ObservedWait::ObservedWait(const Connection& connection) : connection_(connection) {
  if (current_observer != nullptr && observed_depth == 0) {
    current_observer->before_wait(connection);  // may throw: nothing is counted then
    observer_ = current_observer;
  }
  ++observed_depth;
}

ObservedWait::~ObservedWait() {
  --observed_depth;
  if (observer_ != nullptr) observer_->after_wait(connection_);
}

}  // namespace netref::detail
