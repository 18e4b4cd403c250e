// A connection's liveness watch and deferred flush are timers on the process's timer queue:
// they are armed only when the config asks, and they go with the connection (no entry left
// for the timer thread to find dead later).
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "harness.hpp"
#include "netref/protocol/detail/timer_queue.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

// Polls cond until it holds (the event itself, looked at often), at most 10 s.
template <class F>
bool eventually(F cond) {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("a connection watched for idleness has a timer armed, and destroying it disarms it") {
  const auto queue = detail::shared_timer_queue();  // the one every connection uses
  const std::size_t before = queue->armed();
  ConnectionConfig watched;
  watched.idle_timeout = 1h;  // looked at every 250 ms, never due here
  {
    Pair pair(std::make_shared<Thing>(), watched);
    pair.sync();
    // Armed except for the moment its look runs: wait for that moment to pass.
    CHECK(eventually([&] { return queue->armed() == before + 1; }));
  }
  CHECK(eventually([&] { return queue->armed() == before; }));
}

TEST_CASE("a connection with no liveness setting arms no timer") {
  const auto queue = detail::shared_timer_queue();
  const std::size_t before = queue->armed();
  Pair pair;
  pair.sync();
  CHECK(pair.client->config().idle_timeout.count() == 0);
  CHECK(queue->armed() == before);
}

TEST_CASE("an idle timeout closes a silent connection from the timer thread, under \"idle\"") {
  ConnectionConfig watched;
  watched.idle_timeout = 100ms;
  Pair pair(std::make_shared<Thing>(), {}, watched);
  pair.sync();  // a frame: the server's idle clock starts
  CHECK(eventually([&] { return pair.server->closed(); }));
  CHECK(pair.server->close_reason() == CloseReason::idle);
}
