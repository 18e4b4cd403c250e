// The ping-rate cap (docs/FAULTS.md G9) on a clock of the test's own: a burst of the rate is
// fine, pings beyond it are strikes, strikes are forgotten after a quiet second, and the last
// strike allowed says close.
#include "netref/protocol/detail/ping_limiter.hpp"

#include <doctest/doctest.h>

using netref::detail::PingLimiter;
using Verdict = PingLimiter::Verdict;
using namespace std::chrono_literals;

namespace {

const PingLimiter::Clock::time_point t0 = PingLimiter::Clock::time_point{} + 1h;

}  // namespace

TEST_CASE("a burst of max_pings_per_second pings is fine, the next are strikes, and the third strike says close") {
  PingLimiter limiter(10, 3);
  for (int i = 0; i < 10; ++i) CHECK(limiter.admit(t0) == Verdict::ok);
  CHECK(limiter.admit(t0) == Verdict::strike);
  CHECK(limiter.admit(t0) == Verdict::strike);
  CHECK(limiter.strikes() == 2);
  CHECK(limiter.admit(t0) == Verdict::too_many);
}

TEST_CASE("pings at the rate never strike, however long they go on") {
  PingLimiter limiter(10, 3);
  for (int i = 0; i < 10 * 600; ++i) REQUIRE(limiter.admit(t0 + i * 100ms) == Verdict::ok);  // ten minutes
  CHECK(limiter.strikes() == 0);
}

TEST_CASE("the bucket refills at the rate: after half a second, five more pings are fine") {
  PingLimiter limiter(10, 3);
  for (int i = 0; i < 10; ++i) REQUIRE(limiter.admit(t0) == Verdict::ok);
  for (int i = 0; i < 5; ++i) CHECK(limiter.admit(t0 + 500ms) == Verdict::ok);
  CHECK(limiter.admit(t0 + 500ms) == Verdict::strike);
}

TEST_CASE("strikes are forgotten after a second without one") {
  PingLimiter limiter(10, 3);
  for (int i = 0; i < 10; ++i) REQUIRE(limiter.admit(t0) == Verdict::ok);
  REQUIRE(limiter.admit(t0) == Verdict::strike);
  REQUIRE(limiter.admit(t0) == Verdict::strike);
  // A second later the bucket is full again: spend it, then strike once more.
  const auto later = t0 + 1001ms;
  for (int i = 0; i < 10; ++i) REQUIRE(limiter.admit(later) == Verdict::ok);
  CHECK(limiter.admit(later) == Verdict::strike);
  CHECK(limiter.strikes() == 1);  // the first two were forgotten: no close
}

TEST_CASE("a peer pinging twice the rate is cut off within a second of its burst") {
  PingLimiter limiter(10, 3);
  Verdict last = Verdict::ok;
  int pings = 0;
  while (last != Verdict::too_many && pings < 1000) last = limiter.admit(t0 + pings++ * 50ms);
  CHECK(last == Verdict::too_many);
  CHECK(pings * 50ms < 2s);  // ten saved up, then every other ping a strike
}

TEST_CASE("0 in either setting turns the cap off") {
  for (auto [rate, strikes] : {std::pair{0, 3}, std::pair{10, 0}}) {
    PingLimiter limiter(static_cast<std::size_t>(rate), static_cast<std::size_t>(strikes));
    CHECK_FALSE(limiter.enabled());
    for (int i = 0; i < 10000; ++i) REQUIRE(limiter.admit(t0) == Verdict::ok);
  }
  CHECK(PingLimiter(10, 3).enabled());
}
