// The deferred-flush timer (flush_timer.hpp).
#include "flush_timer.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace netref::detail {
namespace {

using Clock = std::chrono::steady_clock;

class FlushTimer {
 public:
  static FlushTimer& instance() {
    static FlushTimer timer;
    return timer;
  }

  void add(Clock::time_point due, std::function<void()> fn) {
    bool first;
    {
      std::lock_guard lk(mutex_);
      // Every connection schedules now + its delay: entries come nearly in order, and one
      // that comes early only runs a little late.
      first = due_.empty();
      due_.emplace_back(due, std::move(fn));
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    if (first) wake_.notify_one();
  }

  ~FlushTimer() {
    {
      std::lock_guard lk(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lk(mutex_);
    while (!stopping_) {
      if (due_.empty()) {
        wake_.wait(lk);
        continue;
      }
      if (Clock::now() < due_.front().first) {
        wake_.wait_until(lk, due_.front().first);
        continue;
      }
      auto fn = std::move(due_.front().second);
      due_.pop_front();
      lk.unlock();
      fn();
      lk.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<Clock::time_point, std::function<void()>>> due_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

void run_at(Clock::time_point due, std::function<void()> fn) { FlushTimer::instance().add(due, std::move(fn)); }

}  // namespace netref::detail
