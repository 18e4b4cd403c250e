// The liveness monitor: keepalive pings, idle and first-frame timeouts for every connection.
#include "liveness.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace netref::detail {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool enabled(milliseconds setting) { return setting.count() > 0; }

struct Watch {
  std::weak_ptr<Connection> conn;
  milliseconds keepalive_interval;
  milliseconds keepalive_timeout;
  milliseconds idle_timeout;
  milliseconds first_frame_timeout;
  std::uint64_t frames_seen = 0;
  Clock::time_point last_heard;        // a frame arrived, or data waits unread
  Clock::time_point ping_sent{};       // set while a keepalive ping is unanswered
  bool ping_outstanding = false;
};

class Monitor {
 public:
  static Monitor& instance() {
    static Monitor monitor;
    return monitor;
  }

  void add(Watch watch) {
    {
      std::lock_guard lk(mutex_);
      tick_ = std::min(tick_, tick_for(watch));
      incoming_.push_back(std::move(watch));
      if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    }
    wake_.notify_one();
  }

  ~Monitor() {
    {
      std::lock_guard lk(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  // A quarter of the shortest period watched, so every bound is kept within 25%.
  static milliseconds tick_for(const Watch& w) {
    milliseconds shortest(1000);
    for (auto setting : {w.keepalive_interval, w.keepalive_timeout, w.idle_timeout, w.first_frame_timeout}) {
      if (enabled(setting)) shortest = std::min(shortest, setting);
    }
    return std::clamp(shortest / 4, milliseconds(5), milliseconds(250));
  }

  void run() {
    std::vector<Watch> watches;
    std::unique_lock lk(mutex_);
    for (;;) {
      wake_.wait_for(lk, tick_, [&] { return stopping_ || !incoming_.empty(); });
      if (stopping_) return;
      std::move(incoming_.begin(), incoming_.end(), std::back_inserter(watches));
      incoming_.clear();
      lk.unlock();
      const auto now = Clock::now();
      std::erase_if(watches, [&](Watch& w) { return !check(w, now); });
      lk.lock();
    }
  }

  // One look at one connection; false once it is gone or closed.
  static bool check(Watch& w, Clock::time_point now) {
    auto conn = w.conn.lock();
    if (!conn || conn->closed()) return false;
    const auto frames = conn->frames_received();
    if (frames != w.frames_seen) {
      w.frames_seen = frames;
      w.last_heard = now;
      w.ping_outstanding = false;
      // Watched only for its first frame: that came, so stop looking.
      return enabled(w.keepalive_interval) || enabled(w.idle_timeout);
    }
    const auto silent = now - w.last_heard;
    if (frames == 0 && enabled(w.first_frame_timeout) && silent >= w.first_frame_timeout) {
      conn->abort("no request within " + std::to_string(w.first_frame_timeout.count()) +
                  " ms of connecting (first_frame_timeout)",
                  CloseReason::first_frame);
      return false;
    }
    if (enabled(w.idle_timeout) && silent >= w.idle_timeout && frames > 0) {
      const auto stats = conn->stats();
      if (stats.running_handlers == 0 && stats.pending_requests == 0) {
        conn->abort("idle for " + std::to_string(w.idle_timeout.count()) + " ms (idle_timeout)", CloseReason::idle);
        return false;
      }
    }
    if (!enabled(w.keepalive_interval)) return true;
    try {
      // Bytes nobody has read yet prove the peer alive as well as a frame would.
      if (conn->channel().stream().poll(milliseconds(0))) {
        w.last_heard = now;
        w.ping_outstanding = false;
        return true;
      }
    } catch (const Error&) {
      return true;  // closed meanwhile: the next look drops it
    }
    if (w.ping_outstanding) {
      if (now - w.ping_sent >= w.keepalive_timeout) {
        conn->abort("keepalive: no answer from the peer within " +
                        std::to_string(w.keepalive_timeout.count()) + " ms",
                    CloseReason::keepalive);
        return false;
      }
    } else if (silent >= w.keepalive_interval) {
      try {
        conn->async_request(Handler::ping, {Value(std::string("keepalive"))});
        w.ping_sent = now;
        w.ping_outstanding = true;
      } catch (const Error&) {
        return false;
      }
    }
    return true;
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Watch> incoming_;
  milliseconds tick_{250};
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

void watch_liveness(const std::shared_ptr<Connection>& conn) {
  const auto& cfg = conn->config();
  if (!enabled(cfg.keepalive_interval) && !enabled(cfg.idle_timeout) && !enabled(cfg.first_frame_timeout)) return;
  Watch w;
  w.conn = conn;
  w.keepalive_interval = cfg.keepalive_interval;
  w.keepalive_timeout = cfg.keepalive_timeout;
  w.idle_timeout = cfg.idle_timeout;
  w.first_frame_timeout = cfg.first_frame_timeout;
  w.last_heard = Clock::now();
  Monitor::instance().add(std::move(w));
}

}  // namespace netref::detail
