// Promise pipelining through the user's API (AsyncCall::attr): between netref peers a
// dependent chain is one round trip; against Python's rpyc 5.3 and 6.0.1 the same code works,
// waiting for each result first (one round trip per dependency).
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "python_server.hpp"

using namespace netref;
using netref::test::PythonServer;
using netref::test::rpyc6_or_skip;

namespace {

struct Counter {
  std::int64_t value = 0;
  std::vector<std::int64_t> added;
  std::int64_t add(std::int64_t n) {
    added.push_back(n);
    return value += n;
  }
};

/// The counter service with `fork(n)`: a new Counter at value + n, so calls chain.
struct CounterServer {
  Registry types;
  Service svc{types};
  std::unique_ptr<ThreadPoolServer> server;
  CounterServer() {
    types.expose<Counter>("Counter")
        .def("add", &Counter::add)
        .def("fork", [](const Counter& c, std::int64_t n) { return std::make_shared<Counter>(Counter{c.value + n, {}}); })
        .def("added", [](const Counter& c) { return c.added; })
        .def_readwrite("value", &Counter::value);
    svc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start, {}}); });
    svc.def("fail", [](std::string message) -> std::shared_ptr<Counter> { throw std::invalid_argument(message); });
    ServerConfig cfg;
    cfg.port = 0;
    server = std::make_unique<ThreadPoolServer>(svc, cfg);
    server->start();
  }
};

}  // namespace

TEST_CASE("a dependent chain of depth 4 on a ThreadPoolServer is one round trip, and calls on one pending result run in the order sent") {
  CounterServer s;
  auto conn = connect("127.0.0.1", s.server->port());
  REQUIRE(conn.connection().peer_has(Feature::pipeline));
  auto root = conn->root();
  const auto before = conn.connection().traffic();
  {
    auto counter = root->attr("make_counter")->async_call(10);  // sent now
    auto forked = counter->attr("fork")->async_call(5);        // sent now, on the pending result
    auto again = forked->attr("fork")->async_call(5);
    auto added = again->attr("add")->async_call(1);
    const auto issued = conn.connection().traffic();
    CHECK(issued.frames_in == before.frames_in);  // no reply was waited for before the last left
    CHECK(issued.frames_out - before.frames_out == 4);
    CHECK(added.value().as<std::int64_t>() == 21);
    CHECK(conn.connection().traffic().frames_in - before.frames_in == 4);
    // Calls on one pending result run in the order sent.
    auto fresh = root->attr("make_counter")->async_call(0);
    for (std::int64_t i = 1; i <= 5; ++i) fresh->attr("add")->async_call(i);
    CHECK(fresh->attr("added")->call().as<std::vector<std::int64_t>>() == std::vector<std::int64_t>{1, 2, 3, 4, 5});
  }
  conn->ping();  // the releases and DELs go before it
  CHECK(conn.connection().stats().netrefs_held == 1);  // the root
  CHECK(conn.connection().stats().pending_requests == 0);
}

TEST_CASE("a failed target fails the calls on it through the proxy API, with its class and message") {
  CounterServer s;
  auto conn = connect("127.0.0.1", s.server->port());
  auto root = conn->root();
  auto broken = root->attr("fail")->async_call("no counter today");
  auto dependent = broken->attr("add")->async_call(1);
  auto chained = dependent->attr("fork")->async_call(1);
  for (const auto* call : {&dependent, &chained}) {
    try {
      call->value();
      FAIL("the dependent call succeeded");
    } catch (const RemoteError& e) {
      CHECK(e.class_name() == "ValueError");
      CHECK(e.message() == "no counter today");
    }
  }
  CHECK_THROWS_AS(broken->attr("add")->call(1), ValueError);
}

namespace {
// Against a Python server: the same code, each dependency waited for (one round trip each).
void check_python_fallback(const PythonServer& py) {
  auto conn = py.connect();
  REQUIRE_FALSE(conn.connection().peer_has(Feature::pipeline));
  auto root = conn->root();
  const auto before = conn.connection().traffic();
  auto box = root->attr("make_box")->async_call(7);  // sent now
  CHECK_FALSE(pipelinable(box.result()));
  auto value = box->attr("get")->async_call();  // waits for the box, then sends
  const auto issued = conn.connection().traffic();
  CHECK(issued.frames_in - before.frames_in >= 1);  // the box's reply came first
  CHECK(value.value().as<std::int64_t>() == 7);
  // Errors: the dependent call carries the target's.
  auto broken = root->attr("fail")->async_call("python says no");
  auto dependent = broken->attr("get")->async_call();
  try {
    dependent.value();
    FAIL("the dependent call succeeded");
  } catch (const RemoteError& e) {
    CHECK(e.class_name() == "ValueError");
    CHECK(e.message() == "python says no");
  }
  CHECK(box->attr("get")->call().as<std::int64_t>() == 7);  // sync, on a result already here
}
}  // namespace

TEST_CASE("against Python's rpyc 5.3 the same pipelined code waits for each result and works") {
  PythonServer py;
  check_python_fallback(py);
}

TEST_CASE("against Python's rpyc 6.0.1 the same pipelined code waits for each result and works") {
  const std::string rpyc6 = rpyc6_or_skip();
  if (rpyc6.empty()) return;
  PythonServer py(rpyc6, Generation::v6);
  check_python_fallback(py);
}
