// The liveness watch (liveness.hpp): keepalive pings, idle and first-frame timeouts.
#include "liveness.hpp"

#include <algorithm>
#include <string>

#include "netref/protocol/detail/connection_access.hpp"
#include "netref/protocol/detail/timer_queue.hpp"

namespace netref::detail {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool enabled(milliseconds setting) { return setting.count() > 0; }

// A quarter of the shortest period watched, so every bound is kept within 25%.
milliseconds period_of(const ConnectionConfig& cfg) {
  milliseconds shortest(1000);
  for (auto setting : {cfg.keepalive_interval, cfg.keepalive_timeout, cfg.idle_timeout, cfg.first_frame_timeout}) {
    if (enabled(setting)) shortest = std::min(shortest, setting);
  }
  return std::clamp(shortest / 4, milliseconds(5), milliseconds(250));
}

}  // namespace

class LivenessWatch : public std::enable_shared_from_this<LivenessWatch> {
 public:
  explicit LivenessWatch(const std::shared_ptr<Connection>& conn)
      : conn_(conn),
        keepalive_interval_(conn->config().keepalive_interval),
        keepalive_timeout_(conn->config().keepalive_timeout),
        idle_timeout_(conn->config().idle_timeout),
        first_frame_timeout_(conn->config().first_frame_timeout),
        period_(period_of(conn->config())),
        last_heard_(Clock::now()) {}

  void start() {
    // The callback reaches the watch weakly: the connection owns it, and may let it go while
    // the timer thread is on its way in.
    timer_ = Timer(shared_timer_queue(), [weak = weak_from_this()] {
      if (auto watch = weak.lock()) watch->look();
    });
    timer_.arm(last_heard_ + period_);
  }

 private:
  // One look, on the timer thread; the next one a period later, unless the watch is over.
  void look() {
    const auto now = Clock::now();
    if (check(now)) timer_.arm(now + period_);
  }

  // False once the connection is gone or closed, or nothing is left to watch.
  bool check(Clock::time_point now) {
    auto conn = conn_.lock();
    if (!conn || conn->closed()) return false;
    const auto frames = conn->frames_received();
    if (frames != frames_seen_) {
      frames_seen_ = frames;
      last_heard_ = now;
      ping_outstanding_ = false;
      // Watched only for its first frame: that came, so stop looking.
      return enabled(keepalive_interval_) || enabled(idle_timeout_);
    }
    const auto silent = now - last_heard_;
    if (frames == 0 && enabled(first_frame_timeout_) && silent >= first_frame_timeout_) {
      conn->abort("no request within " + std::to_string(first_frame_timeout_.count()) +
                  " ms of connecting (first_frame_timeout)",
                  CloseReason::first_frame);
      return false;
    }
    if (enabled(idle_timeout_) && silent >= idle_timeout_ && frames > 0) {
      const auto stats = conn->stats();
      if (stats.running_handlers == 0 && stats.pending_requests == 0) {
        conn->abort("idle for " + std::to_string(idle_timeout_.count()) + " ms (idle_timeout)", CloseReason::idle);
        return false;
      }
    }
    if (!enabled(keepalive_interval_)) return true;
    try {
      // Bytes nobody has read yet prove the peer alive as well as a frame would.
      if (ConnectionAccess::channel(*conn).stream().poll(milliseconds(0))) {
        last_heard_ = now;
        ping_outstanding_ = false;
        return true;
      }
    } catch (const Error&) {
      return true;  // closed meanwhile: the next look drops it
    }
    if (ping_outstanding_) {
      if (now - ping_sent_ >= keepalive_timeout_) {
        conn->abort("keepalive: no answer from the peer within " + std::to_string(keepalive_timeout_.count()) +
                        " ms",
                    CloseReason::keepalive);
        return false;
      }
    } else if (silent >= keepalive_interval_) {
      try {
        conn->async_request(Handler::ping, {Value(std::string("keepalive"))});
        ping_sent_ = now;
        ping_outstanding_ = true;
      } catch (const Error&) {
        return false;
      }
    }
    return true;
  }

  // Set once; the rest is the timer thread's alone (a timer's callback never runs twice at once).
  const std::weak_ptr<Connection> conn_;
  const milliseconds keepalive_interval_;
  const milliseconds keepalive_timeout_;
  const milliseconds idle_timeout_;
  const milliseconds first_frame_timeout_;
  const milliseconds period_;
  std::uint64_t frames_seen_ = 0;
  Clock::time_point last_heard_;        // a frame arrived, or data waits unread
  Clock::time_point ping_sent_{};       // set while a keepalive ping is unanswered
  bool ping_outstanding_ = false;
  Timer timer_;
};


std::shared_ptr<LivenessWatch> watch_liveness(const std::shared_ptr<Connection>& conn) {
  const auto& cfg = conn->config();
  if (!enabled(cfg.keepalive_interval) && !enabled(cfg.idle_timeout) && !enabled(cfg.first_frame_timeout)) {
    return nullptr;
  }
  auto watch = std::make_shared<LivenessWatch>(conn);
  watch->start();
  return watch;
}

}  // namespace netref::detail
