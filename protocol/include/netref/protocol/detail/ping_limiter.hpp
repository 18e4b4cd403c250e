#pragma once
// Not for users: the ping-rate cap of one connection (docs/FAULTS.md G9), kept apart so that
// tests can drive it with a clock of their own.
#include <algorithm>
#include <chrono>
#include <cstddef>

namespace netref::detail {

/// A token bucket for the PINGs a peer sends: per_second tokens a second, at most per_second
/// saved up (so a burst of that many is fine). A ping that finds no token is a strike;
/// strikes are forgotten once a second passes without one, and reaching `strikes` of them
/// says "close". Either setting 0 turns the cap off. Not thread-safe: its connection calls it
/// under the reader role, in wire order.
class PingLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Verdict {
    ok,        ///< within the rate
    strike,    ///< beyond it: counted, still answered
    too_many,  ///< the last strike allowed: close the connection
  };

  PingLimiter(std::size_t per_second, std::size_t strikes) noexcept
      : rate_(static_cast<double>(per_second)), tokens_(rate_), max_strikes_(strikes) {}

  bool enabled() const noexcept { return rate_ > 0 && max_strikes_ > 0; }

  /// Counts one ping arriving at now (times never go back).
  Verdict admit(Clock::time_point now) noexcept {
    if (!enabled()) return Verdict::ok;
    refill(now);
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return Verdict::ok;
    }
    if (strikes_ > 0 && now - last_strike_ >= std::chrono::seconds(1)) strikes_ = 0;
    last_strike_ = now;
    return ++strikes_ >= max_strikes_ ? Verdict::too_many : Verdict::strike;
  }

  /// Strikes counted and not yet forgotten.
  std::size_t strikes() const noexcept { return strikes_; }

 private:
  void refill(Clock::time_point now) noexcept {
    const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    tokens_ = std::min(rate_, tokens_ + elapsed * rate_);
    last_refill_ = now;
  }

  double rate_;                    // tokens a second, and the most saved up
  double tokens_;                  // starts full
  Clock::time_point last_refill_;  // the epoch at first: the first refill fills up anyway
  std::size_t max_strikes_;
  std::size_t strikes_ = 0;
  Clock::time_point last_strike_;
};

}  // namespace netref::detail
