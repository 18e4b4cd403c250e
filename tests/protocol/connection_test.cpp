// Connection: requests, replies, netref lifetime, exceptions, callbacks, async results.
#include <doctest/doctest.h>

#include <future>

#include "harness.hpp"
#include "netref/protocol/brine.hpp"

using namespace netref;
using netref::test::Pair;
using netref::test::Thing;
using netref::test::make_args;

namespace {
std::int64_t as_int(const Value& v) {
  auto* i = v.get_if<std::int64_t>();
  REQUIRE(i != nullptr);
  return *i;
}
}  // namespace

TEST_CASE("a sync request gets its reply: getroot, callattr, getattr, setattr") {
  auto root = std::make_shared<Thing>(7);
  Pair p(root);
  auto remote_root = p.client->root();
  REQUIRE(remote_root);
  CHECK(remote_root->id_pack().type_name == "tests.Thing");
  CHECK(as_int(remote_root->callattr("add", {Value(2), Value(3)})) == 5);
  CHECK(as_int(remote_root->getattr("value")) == 7);
  remote_root->setattr("value", Value(11));
  CHECK(root->value == 11);
}

TEST_CASE("keyword arguments travel as (name, value) pairs") {
  Pair p;
  auto r = p.client->root();
  CHECK(as_int(r->callattr("add", {Value(2)}, {{"b", Value(40)}})) == 42);
}

TEST_CASE("the root is fetched once and cached while a handle lives") {
  Pair p;
  auto a = p.client->root();
  const auto frames = p.client->stats().frames_out;
  auto b = p.client->root();
  CHECK(a == b);
  CHECK(p.client->stats().frames_out == frames);
}

TEST_CASE("both generations talk to a detecting server") {
  for (auto gen : {Generation::v5, Generation::v6}) {
    ConnectionConfig cfg;
    cfg.generation = gen;
    Pair p(std::make_shared<Thing>(), cfg);
    CHECK(as_int(p.client->root()->callattr("add", {Value(1), Value(2)})) == 3);
    CHECK(p.server->generation() == gen);
  }
}

TEST_CASE("a returned object is lent, and released exactly when the last client handle drops") {
  auto root = std::make_shared<Thing>();
  Pair p(root);
  auto r = p.client->root();
  Value made = r->callattr("make", {Value(5)});
  auto ref = *made.get_if<RemoteRefPtr>();
  p.sync();
  CHECK(p.server->stats().lent_objects == 2);  // root and the new Thing
  auto copy = ref;                             // a second handle: still one netref
  ref.reset();
  made = Value();
  p.sync();
  CHECK(p.server->stats().lent_objects == 2);
  CHECK(as_int(copy->getattr("value")) == 5);
  copy.reset();
  p.sync();  // the DEL went out before the ping
  CHECK(p.server->stats().lent_objects == 1);
  CHECK(p.client->stats().netrefs_held == 1);  // the root
}

TEST_CASE("an object received twice is one netref whose DEL carries both counts") {
  auto root = std::make_shared<Thing>();
  Pair p(root);
  auto r = p.client->root();
  auto first = std::get<RemoteRefPtr>(r->callattr("self", {}).storage());
  auto second = std::get<RemoteRefPtr>(r->callattr("self", {}).storage());
  CHECK(first == second);
  CHECK(first == r);
  CHECK(r->received() == 3);
  p.sync();
  CHECK(p.server->lent_count(*root) == 3);
  first.reset();
  second.reset();
  r.reset();
  p.sync();
  CHECK(p.server->lent_count(*root) == 0);
  CHECK(p.server->stats().lent_objects == 0);
}

TEST_CASE("closing a connection drops everything it lent") {
  auto root = std::make_shared<Thing>();
  const int alive_before = Thing::alive();
  {
    Pair p(root);
    auto r = p.client->root();
    auto made = std::get<RemoteRefPtr>(r->callattr("make", {Value(1)}).storage());
    p.sync();
    CHECK(p.server->stats().lent_objects == 2);
    p.client->close();
    p.server_thread.join();
    CHECK(p.server->closed());
    CHECK(p.server->stats().lent_objects == 0);
    CHECK(Thing::alive() == alive_before);  // the made Thing and the client's own root are gone
  }
  CHECK(Thing::alive() == alive_before);
}

TEST_CASE("a root holding a netref of its own connection is let go when the connection closes") {
  // The root keeps what it is given, as a service keeps a client's callback: the client's
  // object comes in as a netref, which holds the server's connection, which holds the root.
  // Only closing can break that cycle.
  struct Keeper : Thing {
    Value kept;
    Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
      if (name != "keep") return Thing::callattr(name, std::move(args), std::move(kwargs));
      kept = std::move(args.at(0));
      return Value();
    }
  };
  std::weak_ptr<Keeper> weak_root;
  std::weak_ptr<Connection> weak_server;
  {
    auto keeper = std::make_shared<Keeper>();
    weak_root = keeper;
    Pair p(keeper);
    weak_server = p.server;
    auto r = p.client->root();
    r->callattr("keep", values_of(Value(ObjectPtr(std::make_shared<Thing>(5)))));
    CHECK(keeper->kept.kind() == Value::Kind::remote_ref);
  }
  CHECK(weak_root.expired());
  CHECK(weak_server.expired());
}

TEST_CASE("a C++ exception in a handler arrives as a RemoteError with class, message and traceback") {
  Pair p(std::make_shared<Thing>(3));
  auto r = p.client->root();
  try {
    r->callattr("fail", {});
    FAIL("no exception");
  } catch (const ValueError& e) {
    CHECK(e.class_name() == "ValueError");
    CHECK(e.module() == "builtins");
    CHECK(e.message() == "bad value: 3");
    CHECK(e.remote_traceback().find("std::invalid_argument") != std::string::npos);
    CHECK(e.remote_traceback().find("CALLATTR") != std::string::npos);
  }
  CHECK(as_int(r->callattr("add", {Value(1), Value(1)})) == 2);  // the connection survives
}

TEST_CASE("an unexposed name is an AttributeError and the connection stays") {
  Pair p;
  auto r = p.client->root();
  CHECK_THROWS_AS(r->getattr("secret"), AttributeError);
  CHECK_THROWS_AS(r->setattr("nope", Value(1)), AttributeError);
  CHECK_THROWS_AS(r->getattr(""), AttributeError);
  CHECK_THROWS_AS(r->getattr(std::string("a\0b", 3)), AttributeError);
  CHECK(as_int(r->getattr("exposed_value")) == 0);  // rpyc's prefix resolves to the same name
  CHECK_FALSE(p.client->closed());
}

TEST_CASE("an unknown handler gets an exception reply and the connection stays") {
  Pair p;
  CHECK_THROWS_AS(p.client->sync_request(static_cast<Handler>(99), {}), RemoteError);
  CHECK_THROWS_AS(p.client->sync_request(Handler::pickle, {Value(p.client->root()), Value(2)}), ValueError);
  p.client->ping();
}

TEST_CASE("a callback from the server during a sync call does not deadlock, nested three deep") {
  // client -> server.apply(cb1, 1) -> client cb1 -> server.apply(cb2, x) -> client cb2
  Pair p;
  auto r = p.client->root();
  std::atomic<int> depth_seen{0};
  auto inner = netref::test::callable([&](Args& a) {
    depth_seen = 3;
    return Value(*a.at(0).get_if<std::int64_t>() * 10);
  });
  auto outer = netref::test::callable([&, r, inner](Args& a) {
    depth_seen = std::max(depth_seen.load(), 1);
    // back into the server while the server is inside our first call
    return r->callattr("apply", {Value(inner), Value(*a.at(0).get_if<std::int64_t>() + 1)});
  });
  CHECK(as_int(r->callattr("apply", {Value(outer), Value(4)})) == 50);
  CHECK(depth_seen == 3);
}

// The reader lends a handler its request's argument vector (kept per thread between
// requests); a request served on the same thread while the handler waits must get its own.
TEST_CASE("a handler's request arguments stay intact while requests nested on its thread are served") {
  // Calls fn (the client's), whose callback calls back into this object with another name;
  // then answers with the name and the argument it was called with, read after the nesting.
  class Echo : public Object {
   public:
    std::string_view type_name() const noexcept override { return "tests.Echo"; }
    Value callattr(std::string_view name, Args args, Kwargs) override {
      if (name == "leaf") return Value(std::string("leaf"));
      Value inner = netref::call_value(args.at(0), {});  // nested: served on this thread
      return Value(std::string(name) + ":" + *args.at(1).get_if<std::string>() + ":" +
                   *inner.get_if<std::string>());
    }
  };
  Pair p(std::make_shared<Echo>());
  auto r = p.client->root();
  auto fn = netref::test::callable([r](Args&) {
    const Value leaf = r->callattr("leaf", {});
    auto leaf_again = netref::test::callable([r](Args&) { return r->callattr("leaf", {}); });
    const Value nested = r->callattr("nested_name_that_is_longer_than_sso",
                                     {Value(leaf_again), Value(std::string("inner argument, also long enough to allocate"))});
    return Value(*leaf.get_if<std::string>() + "+" + *nested.get_if<std::string>());
  });
  const Value result = r->callattr("outer_name_that_is_longer_than_sso",
                                   {Value(fn), Value(std::string("outer argument, long enough to allocate"))});
  REQUIRE(result.get_if<std::string>() != nullptr);
  CHECK(*result.get_if<std::string>() ==
        "outer_name_that_is_longer_than_sso:outer argument, long enough to allocate:leaf+"
        "nested_name_that_is_longer_than_sso:inner argument, also long enough to allocate:leaf");
}

TEST_CASE("async results arrive through wait, then, and another thread's serving") {
  Pair p;
  auto r = p.client->root();
  SUBCASE("wait serves the connection itself") {
    auto res = p.client->async_request(Handler::callattr, {Value(r), Value("add"), make_args(1, 2), Value(Tuple{})});
    CHECK(res.wait(std::chrono::seconds(5)));
    CHECK(as_int(res.value()) == 3);
  }
  SUBCASE("then runs once the reply is delivered") {
    std::promise<std::int64_t> got;
    auto res = p.client->async_request(Handler::callattr, {Value(r), Value("add"), make_args(20, 22), Value(Tuple{})});
    res.then([&](const AsyncResult& done) { got.set_value(std::get<std::int64_t>(done.value().storage())); });
    auto fut = got.get_future();
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) p.client->serve(std::chrono::seconds(1));
    CHECK(fut.get() == 42);
  }
  SUBCASE("a serving thread delivers it while the caller does nothing") {
    auto res = p.client->async_request(Handler::callattr, {Value(r), Value("add"), make_args(5, 5), Value(Tuple{})});
    std::thread server_of_client([c = p.client, res] {
      while (!res.ready()) c->serve(std::chrono::milliseconds(100));
    });
    server_of_client.join();
    CHECK(res.ready());
    CHECK(as_int(res.value()) == 10);
  }
}

TEST_CASE("an async error is carried, not thrown, until value()") {
  Pair p;
  auto r = p.client->root();
  auto res = p.client->async_request(Handler::callattr, {Value(r), Value("fail"), Value(Tuple{}), Value(Tuple{})});
  CHECK(res.wait(std::chrono::seconds(5)));
  CHECK(res.error() != nullptr);
  CHECK_THROWS_AS(res.value(), ValueError);
}

TEST_CASE("a sync request times out, and its late reply is dropped") {
  std::promise<void> gate;
  auto root = std::make_shared<Thing>();
  root->gate = gate.get_future().share();
  Pair p(root);
  auto r = p.client->root();
  CHECK_THROWS_AS(p.client->sync_request(Handler::callattr, {Value(r), Value("block"), Value(Tuple{}), Value(Tuple{})},
                                         std::chrono::milliseconds(100)),
                  Timeout);
  gate.set_value();
  p.sync();
  CHECK(p.client->stats().late_replies == 1);
  CHECK(p.client->stats().pending_requests == 0);
}

TEST_CASE("cancel settles an async result at once with Cancelled, runs its then-callbacks, and drops the late reply") {
  std::promise<void> gate;
  auto root = std::make_shared<Thing>();
  root->gate = gate.get_future().share();
  Pair p(root);
  auto r = p.client->root();
  auto res = p.client->async_request(Handler::callattr, {Value(r), Value("block"), Value(Tuple{}), Value(Tuple{})});
  int callbacks = 0;
  res.then([&](const AsyncResult& done) {
    ++callbacks;
    CHECK_THROWS_AS(done.value(), Cancelled);
  });
  CHECK(res.cancel());
  CHECK(callbacks == 1);  // on the cancelling thread, before cancel returns
  CHECK(res.ready());
  CHECK_FALSE(res.cancel());  // settled once
  CHECK(p.client->stats().pending_requests == 0);
  gate.set_value();
  p.sync();
  CHECK(p.client->stats().late_replies == 1);
  CHECK(callbacks == 1);
  auto answered = p.client->async_request(Handler::callattr, {Value(r), Value("add"), make_args(1, 2), Value(Tuple{})});
  CHECK(as_int(answered.value()) == 3);
  CHECK_FALSE(answered.cancel());  // too late: the value stays
  CHECK(as_int(answered.value()) == 3);
}

TEST_CASE("closing fails every pending request with ConnectionClosed") {
  std::promise<void> gate;
  auto root = std::make_shared<Thing>();
  root->gate = gate.get_future().share();
  Pair p(root);
  auto r = p.client->root();
  auto res = p.client->async_request(Handler::callattr, {Value(r), Value("block"), Value(Tuple{}), Value(Tuple{})});
  p.client->close();
  gate.set_value();
  CHECK(res.ready());
  CHECK_THROWS_AS(res.value(), ConnectionClosed);
  CHECK_THROWS_AS(r->getattr("value"), ConnectionClosed);
}

TEST_CASE("close() returns only once a close handler running on another thread has finished") {
  // A server closes its connections and then lets its service go: a close handler still
  // running on another thread (the timer thread's idle close) must not outlive that.
  Pair pair;
  std::promise<void> handler_started;
  std::promise<void> second_close_called;
  std::atomic<bool> handler_finished{false};
  pair.client->set_close_handler([&](Connection&) {
    handler_started.set_value();
    second_close_called.get_future().wait();
    // The other closer is on its way; give it time to return early if it were going to.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    handler_finished = true;
  });
  std::thread first([&] { pair.client->abort("closed by the first thread", CloseReason::aborted); });
  handler_started.get_future().wait();
  bool finished_when_close_returned = false;
  std::thread second([&] {
    second_close_called.set_value();
    pair.client->close();
    finished_when_close_returned = handler_finished;
  });
  second.join();
  first.join();
  CHECK(finished_when_close_returned);
  CHECK(pair.client->close_reason() == CloseReason::aborted);
}

TEST_CASE("a close handler that closes its connection again does not wait for itself") {
  Pair pair;
  int handler_runs = 0;
  pair.client->set_close_handler([&](Connection& c) {
    ++handler_runs;
    c.close();  // returns at once on the closing thread
  });
  pair.client->abort("done", CloseReason::aborted);
  CHECK(handler_runs == 1);
  CHECK(pair.client->closed());
}

TEST_CASE("a then-callback may make a sync call on the same connection, after a normal and after an exception reply") {
  Pair p;
  auto r = p.client->root();
  for (const char* method : {"add", "fail"}) {
    CAPTURE(method);
    std::promise<std::int64_t> got;
    Args args = method == std::string("add") ? Args{Value(r), Value("add"), make_args(1, 2), Value(Tuple{})}
                                             : Args{Value(r), Value("fail"), Value(Tuple{}), Value(Tuple{})};
    auto res = p.client->async_request(Handler::callattr, std::move(args));
    res.then([&](const AsyncResult&) {
      try {
        // The callback runs on the thread that delivered the reply: it must not hold the
        // reader role, or this call would wait for itself until its timeout.
        Value v = p.client->sync_request(Handler::callattr, {Value(r), Value("add"), make_args(20, 22), Value(Tuple{})},
                                         std::chrono::seconds(2));
        got.set_value(*v.get_if<std::int64_t>());
      } catch (...) {
        got.set_exception(std::current_exception());
      }
    });
    auto fut = got.get_future();
    while (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) p.client->serve(std::chrono::seconds(1));
    CHECK(fut.get() == 42);
  }
}
