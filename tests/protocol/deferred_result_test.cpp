// The reply-later hook: a handler's DeferredResult is answered when it settles, on the
// settling thread; no thread of the server waits meanwhile.
#include <doctest/doctest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "netref/protocol/deferred_result.hpp"
#include "netref/protocol/pipeline.hpp"

using namespace netref;
using netref::test::Pair;

namespace {

std::int64_t as_int(const Value& v) {
  auto* i = v.get_if<std::int64_t>();
  REQUIRE(i != nullptr);
  return *i;
}

/// later() returns a DeferredResult the test settles; dropped() one nobody keeps.
class Later : public Object {
 public:
  std::mutex mutex;
  std::vector<std::shared_ptr<DeferredResult>> results;

  std::string_view type_name() const noexcept override { return "tests.Later"; }
  Value callattr(std::string_view name, Args, Kwargs) override {
    auto result = DeferredResult::create();
    if (name == "later") {
      std::lock_guard lk(mutex);
      results.push_back(result);
    } else if (name == "ready") {
      result->resolve(Value(std::int64_t{3}));  // settled before the connection listens
    } else if (name != "dropped") {
      return Object::callattr(name, {}, {});
    }
    return Value(std::static_pointer_cast<Object>(result));
  }
  std::shared_ptr<DeferredResult> take(std::size_t i) {
    std::lock_guard lk(mutex);
    return results.at(i);
  }
};

}  // namespace

TEST_CASE("a DeferredResult settles once: the first of resolve and reject wins, and a late listener gets the outcome") {
  auto result = DeferredResult::create();
  CHECK(!result->settled());
  CHECK(result->resolve(Value(std::int64_t{1})));
  CHECK(!result->reject(std::make_exception_ptr(ValueError("late"))));
  CHECK(!result->resolve(Value(std::int64_t{2})));
  CHECK(result->settled());
  Value seen;
  std::exception_ptr error;
  result->listen([&](Value v, std::exception_ptr e) {
    seen = std::move(v);
    error = e;
  });
  CHECK(seen.get_if<std::int64_t>() != nullptr);
  CHECK(*seen.get_if<std::int64_t>() == 1);
  CHECK(!error);
  CHECK(deferred_result_of(Value(std::static_pointer_cast<Object>(result))) == result);
  CHECK(deferred_result_of(Value(std::static_pointer_cast<Object>(std::make_shared<Later>()))) == nullptr);
  CHECK(deferred_result_of(Value(std::int64_t{1})) == nullptr);
}

TEST_CASE("a DeferredResult dropped unsettled tells its listener RuntimeError") {
  std::exception_ptr error;
  {
    auto result = DeferredResult::create();
    result->listen([&](Value, std::exception_ptr e) { error = e; });
  }
  REQUIRE(error);
  try {
    std::rethrow_exception(error);
  } catch (const RemoteError& e) {
    CHECK(e.class_name() == "RuntimeError");
  }
}

TEST_CASE("deferred replies are sent when they settle, in any order, from another thread, while the serving thread serves on") {
  auto root = std::make_shared<Later>();
  Pair p(root);
  auto remote = p.client->root();
  auto first = p.client->async_request(Handler::callattr, {Value(remote), Value("later"), Value(Tuple{}), Value()});
  auto second = p.client->async_request(Handler::callattr, {Value(remote), Value("later"), Value(Tuple{}), Value()});
  p.sync();  // the server's one serving thread answered this after both handlers returned
  CHECK(!first.ready());
  CHECK(!second.ready());
  std::thread([&] { root->take(1)->resolve(Value(std::int64_t{2})); }).join();
  REQUIRE(second.wait(std::chrono::seconds(10)));
  CHECK(as_int(second.value()) == 2);
  CHECK(!first.ready());
  root->take(0)->reject(std::make_exception_ptr(ValueError("no first")));
  CHECK_THROWS_AS(first.value(), ValueError);
  // Settled before the connection listened: answered at once.
  CHECK(as_int(p.client->sync_request(Handler::callattr, {Value(remote), Value("ready"), Value(Tuple{}), Value()})) == 3);
  CHECK_THROWS_AS(p.client->sync_request(Handler::callattr, {Value(remote), Value("dropped"), Value(Tuple{}), Value()}),
                  RemoteError);
  CHECK(p.server->stats().requests_served >= 4);
}

TEST_CASE("a deferred reply that settles after its connection closed is dropped, and the connection is not kept alive") {
  auto root = std::make_shared<Later>();
  std::weak_ptr<Connection> server;
  {
    Pair p(root);
    auto remote = p.client->root();
    auto call = p.client->async_request(Handler::callattr, {Value(remote), Value("later"), Value(Tuple{}), Value()});
    p.sync();
    server = p.server;
  }  // both ends closed and released
  CHECK(server.expired());
  CHECK(root->take(0)->resolve(Value(std::int64_t{1})));  // nobody to answer: nothing happens
}

TEST_CASE("calls pipelined on a result answered later wait for it to settle, then run with it or fail with its error") {
  auto root = std::make_shared<Later>();
  Pair p(root);
  REQUIRE(p.client->negotiate_extensions());
  REQUIRE(p.client->peer_has(Feature::pipeline));
  auto remote = p.client->root();
  const std::string later[] = {"later"};
  const std::string ready[] = {"ready"};
  auto target = remote->async_call_path(later, {});
  REQUIRE(pipelinable(target));
  auto on_target = pipelined_async_call(target, ready, {});
  auto failing = remote->async_call_path(later, {});
  auto on_failing = pipelined_async_call(failing, ready, {});
  p.sync();  // both pipelined calls were read: they wait, their targets unsettled
  CHECK(p.server->stats().pipelined_waiting == 2);
  CHECK(!on_target.ready());
  CHECK(!on_failing.ready());
  // Settled from another thread: the waiting call runs there, on the object it resolved to.
  std::thread([&] { root->take(0)->resolve(Value(ObjectPtr(std::make_shared<Later>()))); }).join();
  REQUIRE(on_target.wait(std::chrono::seconds(10)));
  CHECK(as_int(on_target.value()) == 3);
  CHECK(target.value().kind() == Value::Kind::remote_ref);
  root->take(1)->reject(std::make_exception_ptr(ValueError("no target")));
  CHECK_THROWS_AS(failing.value(), ValueError);
  CHECK_THROWS_WITH_AS(on_failing.value(), doctest::Contains("no target"), ValueError);
  p.sync();
  CHECK(p.server->stats().pipelined_waiting == 0);
}

TEST_CASE("a cancel of a request answered later is ignored once its handler returned, and its reply still comes") {
  auto root = std::make_shared<Later>();
  Pair p(root);
  REQUIRE(p.client->negotiate_extensions());
  REQUIRE(p.client->peer_has(Feature::cancel));
  auto remote = p.client->root();
  const std::string later[] = {"later"};
  auto call = remote->async_call_path(later, {});
  p.sync();  // the handler returned its DeferredResult: the seq is in service, its context gone
  CHECK(call.cancel());  // settles here, and CANCEL leaves: the server finds no context to stop
  p.sync();
  const auto late_before = p.client->stats().late_replies;
  root->take(0)->resolve(Value(std::int64_t{9}));
  p.sync();  // the reply was sent on resolve, before this round trip's
  CHECK(p.client->stats().late_replies == late_before + 1);
  CHECK(p.client->stats().pending_requests == 0);
}
