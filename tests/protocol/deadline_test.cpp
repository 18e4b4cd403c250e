// Deadlines travel and cancellation (features `deadline` and `cancel`): what goes on the
// wire to whom, what a handler sees, expiry, cancel races and hostile DEADLINE/CANCEL input.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/request_context.hpp"

using namespace netref;
using namespace std::chrono_literals;
using netref::test::Pair;

namespace {

using Bytes8 = std::vector<std::uint8_t>;
using Clock = std::chrono::steady_clock;

Bytes8 message_v5(std::int64_t msg, std::int64_t seq, Value body) {
  return brine::encode(Value(Tuple{{Value(msg), Value(seq), std::move(body)}}));
}

/// A client connection (rpyc 5.x envelope) whose server is the test, reading frames.
struct RawServer {
  std::shared_ptr<Connection> client;
  std::unique_ptr<Channel> peer;
  RemoteRefPtr root;

  /// lists: the features the test's hello reply lists; nullopt: hello refused (a Python peer).
  explicit RawServer(std::optional<Tuple> lists) {
    auto [a, b] = make_memory_pair();
    ConnectionConfig cfg;
    cfg.generation = Generation::v5;
    client = Connection::create(std::make_unique<Channel>(std::move(a)), nullptr, cfg);
    peer = std::make_unique<Channel>(std::move(b));
    auto hello = std::async(std::launch::async, [c = client] { return c->negotiate_extensions(); });
    const Value request = brine::decode(peer->recv());
    const auto seq = *request.get_if<Tuple>()->items.at(1).get_if<std::int64_t>();
    if (lists) {
      peer->send(message_v5(2, seq, tuple_of(1, tuple_of(netref::Bytes{"netref"}, 1, Value(*lists)))));
      REQUIRE(hello.get());
    } else {  // what rpyc answers an unknown handler
      peer->send(message_v5(3, seq, tuple_of(tuple_of(std::string("builtins"), std::string("NotImplementedError")),
                                             tuple_of(std::string("unknown handler")), Tuple{}, std::string(""))));
      REQUIRE_FALSE(hello.get());
    }
    auto got_root = std::async(std::launch::async, [c = client] { return c->root(); });
    const Value r = brine::decode(peer->recv());
    const auto root_seq = *r.get_if<Tuple>()->items.at(1).get_if<std::int64_t>();
    peer->send(message_v5(2, root_seq, tuple_of(4, tuple_of(std::string("Svc"), 1, 7))));
    root = got_root.get();
  }
  ~RawServer() { client->close(); }

  struct Request {
    std::int64_t seq;
    std::int64_t handler;
    Value args;
    Bytes8 bytes;
  };
  Request next() {
    Request r;
    r.bytes = peer->recv();
    const Value message = brine::decode(r.bytes);
    const auto& items = message.get_if<Tuple>()->items;
    REQUIRE(items.at(0) == Value(std::int64_t{1}));
    r.seq = *items.at(1).get_if<std::int64_t>();
    const auto& body = items.at(2).get_if<Tuple>()->items;
    r.handler = *body.at(0).get_if<std::int64_t>();
    r.args = body.at(1);
    return r;
  }
};

const std::string f_name[] = {"f"};

/// Makes round trips (root.remaining, not PING, which the server rate-limits) until the
/// client's late replies reach want: the handler's reply may come after the round trip's, sent
/// by the other serving thread. Bounded, so a bug fails rather than hangs.
std::uint64_t late_replies_reach(Pair& pair, const RemoteRefPtr& root, std::uint64_t want) {
  const std::string remaining[] = {"remaining"};
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pair.client->stats().late_replies < want && std::chrono::steady_clock::now() < give_up) {
    root->call_path(remaining, {});
  }
  return pair.client->stats().late_replies;
}

/// A server root whose methods look at their RequestContext.
class Watcher : public Object {
 public:
  std::promise<void> started;          // "wait_stop" and "block" set it when they run
  std::shared_future<void> gate;       // "block" waits on it
  std::promise<bool> saw_expired;      // "until_expired" sets it
  std::atomic<int> adds{0};

  std::string_view type_name() const noexcept override { return "tests.Watcher"; }
  Value callattr(std::string_view name, Args args, Kwargs) override {
    auto* request = RequestContext::current();
    if (name == "remaining") {  // what is left of this request's deadline, -1 for none
      auto left = request != nullptr ? request->remaining() : std::nullopt;
      return Value(left ? static_cast<std::int64_t>(left->count()) : std::int64_t{-1});
    }
    if (name == "nested") return call_value(args.at(0), {});  // a call back into the caller
    if (name == "add") {
      ++adds;
      return Value(*args.at(0).get_if<std::int64_t>() + 1);
    }
    if (name == "block") {
      started.set_value();
      gate.wait();
      return Value(std::int64_t{1});
    }
    if (name == "wait_stop") {  // polls its stop token until the caller cancels
      auto token = request->stop_token();
      started.set_value();
      const auto give_up = Clock::now() + 10s;  // a safety bound, not a timing
      while (!token.stop_requested() && Clock::now() < give_up) std::this_thread::yield();
      return Value(token.stop_requested());
    }
    if (name == "until_expired") {
      const auto give_up = Clock::now() + 10s;
      while (!request->expired() && Clock::now() < give_up) std::this_thread::yield();
      const bool expired = request->expired() && request->remaining() == std::chrono::milliseconds(0);
      while (!request->stop_requested() && Clock::now() < give_up) std::this_thread::yield();  // the caller's cancel
      saw_expired.set_value(expired && request->stop_requested());
      return Value();
    }
    return Object::callattr(name, std::move(args), {});
  }
};

/// A Pair whose client negotiated the extensions, the server served by a second thread too
/// (so a CANCEL is read while a handler runs, as a ThreadPoolServer does).
struct Served {
  std::shared_ptr<Watcher> watcher = std::make_shared<Watcher>();
  Pair pair;
  std::thread second;
  RemoteRefPtr root;
  explicit Served(ObjectPtr client_root = std::make_shared<test::Thing>()) : pair(watcher, {}, {}, std::move(client_root)) {
    REQUIRE(pair.client->negotiate_extensions());
    REQUIRE(pair.client->peer_has(Feature::deadline));
    REQUIRE(pair.client->peer_has(Feature::cancel));
    second = std::thread([s = pair.server] { s->serve_all(); });
    root = pair.client->root();
  }
  ~Served() {
    pair.client->close();
    pair.server->close();
    second.join();
  }
};

/// A raw client (rpyc 5.x envelope) of a netref server connection served by a thread.
struct RawClient {
  std::shared_ptr<Watcher> watcher = std::make_shared<Watcher>();
  std::shared_ptr<Connection> server;
  std::unique_ptr<Channel> peer;
  std::thread serving;
  std::int64_t seq = 100;
  Value root_ref;  // (LABEL_LOCAL_REF, id_pack) of the server's root

  RawClient() {
    auto [a, b] = make_memory_pair();
    ConnectionConfig cfg;
    cfg.detect_generation = true;
    server = Connection::create(std::make_unique<Channel>(std::move(b)), watcher, cfg);
    peer = std::make_unique<Channel>(std::move(a));
    serving = std::thread([s = server] { s->serve_all(); });
    const auto reply = request(3, tuple_of(1, Tuple{}));  // GETROOT
    root_ref = tuple_of(3, reply.get_if<Tuple>()->items.at(2).get_if<Tuple>()->items.at(1));
  }
  ~RawClient() {
    peer->close();
    server->close();
    serving.join();
  }
  Bytes8 frame(std::int64_t handler, Value boxed_args) {
    return message_v5(1, ++seq, tuple_of(handler, std::move(boxed_args)));
  }
  /// Sends one request and returns the whole reply message (msg, seq, body).
  Value request(std::int64_t handler, Value boxed_args) {
    peer->send(frame(handler, std::move(boxed_args)));
    return brine::decode(peer->recv());
  }
  /// A DEADLINE around CALLATTR root.add(x).
  Value deadline_add(Value timeout, std::int64_t x) {
    return tuple_of(2, tuple_of(tuple_of(1, std::move(timeout)), tuple_of(1, 8),
                                tuple_of(2, tuple_of(root_ref, tuple_of(1, std::string("add")),
                                                     tuple_of(1, tuple_of(x)), tuple_of(1, Tuple{})))));
  }
  /// The canary: an ordinary call still answers, with the next message on the link.
  void check_alive() {
    const auto reply = request(8, tuple_of(2, tuple_of(root_ref, tuple_of(1, std::string("add")),
                                                       tuple_of(1, tuple_of(41)), tuple_of(1, Tuple{}))));
    REQUIRE(reply.get_if<Tuple>()->items.at(0) == Value(std::int64_t{2}));
    CHECK(reply.get_if<Tuple>()->items.at(1) == Value(seq));
    CHECK(reply.get_if<Tuple>()->items.at(2) == tuple_of(1, 42));
  }
};

std::string exception_class(const Value& message) {
  const auto& items = message.get_if<Tuple>()->items;
  if (items.at(0) != Value(std::int64_t{3})) return "(not an exception)";
  return *items.at(2).get_if<Tuple>()->items.at(0).get_if<Tuple>()->items.at(1).get_if<std::string>();
}

}  // namespace

TEST_CASE("to a peer that did not list deadline and cancel a call with a timeout and its cancel are plain rpyc, byte for byte") {
  for (bool netref_without_features : {false, true}) {
    CAPTURE(netref_without_features);
    RawServer s(netref_without_features ? std::optional<Tuple>(Tuple{{Value(std::string("oneway"))}}) : std::nullopt);
    REQUIRE_FALSE(s.client->peer_has(Feature::deadline));
    const Value args[] = {Value(std::int64_t{5})};
    auto timed = s.root->async_call_path(f_name, args, {}, 2000ms);
    const auto with_timeout = s.next();
    auto plain = s.root->async_call_path(f_name, args);
    const auto without = s.next();
    CHECK(with_timeout.handler == static_cast<std::int64_t>(Handler::callattr));
    CHECK(message_v5(1, with_timeout.seq, tuple_of(without.handler, without.args)) == with_timeout.bytes);
    CHECK(timed.cancel());  // local only: nothing is sent
    plain.cancel();
    s.root->async_call_path(f_name, args);
    CHECK(s.next().handler == static_cast<std::int64_t>(Handler::callattr));  // not a CANCEL
  }
}

TEST_CASE("to a peer that listed deadline and cancel a timeout travels wrapped in DEADLINE and a cancel names the seq") {
  RawServer s(Tuple{{Value(std::string("deadline")), Value(std::string("cancel"))}});
  const Value args[] = {Value(std::int64_t{5})};
  auto timed = s.root->async_call_path(f_name, args, {}, 2000ms);
  const auto r = s.next();
  CHECK(r.handler == static_cast<std::int64_t>(Handler::deadline));
  const auto& wrapped = r.args.get_if<Tuple>()->items;  // (LABEL_TUPLE, ((1, ms), (1, 8), inner))
  REQUIRE(wrapped.at(0) == Value(std::int64_t{2}));
  const auto& parts = wrapped.at(1).get_if<Tuple>()->items;
  REQUIRE(parts.size() == 3);
  CHECK(parts[0] == tuple_of(1, 2000));
  CHECK(parts[1] == tuple_of(1, 8));
  CHECK(timed.cancel());
  const auto cancel = s.next();
  CHECK(cancel.handler == static_cast<std::int64_t>(Handler::cancel));
  CHECK(cancel.args == tuple_of(1, tuple_of(r.seq)));
  // Without a timeout, nothing is wrapped, unless the connection's default is to travel.
  auto untimed = s.root->async_call_path(f_name, args);
  CHECK(s.next().handler == static_cast<std::int64_t>(Handler::callattr));
}

TEST_CASE("a request past its deadline before its handler starts is not run and gets TimeoutError, the link stays") {
  RawClient c;
  // A deadline of 0 ms has passed on arrival.
  const auto reply = c.request(68, c.deadline_add(Value(std::int64_t{0}), 1));
  CHECK(exception_class(reply) == "TimeoutError");
  CHECK(c.watcher->adds == 0);
  c.check_alive();
}

TEST_CASE("a request queued behind a busy one past its deadline is not run and gets TimeoutError") {
  RawClient c;
  std::promise<void> open_gate;
  c.watcher->gate = open_gate.get_future().share();
  // Both frames in one write: the second waits whole in the server's buffer behind the first.
  const auto block = c.frame(8, tuple_of(2, tuple_of(c.root_ref, tuple_of(1, std::string("block")), tuple_of(1, Tuple{}),
                                                     tuple_of(1, Tuple{}))));
  const auto block_seq = c.seq;
  const auto queued = c.frame(68, c.deadline_add(Value(std::int64_t{1}), 1));
  const auto queued_seq = c.seq;
  c.peer->enqueue(block);
  c.peer->enqueue(queued);
  c.peer->flush_wait();
  c.watcher->started.get_future().wait();  // the first runs: the second waits since before
  const auto past = Clock::now() + 5ms;    // well past the queued one's 1 ms
  while (Clock::now() < past) std::this_thread::yield();
  open_gate.set_value();
  const auto first = brine::decode(c.peer->recv());
  CHECK(first.get_if<Tuple>()->items.at(1) == Value(block_seq));
  const auto second = brine::decode(c.peer->recv());
  CHECK(second.get_if<Tuple>()->items.at(1) == Value(queued_seq));
  CHECK(exception_class(second) == "TimeoutError");
  CHECK(c.watcher->adds == 0);
  c.check_alive();
}

TEST_CASE("a handler reads its deadline and a call it makes inherits what is left, sync and async") {
  // The client's callback reports what is left of the deadline its nested request carried.
  auto seen = std::make_shared<std::atomic<std::int64_t>>(-2);
  auto cb = test::callable([seen](Args&) {
    auto* request = RequestContext::current();
    auto left = request != nullptr ? request->remaining() : std::nullopt;
    seen->store(left ? left->count() : -1);
    return Value();
  });
  Served s;
  const std::string remaining[] = {"remaining"};
  const std::string nested[] = {"nested"};
  const Value none[] = {Value()};
  auto as_int = [](const Value& v) { return *v.get_if<std::int64_t>(); };
  // The handler sees the timeout it was sent, less what passed.
  auto left = as_int(s.root->call_path_releasing(remaining, {}, {}, 60000ms));
  CHECK(left > 0);
  CHECK(left <= 60000);
  CHECK(as_int(s.root->call_path_releasing(remaining, {}, {})) == -1);  // none sent
  // The handler's own call back to the client carries the remainder.
  Value cb_args[] = {Value(cb)};
  s.root->call_path_releasing(nested, cb_args, {}, 60000ms);
  CHECK(seen->load() > 0);
  CHECK(seen->load() <= 60000);
  Value cb_args2[] = {Value(cb)};
  s.root->call_path_releasing(nested, cb_args2, {});
  CHECK(seen->load() == -1);
  // Async: the deadline travels the same way.
  auto pending = s.root->async_call_path(remaining, {}, {}, 60000ms);
  left = as_int(pending.value());
  CHECK(left > 0);
  CHECK(left <= 60000);
  (void)none;
}

TEST_CASE("a handler sees its deadline pass, and the caller's Timeout cancels it") {
  Served s;
  const std::string until_expired[] = {"until_expired"};
  auto saw = s.watcher->saw_expired.get_future();
  CHECK_THROWS_AS(s.root->call_path_releasing(until_expired, {}, {}, 20ms), Timeout);
  REQUIRE(saw.wait_for(10s) == std::future_status::ready);  // a bound, not a timing
  CHECK(saw.get());
  s.pair.sync();
}

TEST_CASE("a local timeout and cancel reach a handler that polls its stop token, and its reply is dropped as late") {
  const std::string wait_stop[] = {"wait_stop"};
  SUBCASE("AsyncCall cancel") {
    Served s;
    const auto late_before = s.pair.client->stats().late_replies;
    auto pending = s.root->async_call_path(wait_stop, {});
    s.watcher->started.get_future().wait();
    CHECK(pending.cancel());
    CHECK_THROWS_AS(pending.value(), Cancelled);
    CHECK(late_replies_reach(s.pair, s.root, late_before + 1) == late_before + 1);  // its one reply, dropped
    CHECK(s.pair.client->stats().pending_requests == 0);
  }
  SUBCASE("a sync Timeout") {
    Served s;
    auto started = s.watcher->started.get_future();
    auto call = std::async(std::launch::async, [&] {
      return s.root->call_path_releasing(wait_stop, {}, {}, 200ms);
    });
    started.wait();
    CHECK_THROWS_AS(call.get(), Timeout);
    CHECK(late_replies_reach(s.pair, s.root, 1) == 1);
  }
}

TEST_CASE("an async call whose expiry passes settles with Timeout though nobody waits, its then-callbacks run") {
  Served s;
  std::promise<void> open_gate;
  s.watcher->gate = open_gate.get_future().share();
  const std::string block[] = {"block"};
  auto pending = s.root->async_call_path(block, {}, {}, 1ms);
  std::promise<bool> timed_out;
  pending.then([&](const AsyncResult& r) {
    bool is_timeout = false;
    try {
      std::rethrow_exception(r.error());
    } catch (const Timeout&) {
      is_timeout = true;
    } catch (...) {
    }
    timed_out.set_value(is_timeout);
  });
  CHECK(timed_out.get_future().get());  // settled by the timer thread, nobody waited
  CHECK(pending.ready());
  open_gate.set_value();
  s.pair.sync();
  CHECK(s.pair.client->stats().pending_requests == 0);
}

TEST_CASE("cancel racing the reply has exactly one outcome, many times over") {
  Served s;
  const std::string add[] = {"add"};
  const auto late_before = s.pair.client->stats().late_replies;
  int cancelled = 0, answered = 0;
  std::atomic<int> callbacks{0};
  constexpr int kRounds = 300;
  for (int i = 0; i < kRounds; ++i) {
    const Value args[] = {Value(std::int64_t{i})};
    auto pending = s.root->async_call_path(add, args);
    pending.then([&](const AsyncResult&) { ++callbacks; });
    if (i % 2 == 1) pending.wait(0ms);  // sometimes the reply is read first
    if (pending.cancel()) {
      ++cancelled;
      CHECK_THROWS_AS(pending.value(), Cancelled);
    } else {
      ++answered;
      CHECK(pending.value() == Value(std::int64_t{i + 1}));
    }
  }
  CHECK(cancelled + answered == kRounds);
  CHECK(callbacks == kRounds);
  // Every cancelled request still got its one reply, dropped as late; none got two.
  const auto want = late_before + static_cast<std::uint64_t>(cancelled);
  CHECK(late_replies_reach(s.pair, s.root, want) == want);
  const std::string remaining[] = {"remaining"};
  s.root->call_path(remaining, {});
  CHECK(s.pair.client->stats().late_replies == want);
  CHECK(s.pair.client->stats().pending_requests == 0);
  CHECK(s.watcher->adds == kRounds);  // each request ran once: a cancel never stops a short one twice
}

TEST_CASE("a cancel of an unknown or finished seq is ignored and gets no reply") {
  RawClient c;
  c.check_alive();
  const auto finished = c.seq;
  c.peer->send(c.frame(69, tuple_of(1, tuple_of(finished))));
  c.peer->send(c.frame(69, tuple_of(1, tuple_of(987654))));
  c.peer->send(c.frame(69, tuple_of(1, tuple_of(0))));
  c.check_alive();  // the next message on the link is the canary's reply
}

TEST_CASE("hostile DEADLINE and CANCEL messages get a clear error reply and the link stays") {
  RawClient c;
  struct Case {
    const char* what;
    Value timeout;
    const char* expected;
  };
  const Case deadlines[] = {
      {"a str timeout", Value(std::string("soon")), "TypeError"},
      {"a float timeout", Value(1.5), "TypeError"},
      {"a negative timeout", Value(std::int64_t{-1}), "ValueError"},
      {"a huge timeout", Value(std::int64_t{1} << 40), "ValueError"},
      {"the largest int64", Value(std::numeric_limits<std::int64_t>::max()), "ValueError"},
      {"a big int", Value(BigInt{"123456789012345678901234567890"}), "TypeError"},
  };
  for (const auto& d : deadlines) {
    CAPTURE(d.what);
    CHECK(exception_class(c.request(68, c.deadline_add(d.timeout, 1))) == d.expected);
  }
  const Value inner_args = tuple_of(2, tuple_of(c.root_ref, tuple_of(1, std::string("add")), tuple_of(1, tuple_of(1)),
                                                tuple_of(1, Tuple{})));
  auto wrap = [&](Value handler, Value inner) {
    return tuple_of(2, tuple_of(tuple_of(1, 100), tuple_of(1, std::move(handler)), std::move(inner)));
  };
  CHECK(exception_class(c.request(68, wrap(Value(std::int64_t{2}), inner_args))) == "ValueError");    // CLOSE inside
  CHECK(exception_class(c.request(68, wrap(Value(std::int64_t{68}), inner_args))) == "ValueError");   // nested DEADLINE
  CHECK(exception_class(c.request(68, wrap(Value(std::int64_t{136}), inner_args))) == "ValueError");  // one-way flag
  CHECK(exception_class(c.request(68, wrap(Value(std::string("x")), inner_args))) == "TypeError");
  CHECK(exception_class(c.request(68, wrap(Value(std::int64_t{8}), tuple_of(1, 5)))) == "TypeError");  // args not a tuple
  CHECK(exception_class(c.request(68, tuple_of(1, tuple_of(100, 8)))) == "TypeError");                 // two items
  CHECK(exception_class(c.request(68, tuple_of(1, 7))) == "TypeError");                                // not a tuple
  CHECK(exception_class(c.request(69, tuple_of(1, tuple_of(std::string("x"))))) == "TypeError");
  CHECK(exception_class(c.request(69, tuple_of(1, tuple_of(-5)))) == "TypeError");
  CHECK(exception_class(c.request(69, tuple_of(1, tuple_of(std::int64_t{1} << 33)))) == "TypeError");
  CHECK(exception_class(c.request(69, tuple_of(1, Tuple{}))) == "TypeError");
  CHECK(exception_class(c.request(69, tuple_of(1, tuple_of(1, 2)))) == "TypeError");
  CHECK(c.watcher->adds == 0);
  c.check_alive();
  // A good DEADLINE runs.
  const auto ok = c.request(68, c.deadline_add(Value(std::int64_t{60000}), 1));
  CHECK(ok.get_if<Tuple>()->items.at(2) == tuple_of(1, 2));
}
