// docs/FAULTS.md I (timeouts and callbacks): a late reply after a timeout, a timeout while a
// callback runs, nesting to the callback depth limit, a callback whose connection is gone,
// and two sides calling each other at once.
#include <doctest/doctest.h>

#include <future>

#include "fault/fault.hpp"

using namespace netref;
using namespace netref::test;

namespace {

using Fn = std::function<std::int64_t(std::int64_t)>;

/// Serves client until cond holds or timeout passes (replies and callbacks arrive this way).
template <class F>
bool serve_until(Connection& client, F cond, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto end = Clock::now() + timeout;
  while (!cond() && Clock::now() < end) client.serve(std::chrono::milliseconds(10));
  return cond();
}

}  // namespace

TEST_CASE("I1 C6: a call that times out fails on time, and its late reply is dropped and counted, the connection stays") {
  Served<> s;
  auto client = plain_client(s.port());
  auto root = client->root();
  const auto start = Clock::now();
  CHECK_THROWS_AS(client->sync_request(Handler::callattr, {Value(root), Value("block"), Value(Tuple{})},
                                       std::chrono::milliseconds(200)),
                  Timeout);
  const auto took = Clock::now() - start;
  CHECK(took >= std::chrono::milliseconds(200));
  CHECK(took < std::chrono::milliseconds(kSanitized ? 1000 : 400));
  CHECK(client->stats().pending_requests == 0);
  s.lab.gate.open();
  CHECK(serve_until(*client, [&] { return client->stats().late_replies == 1; }));
  CHECK_FALSE(client->closed());
  CHECK(std::get<std::int64_t>(client->sync_request(Handler::callattr, {Value(root), Value("add"), Value(tuple_of(1, 2))}).storage()) == 3);
  s.check_canary();
}

TEST_CASE("I2: a call that times out while its callback runs: no deadlock, and both sides' tables empty") {
  Served<> s;
  auto client = plain_client(s.port());
  auto root = client->root();
  REQUIRE(s.watch.wait_opened(2));
  auto conn = s.watch.connection(1);
  const auto start = Clock::now();
  // The callback is slow work (it outlives the caller's deadline); the sleep is the workload.
  const ObjectPtr slow = local(Fn([&](std::int64_t x) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(500));
    return 2 * x;
  }));
  CHECK_THROWS_AS(client->sync_request(Handler::callattr, {Value(root), Value("apply"), Value(tuple_of(slow, 21))},
                                       std::chrono::milliseconds(200)),
                  Timeout);
  CHECK(Clock::now() - start < std::chrono::seconds(2));
  CHECK(client->stats().pending_requests == 0);
  // The server got the callback's answer, finished apply, and its reply arrives late.
  CHECK(serve_until(*client, [&] { return client->stats().late_replies == 1; }));
  CHECK(eventually([&] { return conn->stats().pending_requests == 0 && conn->stats().running_handlers == 0; }));
  CHECK(std::get<std::int64_t>(client->sync_request(Handler::callattr, {Value(root), Value("add"), Value(tuple_of(1, 2))}).storage()) == 3);
  CHECK(client->stats().pending_requests == 0);
  s.check_canary();
}

TEST_CASE_TEMPLATE("I3: callbacks nest up to max_callback_depth, and one level more gets a clear error", Server,
                   ThreadPoolServer, ThreadedServer) {
  Served<Server> s([](ServerConfig& c) { c.connection.max_callback_depth = 4; });
  const std::uint16_t port = s.port();
  Client client = connect("127.0.0.1", port);
  const Proxy apply = client->root()->attr("apply");
  // f(n) = n == 0 ? 0 : apply(f, n - 1) + 1: each level is one more request the server serves
  // while it waits on a callback.
  auto self = std::make_shared<ObjectPtr>();
  *self = local(Fn([apply, weak = std::weak_ptr<ObjectPtr>(self)](std::int64_t n) -> std::int64_t {
    if (n == 0) return 0;
    return apply->call(*weak.lock(), n - 1).as<std::int64_t>() + 1;
  }));
  CHECK(apply->call(*self, 3).as<std::int64_t>() == 3);  // server depth 4: allowed
  CHECK_THROWS_WITH_AS(apply->call(*self, 4), doctest::Contains("max_callback_depth = 4"), RemoteError);
  CHECK(apply->call(*self, 2).as<std::int64_t>() == 2);  // and nothing is left stuck
  CHECK(s.server->stats().running_handlers <= 1);
  s.check_canary();
}

TEST_CASE("I4: a callback whose client is gone fails at once inside the handler") {
  Served<> s;
  auto owner = connect("127.0.0.1", s.port());
  const ObjectPtr doubler = local(Fn([](std::int64_t x) { return 2 * x; }));
  owner->root()->attr("store")->call(doubler);
  owner->close();
  REQUIRE(s.watch.wait_closed(1));
  auto other = connect("127.0.0.1", s.port());
  const auto start = Clock::now();
  try {
    other->root()->attr("fire")->call(21);
    FAIL("the dead callback answered");
  } catch (const RemoteError& e) {
    CHECK(e.class_name() == "ConnectionError");
    CHECK(std::string(e.what()).find("closed") != std::string::npos);
  }
  CHECK(Clock::now() - start < std::chrono::seconds(1));
  CHECK(other->root()->attr("add")->call(1, 1).as<std::int64_t>() == 2);
  s.check_canary();
}

TEST_CASE_TEMPLATE("I5: a client busy in its own calls still serves the server's calls into it", Server,
                   ThreadPoolServer, ThreadedServer) {
  Served<Server> s;
  const std::uint16_t port = s.port();
  Client a = connect("127.0.0.1", port);
  Client b = connect("127.0.0.1", port);
  const ObjectPtr stored = local(Fn([](std::int64_t x) { return x + 1000; }));
  const ObjectPtr nested = local(Fn([](std::int64_t x) { return x * 3; }));
  a->root()->attr("store")->call(stored);
  const int n = scaled(50, 2);
  std::atomic<bool> b_done{false};
  // a: one thread, only ever serving inside its own calls (no background serving).
  auto a_side = std::async(std::launch::async, [&] {
    const Proxy apply = a->root()->attr("apply");
    std::int64_t sum = 0;
    for (int i = 0; i < n; ++i) sum += apply->call(nested, i).as<std::int64_t>();
    while (!b_done.load()) a->serve(std::chrono::milliseconds(5));  // b may still need a
    return sum;
  });
  auto b_side = std::async(std::launch::async, [&] {
    const Proxy fire = b->root()->attr("fire");
    std::int64_t sum = 0;
    for (int i = 0; i < n; ++i) sum += fire->call(i).as<std::int64_t>();
    b_done = true;
    return sum;
  });
  REQUIRE(b_side.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  REQUIRE(a_side.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  CHECK(a_side.get() == 3 * n * (n - 1) / 2);
  CHECK(b_side.get() == 1000 * n + n * (n - 1) / 2);
  s.check_canary();
}
