// Promise pipelining (feature `pipeline`): calls on a pending result leave before it arrives,
// run after it in the order sent, fail with its error, and what the server keeps for them is
// let go; a peer that did not list `pipeline` gets exactly the ordinary requests.
#include <doctest/doctest.h>

#include <future>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/pipeline.hpp"

using namespace netref;
using netref::test::Pair;

namespace {

using Bytes8 = std::vector<std::uint8_t>;

/// A server object that records what is done to it: `push(x)` appends x and returns itself,
/// `make()` a new Recorder, `after(fn)` calls the caller's fn first, `fail(msg)` throws.
class Recorder : public Object {
 public:
  Recorder() { ++alive(); }
  ~Recorder() override { --alive(); }
  static std::atomic<int>& alive() {
    static std::atomic<int> count{0};
    return count;
  }
  std::string_view type_name() const noexcept override { return "tests.Recorder"; }
  Value callattr(std::string_view name, Args args, Kwargs kwargs) override {
    if (name == "make") return Value(ObjectPtr(std::make_shared<Recorder>()));
    if (name == "push") {
      std::lock_guard lk(mutex_);
      log_.items.push_back(args.at(0));
      return Value(shared_from_this());
    }
    if (name == "log") {
      std::lock_guard lk(mutex_);
      return Value(log_);
    }
    if (name == "count") return Value(std::int64_t{42});
    if (name == "after") {  // calls back the caller, then answers a new Recorder
      call_value(args.at(0), {});
      return Value(ObjectPtr(std::make_shared<Recorder>()));
    }
    if (name == "fail") throw std::invalid_argument(*args.at(0).get_if<std::string>());
    return Object::callattr(name, std::move(args), std::move(kwargs));
  }

 private:
  std::mutex mutex_;
  Tuple log_;
};

const std::string kMake[] = {"make"};
const std::string kPush[] = {"push"};
const std::string kLog[] = {"log"};
const std::string kFail[] = {"fail"};
const std::string kAfter[] = {"after"};

Value int_value(std::int64_t i) { return Value(i); }

/// A pair whose client negotiated extensions: both listed `pipeline`.
struct PipelinePair : Pair {
  RemoteRefPtr root;
  PipelinePair() : Pair(std::make_shared<Recorder>()) {
    REQUIRE(client->negotiate_extensions());
    REQUIRE(client->peer_has(Feature::pipeline));
    root = client->root();
  }
};

std::string error_of(const AsyncResult& r) {
  try {
    r.value();
  } catch (const RemoteError& e) {
    return e.class_name() + ": " + e.message();
  }
  return "no error";
}

}  // namespace

TEST_CASE("a dependent chain of depth 4 leaves before any reply and costs one round trip") {
  PipelinePair p;
  const auto before = p.client->traffic();
  auto a = p.root->async_call_path(kMake, {});
  REQUIRE(pipelinable(a));
  auto b = pipelined_async_call(a, kMake, {});
  auto c = pipelined_async_call(b, kMake, {});
  const Value seven[] = {int_value(7)};
  auto d = pipelined_async_call(c, kPush, seven);
  const auto sent = p.client->traffic();
  CHECK(sent.frames_out - before.frames_out == 4);
  CHECK(sent.frames_in == before.frames_in);  // nothing was waited for: one round trip
  const Value result = d.value();
  REQUIRE(result.kind() == Value::Kind::remote_ref);
  const auto done = p.client->traffic();
  CHECK(done.frames_in - before.frames_in == 4);  // the four replies
  CHECK(result.get_if<RemoteRefPtr>()->get()->callattr("log", {}) == Value(Tuple{{int_value(7)}}));
}

TEST_CASE("calls on a pending result run in the order sent, after it, with a callback from the server in between") {
  PipelinePair p;
  std::atomic<bool> called{false};
  auto cb = test::callable([&](Args&) {
    // The server waits for this reply, reading meanwhile: the calls sent after `after`
    // arrive first and wait for its result (an event, not a sleep: the server is reading).
    while (p.server->stats().pipelined_waiting < 4) std::this_thread::yield();
    called = true;
    return Value();
  });
  const Value fn[] = {Value(cb)};
  auto target = p.root->async_call_path(kAfter, fn);
  std::vector<AsyncResult> pushes;
  for (std::int64_t i = 1; i <= 3; ++i) {
    const Value x[] = {int_value(i)};
    pushes.push_back(pipelined_async_call(target, kPush, x));
  }
  Value log = pipelined_call(target, kLog, {});  // the fourth: sync, one wait for all
  CHECK(called);
  CHECK(log == Value(Tuple{{int_value(1), int_value(2), int_value(3)}}));
  for (auto& push : pushes) CHECK(push.value().kind() == Value::Kind::remote_ref);
  CHECK(p.server->stats().pipelined_waiting == 0);
}

TEST_CASE("when the target fails every call on it fails with its error, class and message, down a chain") {
  PipelinePair p;
  const Value boom[] = {Value(std::string("boom 7"))};
  auto target = p.root->async_call_path(kFail, boom);
  const Value one[] = {int_value(1)};
  auto first = pipelined_async_call(target, kPush, one);
  auto second = pipelined_async_call(first, kPush, one);
  auto other = pipelined_async_call(target, kMake, {});
  CHECK(error_of(target) == "ValueError: boom 7");
  CHECK(error_of(first) == "ValueError: boom 7");
  CHECK(error_of(second) == "ValueError: boom 7");
  CHECK(error_of(other) == "ValueError: boom 7");
  // After the failure arrived: the same error, without a request.
  const auto before = p.client->traffic();
  CHECK(error_of(pipelined_async_call(target, kPush, one)) == "ValueError: boom 7");
  CHECK(p.client->traffic().frames_out == before.frames_out);
  // A plain result is no target.
  const std::string count[] = {"count"};
  auto plain = p.root->async_call_path(count, {});
  auto on_plain = pipelined_async_call(plain, kPush, one);
  CHECK(error_of(on_plain).starts_with("TypeError: "));
  p.sync();
  CHECK(p.root->callattr("count", {}) == int_value(42));  // the connection stays
}

TEST_CASE("results kept for pipelining are released when no call or handle needs them") {
  const int recorders = Recorder::alive();
  {
    PipelinePair p;
    {
      auto a = p.root->async_call_path(kMake, {});
      auto b = pipelined_async_call(a, kMake, {});
      const Value x[] = {int_value(5)};
      auto c = pipelined_async_call(b, kPush, x);
      c.wait();
      p.sync();
      CHECK(p.server->stats().pipelined_results == 3);  // a, b and c: their handles live
      CHECK(p.server->stats().pipelined_waiting == 0);
      CHECK(Recorder::alive() == recorders + 3);        // the root and the two made
    }
    p.sync();  // the releases (and DELs) leave with this ping, and are served before it
    const auto stats = p.server->stats();
    CHECK(stats.pipelined_results == 0);
    CHECK(stats.pipelined_waiting == 0);
    CHECK(stats.lent_objects == 1);  // the root alone
    CHECK(Recorder::alive() == recorders + 1);
    CHECK(p.client->stats().netrefs_held == 1);
  }
  CHECK(Recorder::alive() == recorders);
}

TEST_CASE("a result past max_pipelined_results is not kept: calls naming it fail clearly, the connection stays") {
  ConnectionConfig server_cfg;
  server_cfg.max_pipelined_results = 2;
  Pair p(std::make_shared<Recorder>(), {}, server_cfg);
  REQUIRE(p.client->negotiate_extensions());
  auto root = p.client->root();
  auto a = root->async_call_path(kMake, {});
  auto b = root->async_call_path(kMake, {});
  auto c = root->async_call_path(kMake, {});  // the third: past the limit
  const Value x[] = {int_value(1)};
  auto on_c = pipelined_async_call(c, kPush, x);
  CHECK(error_of(on_c).starts_with("ReferenceError: no pipelined result of request "));
  CHECK(error_of(on_c).find("max_pipelined_results = 2") != std::string::npos);
  auto on_a = pipelined_async_call(a, kPush, x);
  CHECK(on_a.value().kind() == Value::Kind::remote_ref);
  CHECK(p.server->stats().pipelined_results <= 2);
  CHECK(root->callattr("count", {}) == int_value(42));
}

// ---------------------------------------------------------------------------------------------
// On the wire

namespace {

Bytes8 message_v5(std::int64_t msg, std::int64_t seq, Value body) {
  return brine::encode(Value(Tuple{{Value(msg), Value(seq), std::move(body)}}));
}

/// A client connection (5.x envelope) whose server is the test, reading and writing frames.
struct RawServer {
  std::shared_ptr<Connection> client;
  std::unique_ptr<Channel> peer;
  RemoteRefPtr root;

  /// lists: the features the hello reply lists; nullopt: hello refused (a Python peer).
  explicit RawServer(std::optional<Tuple> lists) {
    auto [a, b] = make_memory_pair();
    ConnectionConfig cfg;
    cfg.generation = Generation::v5;
    client = Connection::create(std::make_unique<Channel>(std::move(a)), nullptr, cfg);
    peer = std::make_unique<Channel>(std::move(b));
    auto hello = std::async(std::launch::async, [c = client] { return c->negotiate_extensions(); });
    const auto request = next();
    CHECK(request.handler == 64);
    if (lists) {
      peer->send(message_v5(2, request.seq, tuple_of(1, tuple_of(netref::Bytes{"netref"}, 1, Value(*lists)))));
    } else {
      peer->send(message_v5(3, request.seq,
                            tuple_of(tuple_of("builtins", "AttributeError"), Tuple{{Value("no handler")}}, Tuple{}, "tb")));
    }
    CHECK(hello.get() == lists.has_value());
    auto got_root = std::async(std::launch::async, [c = client] { return c->root(); });
    const auto getroot = next();
    peer->send(message_v5(2, getroot.seq, tuple_of(4, tuple_of(std::string("Svc"), 1, 7))));
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
  /// Answers request with a new object of the peer's, object id oid.
  void reply_object(const Request& request, std::int64_t oid) {
    peer->send(message_v5(2, request.seq, tuple_of(4, tuple_of(std::string("Thing"), 2, oid))));
  }
};

/// The boxed arguments of CALLATTR on target: (LABEL_TUPLE, (target, (1, name), args, (1, ()))).
Value callattr_args(Value boxed_target, std::string name, std::int64_t x) {
  return tuple_of(2, tuple_of(std::move(boxed_target), tuple_of(1, std::move(name)), tuple_of(1, tuple_of(x)),
                              tuple_of(1, Tuple{})));
}

}  // namespace

TEST_CASE("to a peer that did not list pipeline nothing new is sent: the same code waits for each result and sends ordinary requests") {
  for (const bool netref_peer : {false, true}) {
    CAPTURE(netref_peer);
    // A Python peer refuses hello; a netref peer listing only oneway keeps nothing either.
    RawServer s(netref_peer ? std::optional<Tuple>(Tuple{{Value(std::string("oneway"))}}) : std::nullopt);
    REQUIRE_FALSE(s.client->peer_has(Feature::pipeline));
    const Value one[] = {int_value(1)};
    auto target = s.root->async_call_path(kMake, one);
    CHECK_FALSE(pipelinable(target));
    const auto first = s.next();
    // Byte for byte the ordinary CALLATTR 8 (no pipeline_keep_bit).
    CHECK(first.bytes == message_v5(1, first.seq, tuple_of(8, callattr_args(tuple_of(3, tuple_of("Svc", 1, 7)), "make", 1))));
    // The dependent call waits for the result, then names the object itself (LABEL_LOCAL_REF).
    auto dependent = std::async(std::launch::async, [&] { return pipelined_async_call(target, kPush, one); });
    s.reply_object(first, 9);
    const auto second = s.next();
    CHECK(second.bytes == message_v5(1, second.seq, tuple_of(8, callattr_args(tuple_of(3, tuple_of("Thing", 2, 9)), "push", 1))));
    auto pushed = dependent.get();
    s.peer->send(message_v5(2, second.seq, tuple_of(1, 5)));
    CHECK(pushed.value() == int_value(5));
  }
}

TEST_CASE("to a peer that listed pipeline an async call asks to be kept and a call on it names its result: CALLATTR 264 and (5, seq)") {
  RawServer s(Tuple{{Value(std::string("oneway")), Value(std::string("pipeline"))}});
  REQUIRE(s.client->peer_has(Feature::pipeline));
  const Value one[] = {int_value(1)};
  auto target = s.root->async_call_path(kMake, one);
  CHECK(pipelinable(target));
  const auto first = s.next();
  CHECK(first.bytes == message_v5(1, first.seq, tuple_of(264, callattr_args(tuple_of(3, tuple_of("Svc", 1, 7)), "make", 1))));
  auto dependent = pipelined_async_call(target, kPush, one);  // sent now: no reply yet
  const auto second = s.next();
  CHECK(second.bytes == message_v5(1, second.seq, tuple_of(264, callattr_args(tuple_of(5, first.seq), "push", 1))));
  // A sync call on a pending result is not kept: CALLATTR 8 on (5, seq).
  auto sync = std::async(std::launch::async, [&] {
    Value args[] = {int_value(1)};
    return pipelined_call(target, kPush, args);
  });
  const auto third = s.next();
  CHECK(third.bytes == message_v5(1, third.seq, tuple_of(8, callattr_args(tuple_of(5, first.seq), "push", 1))));
  s.reply_object(first, 9);
  s.peer->send(message_v5(2, second.seq, tuple_of(1, 2)));
  s.peer->send(message_v5(2, third.seq, tuple_of(1, 3)));
  CHECK(dependent.value() == int_value(2));
  CHECK(sync.get() == int_value(3));
  // Once no handle needs them, the kept results are let go: RELEASE_RESULTS 70, one-way, in
  // one message with the next sync request (or a DEL, or a batch of 64 with any request).
  target = AsyncResult();
  dependent = AsyncResult();
  auto ping = std::async(std::launch::async, [&] { s.client->ping(); });
  std::vector<std::int64_t> released;
  for (;;) {
    const auto r = s.next();
    if (r.handler == 1) {  // the ping: answered with its own payload
      s.peer->send(message_v5(2, r.seq, tuple_of(1, r.args.get_if<Tuple>()->items.at(1).get_if<Tuple>()->items.at(0))));
      break;
    }
    if (r.handler != 70) continue;  // the DEL_BATCH of the object
    CHECK(r.args.get_if<Tuple>()->items.at(0) == Value(std::int64_t{1}));  // (LABEL_VALUE, (seq, ...))
    for (const auto& seq : r.args.get_if<Tuple>()->items.at(1).get_if<Tuple>()->items) {
      released.push_back(*seq.get_if<std::int64_t>());
    }
  }
  ping.get();
  CHECK(released == std::vector<std::int64_t>{first.seq, second.seq});
  CHECK(s.client->stats().pending_requests == 0);
}

namespace {

/// A server connection lending a Recorder, whose client is the test writing requests by hand.
struct RawClient {
  std::shared_ptr<Connection> server;
  std::unique_ptr<Channel> peer;
  std::thread thread;
  Value root;  // (LABEL_LOCAL_REF, id_pack) of the server's root, for our requests

  RawClient() {
    auto [a, b] = make_memory_pair();
    ConnectionConfig cfg;
    cfg.detect_generation = true;
    server = Connection::create(std::make_unique<Channel>(std::move(b)), std::make_shared<Recorder>(), cfg);
    thread = std::thread([s = server] { s->serve_all(); });
    peer = std::make_unique<Channel>(std::move(a));
    const Value reply = request(0, 3, tuple_of(1, Tuple{}));
    root = tuple_of(3, reply.get_if<Tuple>()->items.at(2).get_if<Tuple>()->items.at(1));
  }
  ~RawClient() {
    server->close();
    thread.join();
  }
  void send(std::int64_t seq, std::int64_t handler, Value args) {
    peer->send(message_v5(1, seq, tuple_of(handler, std::move(args))));
  }
  /// Sends a request and returns the message that answers it: (msg, seq, body).
  Value request(std::int64_t seq, std::int64_t handler, Value args) {
    send(seq, handler, std::move(args));
    Value reply = brine::decode(peer->recv());
    REQUIRE(reply.get_if<Tuple>()->items.at(1) == Value(seq));
    return reply;
  }
  /// "Class: message" of the exception answering the request, or "reply" for a reply.
  std::string error_of(std::int64_t seq, std::int64_t handler, Value args) {
    const Value reply = request(seq, handler, std::move(args));
    const auto& items = reply.get_if<Tuple>()->items;
    if (items.at(0) == Value(std::int64_t{2})) return "reply";
    const auto& vinegar = items.at(2).get_if<Tuple>()->items;
    return *vinegar.at(0).get_if<Tuple>()->items.at(1).get_if<std::string>() + ": " +
           *vinegar.at(1).get_if<Tuple>()->items.at(0).get_if<std::string>();
  }
};

}  // namespace

TEST_CASE("a forged pipelined reference gets a clear error reply and the connection stays: never sent, released, out of range, misplaced") {
  RawClient c;
  // Kept (264), then named: works.
  CHECK(c.error_of(10, 264, callattr_args(c.root, "make", 0)) == "reply");
  CHECK(c.error_of(11, 8, callattr_args(tuple_of(5, 10), "push", 1)) == "reply");
  CHECK(c.server->stats().pipelined_results == 1);
  // A seq never sent, and one sent without asking to keep it (8, not 264).
  CHECK(c.error_of(12, 8, callattr_args(tuple_of(5, 999), "push", 1)).starts_with(
      "ReferenceError: no pipelined result of request 999 on this connection"));
  CHECK(c.error_of(13, 8, callattr_args(c.root, "make", 0)) == "reply");
  CHECK(c.error_of(14, 8, callattr_args(tuple_of(5, 13), "push", 1)).starts_with("ReferenceError: no pipelined result of request 13"));
  // Released (RELEASE_RESULTS is one-way), then named.
  c.send(15, 70, tuple_of(1, tuple_of(10, 4000)));  // 4000 was never kept: ignored
  CHECK(c.error_of(16, 8, callattr_args(tuple_of(5, 10), "push", 1)).starts_with("ReferenceError: no pipelined result of request 10"));
  CHECK(c.server->stats().pipelined_results == 0);
  // Out of range: past 32 bits, negative, a big int, not an int.
  CHECK(c.error_of(17, 8, callattr_args(tuple_of(5, std::int64_t{1} << 32), "push", 1)) ==
        "ValueError: pipelined reference to request 4294967296 is out of range (seqs are 32-bit)");
  CHECK(c.error_of(18, 8, callattr_args(tuple_of(5, -1), "push", 1)).starts_with("ValueError: pipelined reference to request -1 is out of range"));
  CHECK(c.error_of(19, 8, callattr_args(tuple_of(5, BigInt{"1180591620717411303424"}), "push", 1))
            .starts_with("ValueError: pipelined reference to request 1180591620717411303424 is out of range"));
  CHECK(c.error_of(20, 8, callattr_args(tuple_of(5, "ten"), "push", 1)).starts_with("TypeError: a pipelined reference names a request seq"));
  // Anywhere but the target.
  CHECK(c.error_of(21, 264, callattr_args(c.root, "make", 0)) == "reply");
  const Value misplaced = tuple_of(2, tuple_of(c.root, tuple_of(1, "push"), tuple_of(2, tuple_of(tuple_of(5, 21))), tuple_of(1, Tuple{})));
  CHECK(c.error_of(22, 8, misplaced) == "ValueError: a pipelined reference (label 5) may only be a request's target");
  // The keep bit on a handler whose result cannot be a target: an unknown handler.
  CHECK(c.error_of(23, 256 + 1, tuple_of(1, tuple_of("x"))).starts_with("NotImplementedError: unknown request handler 257"));
  // Its own seq: it would wait on itself.
  CHECK(c.error_of(25, 264, callattr_args(tuple_of(5, 25), "push", 1)) == "ValueError: a pipelined request cannot name its own result");
  // The canary: the connection serves on.
  CHECK(c.error_of(24, 8, callattr_args(c.root, "push", 3)) == "reply");
  CHECK_FALSE(c.server->closed());
  CHECK(c.server->stats().pipelined_waiting == 0);
}

TEST_CASE("a malformed RELEASE_RESULTS closes only its own connection") {
  RawClient bad;
  RawClient canary;
  bad.send(1, 70, tuple_of(1, tuple_of("not a seq")));
  CHECK_THROWS_AS(bad.peer->recv(), ConnectionClosed);  // the server hung up
  CHECK(bad.server->close_reason().has_value());
  CHECK(canary.error_of(1, 8, callattr_args(canary.root, "push", 1)) == "reply");
}
