#pragma once
/// A thread that serves a connection in the background (rpyc's BgServingThread): callbacks
/// from the peer and async replies are handled while the user's threads do other work.
#include "netref/export.hpp"
#include <atomic>
#include <mutex>
#include <thread>

#include "netref/protocol/connection.hpp"

namespace netref {

/// Serves conn until stop() or until the connection closes. The user's own sync calls keep
/// working meanwhile (they wait for their reply while this thread reads it for them).
class NETREF_API BackgroundServingThread {
 public:
  /// Starts serving at once unless start_now is false.
  explicit BackgroundServingThread(ConnectionPtr conn, bool start_now = true);
  /// Stops and joins.
  ~BackgroundServingThread();
  BackgroundServingThread(const BackgroundServingThread&) = delete;
  BackgroundServingThread& operator=(const BackgroundServingThread&) = delete;

  /// Starts the thread; no-op while it runs. May follow a stop().
  void start();
  /// Asks the thread to stop and joins it (within one serve interval, 50 ms). Idempotent;
  /// not from the serving thread itself (a callback), where it only asks.
  void stop();
  /// True while the thread serves.
  bool running() const noexcept { return running_.load(std::memory_order_acquire); }

 private:
  ConnectionPtr conn_;
  std::mutex mutex_;  // start and stop
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  std::thread thread_;
};

/// rpyc's name for it.
using BgServingThread = BackgroundServingThread;

}  // namespace netref
