// Per-call options and big ints against stock Python rpyc 5.3 and 6.0.1, both directions: our
// client's timeout and one-way calls on a Python server, and a Python client whose callback
// our server calls one-way or async from a handler that returns first.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <mutex>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "python_server.hpp"

using namespace std::chrono_literals;
using namespace netref;
using netref::test::ChildProcess;
using netref::test::interop_script;
using netref::test::PythonServer;
using netref::test::rpyc6_or_skip;
using netref::test::python3_with;

namespace {

const std::string fact25 = "15511210043330985984000000";
const std::string minus_2_200 = "-1606938044258990275541962092341162602522202993782792835301376";

void check_client_against(const PythonServer& py) {
  auto conn = py.connect();
  auto other = py.connect();
  auto root = conn->root();
  CHECK_FALSE(conn->connection().peer_has_oneway());

  // BigInt both ways.
  CHECK(root->attr("factorial")->call(25).as<BigInt>().digits == fact25);
  CHECK(root->attr("factorial")->call(5).as<BigInt>().digits == "120");
  CHECK(root->attr("equals_int")->call(BigInt{minus_2_200}, minus_2_200).as<bool>());
  CHECK(root->attr("equals_int")->call(BigInt{"18446744073709551616"}, "18446744073709551616").as<bool>());
  CHECK(root->attr("equals_int")->call(BigInt{"-5"}, "-5").as<bool>());  // sent as a plain int
  CHECK(root->attr("echo")->call(BigInt{minus_2_200}).as<BigInt>().digits == minus_2_200);

  // One-way: an ordinary request to Python, its reply dropped; served in order before the next.
  const auto before = conn->connection().stats();
  root->attr("record")->oneway_call(41);
  root->attr("record")->oneway_call(42);
  CHECK(root->attr("recorded")->call().as<std::vector<std::int64_t>>() == std::vector<std::int64_t>{41, 42});
  const auto after = conn->connection().stats();
  CHECK(after.late_replies - before.late_replies == 2);
  CHECK(after.pending_requests == 0);

  // A timeout for one call: Timeout, then the connection serves the next call.
  CHECK_THROWS_AS(root->attr("block")->with_timeout(50ms)->call(), Timeout);
  auto pending = root->attr("block")->with_timeout(50ms)->async_call();
  CHECK_THROWS_AS(pending.value(), Timeout);
  other->root()->attr("release")->call();
  pending.set_expiry(-1ms);  // too late: the expiry settled it, for good
  CHECK(root->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  CHECK_THROWS_AS(pending.value(), Timeout);
  CHECK(conn->connection().stats().late_replies - after.late_replies == 2);  // both blocks' replies
  // Against Python, deadlines and cancel stay local: the peer never listed them.
  CHECK_FALSE(conn->connection().peer_has(Feature::deadline));
  CHECK_FALSE(conn->connection().peer_has(Feature::cancel));
  auto cancelled = root->attr("add")->with_timeout(5s)->async_call(1, 1);
  cancelled.cancel();
  CHECK_THROWS_AS(cancelled.value(), Cancelled);
  CHECK(root->attr("add")->call(2, 3).as<std::int64_t>() == 5);  // nothing Python cannot read was sent
  CHECK(conn->connection().stats().pending_requests == 0);
}

struct CallbackServer {
  Registry types;
  Service svc{types};
  std::mutex mutex;
  bool handler_returned = false;
  std::unique_ptr<ThreadedServer> server;

  CallbackServer() {
    svc.def("fact25", [] { return BigInt{fact25}; });
    svc.def("small_big", [] { return BigInt{"120"}; });
    svc.def("negate", [](BigInt x) {
      if (x.digits.front() == '-') return BigInt{x.digits.substr(1)};
      return BigInt{"-" + x.digits};
    });
    svc.def("equals_text", [](BigInt x, std::string text) { return x.digits == text; });
    svc.def("notify_oneway", [this](Proxy callback) {
      {
        std::lock_guard lk(mutex);
        handler_returned = false;
      }
      callback->oneway_call(std::int64_t{1});
      std::lock_guard lk(mutex);
      handler_returned = true;
    });
    svc.def("notify_async", [this](Proxy callback) {
      {
        std::lock_guard lk(mutex);
        handler_returned = false;
      }
      callback->async_call(std::int64_t{2});
      std::lock_guard lk(mutex);
      handler_returned = true;
    });
    svc.def("handler_returned", [this] {
      std::lock_guard lk(mutex);
      return handler_returned;
    });
    ServerConfig cfg;
    cfg.port = 0;
    server = std::make_unique<ThreadedServer>(svc, cfg);
    server->start();
  }
};

void check_python_client(std::vector<std::string> argv) {
  CallbackServer s;
  argv.push_back(interop_script("py_calls_client.py"));
  argv.push_back(std::to_string(s.server->port()));
  ChildProcess py(std::move(argv));
  const std::string output = py.read_all();
  const int status = py.wait();
  INFO(output);
  CHECK(status == 0);
  CHECK(output.find("ALL OK") != std::string::npos);
  s.server->stop();
}

}  // namespace

TEST_CASE("our client on a Python rpyc 5.3 server: BigInt both ways, one-way calls, a timeout for one call") {
  PythonServer py;
  check_client_against(py);
}

TEST_CASE("our client on a Python rpyc 6.0.1 server: BigInt both ways, one-way calls, a timeout for one call") {
  const std::string rpyc6 = rpyc6_or_skip();
  if (rpyc6.empty()) return;
  PythonServer py(rpyc6, Generation::v6);
  check_client_against(py);
}

TEST_CASE("a Python rpyc 5.3 client: big ints both ways, and its callback called one-way or async by a handler that returns first") {
  check_python_client({"/usr/bin/python3"});
}

TEST_CASE("a Python rpyc 6.0.1 client: big ints both ways, and its callback called one-way or async by a handler that returns first") {
  const std::string rpyc6 = rpyc6_or_skip();
  if (rpyc6.empty()) return;
  check_python_client(python3_with(rpyc6));
}
