#pragma once
#include "netref/export.hpp"
/// How a server's pool learns that one of its threads is about to wait on a peer (a handler
/// that calls back into its client, a forwarded attribute, a nested call): the pool hands
/// that thread's place to another worker, and refuses the wait when its bounds are reached.
/// Internal to netref: protocol/ calls it, service/'s ThreadPoolServer implements it.
namespace netref {
class Connection;
namespace detail {

class WaitObserver {
 public:
  /// This thread is about to wait for a reply from connection's peer. Throws (an Error
  /// saying which bound was reached) to refuse the wait; the request is then not sent.
  virtual void before_wait(const Connection& connection) = 0;
  /// The wait that before_wait admitted is over.
  virtual void after_wait(const Connection& connection) noexcept = 0;

 protected:
  virtual ~WaitObserver() = default;
};

/// Sets this thread's observer (null: none, the default) and returns the previous one.
NETREF_API WaitObserver* exchange_wait_observer(WaitObserver* observer) noexcept;

/// Tells this thread's observer, if any, for as long as it lives; nested waits on one thread
/// are told once (the outermost).
class ObservedWait {
 public:
  explicit ObservedWait(const Connection& connection);  // may throw: the wait is refused
  ~ObservedWait();
  ObservedWait(const ObservedWait&) = delete;
  ObservedWait& operator=(const ObservedWait&) = delete;

 private:
  WaitObserver* observer_ = nullptr;
  const Connection& connection_;
};

}  // namespace detail
}  // namespace netref
