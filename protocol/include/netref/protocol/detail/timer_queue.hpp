#pragma once
/// Every deadline netref keeps runs on one timer thread: keepalive pings, idle and
/// first-frame timeouts (liveness), the deferred flush of batched requests, and a
/// ThreadPoolServer's handshake, frame and write-stall deadlines. Timers are ordered by
/// deadline; the thread sleeps until the earliest one, and costs nothing while none is armed.
/// Internal to netref: protocol/ and service/ use it, users never see it.
#include "netref/export.hpp"
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

namespace netref::detail {

/// One thread running callbacks at their deadlines. The thread starts with the first armed
/// timer and is joined by the destructor (or detached, when the last owner lets go from a
/// callback on that very thread). Callbacks run one at a time, in deadline order (ties in
/// the order they were armed); they must be short and must never wait on a peer, since every
/// other deadline of the process waits behind them.
class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;

  TimerQueue();
  /// Drops the callbacks of timers still armed without running them; waits for a callback
  /// that runs now to return (unless called from it).
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  /// Timers armed now (for tests and stats).
  std::size_t armed() const;

  struct State;  // shared with the thread, which may outlive this object by one callback

 private:
  friend class Timer;
  void start_locked();  // starts the thread unless it runs; under state_->mutex

  std::shared_ptr<State> state_;
  std::thread thread_;  // guarded by state_->mutex until the destructor
  const int owner_pid_;
};

/// The process's queue: made on first use and shared by everyone; it goes (and its thread is
/// joined) when the last Timer on it is destroyed. A child of fork() gets a queue of its own.
NETREF_API std::shared_ptr<TimerQueue> shared_timer_queue();

/// A re-armable timer on a TimerQueue, owning its callback. Any thread may arm or cancel it,
/// the callback itself included, and the callback may destroy it (even while the thread that
/// armed it is still returning from arm). Destroying it (or cancelling) never waits for a callback that
/// runs now: a callback must reach its objects through weak pointers, or through an owner it
/// knows to be alive.
class NETREF_API Timer {
 public:
  using Clock = TimerQueue::Clock;

  Timer() noexcept = default;  // no timer: arm and cancel must not be called
  Timer(std::shared_ptr<TimerQueue> queue, std::function<void()> callback);
  ~Timer();
  Timer(Timer&& other) noexcept;
  Timer& operator=(Timer&& other) noexcept;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  /// Runs the callback once at due (or soon after); an armed timer moves to the new due. Armed
  /// while its callback runs (from the callback or elsewhere), it runs again at due.
  void arm(Clock::time_point due);
  /// Disarms. True if the timer was armed (its callback then does not run for that arming);
  /// false if it was not, or its callback runs now.
  bool cancel() noexcept;

  explicit operator bool() const noexcept { return queue_ != nullptr; }

 private:
  void release() noexcept;

  std::shared_ptr<TimerQueue> queue_;
  std::uint64_t id_ = 0;
};

}  // namespace netref::detail
