// Per-call options against a netref server: a timeout for one call (sync and async), one-way
// calls, and a handler that calls its client back without waiting for it. BigInt both ways.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using namespace netref;

namespace {

/// A server whose "block" call waits until the test releases it.
struct Fixture {
  Registry types;
  Service svc{types};
  std::unique_ptr<ThreadedServer> server;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::mutex mutex;
  std::vector<std::int64_t> recorded;
  bool handler_returned = false;

  Fixture() {
    svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
    svc.def("block", [this] {
      released.wait();
      return 1;
    });
    svc.def("release", [this] { release.set_value(); });
    svc.def("record", [this](std::int64_t x) {
      std::lock_guard lk(mutex);
      recorded.push_back(x);
    });
    svc.def("recorded", [this] {
      std::lock_guard lk(mutex);
      return recorded;
    });
    svc.def("fail", [] { throw std::runtime_error("nobody hears this"); });
    // Calls the client's callback without waiting for it, then returns.
    svc.def("notify_oneway", [this](Proxy callback) {
      callback->oneway_call(std::int64_t{1});
      std::lock_guard lk(mutex);
      handler_returned = true;
    });
    svc.def("notify_async", [this](Proxy callback) {
      callback->async_call(std::int64_t{2});
      std::lock_guard lk(mutex);
      handler_returned = true;
    });
    svc.def("handler_returned", [this] {
      std::lock_guard lk(mutex);
      return handler_returned;
    });
    svc.def("factorial", [](std::int64_t n) {
      // Only for the test: exact digits of n! by schoolbook multiplication in base 10.
      std::vector<int> digits{1};
      for (std::int64_t k = 2; k <= n; ++k) {
        int carry = 0;
        for (auto& d : digits) {
          const std::int64_t v = d * k + carry;
          d = static_cast<int>(v % 10);
          carry = static_cast<int>(v / 10);
        }
        for (; carry > 0; carry /= 10) digits.push_back(carry % 10);
      }
      std::string text;
      for (auto it = digits.rbegin(); it != digits.rend(); ++it) text.push_back(static_cast<char>('0' + *it));
      return BigInt{text};
    });
    svc.def("negate", [](BigInt x) {
      if (x.digits.front() == '-') return BigInt{x.digits.substr(1)};
      return BigInt{"-" + x.digits};
    });
    ServerConfig cfg;
    cfg.port = 0;
    server = std::make_unique<ThreadedServer>(svc, cfg);
    server->start();
  }
  ~Fixture() {
    try {
      release.set_value();
    } catch (const std::future_error&) {
      // released by the test already
    }
    server->stop();
  }
};

const std::string fact25 = "15511210043330985984000000";
const std::string minus_2_200 = "-1606938044258990275541962092341162602522202993782792835301376";

}  // namespace

TEST_CASE("with_timeout: a sync call past its timeout throws Timeout and the connection serves the next call") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto other = connect("127.0.0.1", f.server->port());
  auto root = conn->root();
  CHECK(root->with_timeout(10s)->attr("add")->call(1, 2).as<std::int64_t>() == 3);  // in time
  auto blocking = root->with_timeout(50ms)->attr("block");
  CHECK(blocking.timeout() == std::optional<std::chrono::milliseconds>(50ms));
  CHECK_THROWS_AS(blocking->call(), Timeout);
  other->root()->attr("release")->call();  // the handler finishes; its late reply is dropped
  CHECK(root->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  CHECK(conn->connection().stats().late_replies == 1);
  CHECK(conn->connection().stats().pending_requests == 0);
}

TEST_CASE("with_timeout: an async call settles with Timeout at its expiry, for good, and its reply is dropped as late") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto other = connect("127.0.0.1", f.server->port());
  auto pending = conn->root()->attr("block")->with_timeout(50ms)->async_call();
  CHECK_THROWS_AS(pending.value(), Timeout);
  other->root()->attr("release")->call();
  pending.set_expiry(-1ms);  // too late: the expiry settled it
  CHECK(conn->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);  // served after block's reply
  CHECK_THROWS_AS(pending.value(), Timeout);
  CHECK(conn->connection().stats().late_replies == 1);
  CHECK(conn->connection().stats().pending_requests == 0);
}

TEST_CASE("oneway_call between netref peers: the call runs, no reply comes back, errors are not heard") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  REQUIRE(conn->connection().peer_has_oneway());
  auto root = conn->root();
  const auto before = conn->connection().stats();
  root->attr("record")->oneway_call(41);
  root->attr("fail")->oneway_call();
  root->attr("record")->oneway_call(42);
  // One connection is served in order: the sync call's reply comes after both ran.
  CHECK(root->attr("recorded")->call().as<std::vector<std::int64_t>>() == std::vector<std::int64_t>{41, 42});
  const auto after = conn->connection().stats();
  CHECK(after.frames_in - before.frames_in == 1);
  CHECK(after.late_replies == 0);
  CHECK(after.pending_requests == 0);
}

TEST_CASE("a handler calls its client's callback one-way and returns before the callback ends") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto root = conn->root();
  std::optional<bool> seen;
  // The callback runs on this thread while it waits for notify_oneway's reply; it asks the
  // server whether the handler has returned. A handler waiting on the callback would still
  // be running, and the answer would be false.
  auto callback = local([&](std::int64_t) { seen = root->attr("handler_returned")->call().as<bool>(); });
  root->attr("notify_oneway")->call(callback);
  REQUIRE(seen.has_value());
  CHECK(*seen);
  CHECK(conn->connection().stats().pending_requests == 0);
}

TEST_CASE("a handler calls its client's callback async, drops the AsyncCall, and returns first") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto root = conn->root();
  std::optional<bool> seen;
  auto callback = local([&](std::int64_t) { seen = root->attr("handler_returned")->call().as<bool>(); });
  root->attr("notify_async")->call(callback);
  REQUIRE(seen.has_value());
  CHECK(*seen);
}

TEST_CASE("BigInt: 25! arrives exact, and -(2**200) goes and comes back") {
  Fixture f;
  auto conn = connect("127.0.0.1", f.server->port());
  auto root = conn->root();
  CHECK(root->attr("factorial")->call(25).as<BigInt>().digits == fact25);
  CHECK(root->attr("factorial")->call(5).as<BigInt>().digits == "120");      // an int64 on the wire
  CHECK(root->attr("factorial")->call(5).as<std::int64_t>() == 120);         // normalised: a plain int
  CHECK_THROWS_AS(root->attr("factorial")->call(25).as<std::int64_t>(), ConversionError);
  CHECK(root->attr("negate")->call(BigInt{minus_2_200}).as<BigInt>().digits == minus_2_200.substr(1));
  CHECK(root->attr("negate")->call(std::int64_t{7}).as<std::int64_t>() == -7);
  CHECK(root->attr("negate")->call(BigInt{"+0007"}).as<std::int64_t>() == -7);  // canonical digits
  CHECK_THROWS_AS(root->attr("negate")->call(BigInt{"12a"}), ConversionError);
  CHECK(root->attr("add")->call(1, 1).as<std::int64_t>() == 2);  // the connection stays
}
