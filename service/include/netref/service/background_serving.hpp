#pragma once
/// A thread that serves a connection in the background (rpyc's BgServingThread): callbacks
/// from the peer and async replies are handled while the user's threads do other work.
#include <atomic>
#include <thread>

#include "netref/protocol/connection.hpp"

namespace netref {

/// Serves conn until stop() or until the connection closes. The user's own sync calls keep
/// working meanwhile (they wait for their reply while this thread reads).
class BackgroundServingThread {
 public:
  explicit BackgroundServingThread(ConnectionPtr conn);
  /// Stops and joins.
  ~BackgroundServingThread();
  BackgroundServingThread(const BackgroundServingThread&) = delete;
  BackgroundServingThread& operator=(const BackgroundServingThread&) = delete;

  /// Asks the thread to stop and joins it (within one serve interval). Idempotent.
  void stop();

 private:
  ConnectionPtr conn_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace netref
