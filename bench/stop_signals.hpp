#pragma once
// How the bench servers end: SIGTERM or SIGINT, taken by the main thread with sigwait. Built
// before any thread starts, so every thread inherits the blocked signals and none of them is
// interrupted by one.
#include <pthread.h>
#include <signal.h>

namespace bench {

class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  /// Returns when SIGTERM or SIGINT arrives.
  void wait() const {
    int received = 0;
    sigwait(&set_, &received);
  }

 private:
  sigset_t set_;
};

}  // namespace bench
