// One-way requests: flagged (no reply) only to a peer that listed `oneway` in hello; to any
// other peer, a Python one, the bytes of the ordinary request, whose reply is dropped.
#include <doctest/doctest.h>

#include <future>
#include <string>
#include <vector>

#include "harness.hpp"
#include "netref/protocol/brine.hpp"

using namespace netref;
using netref::test::Pair;
using netref::test::Thing;

namespace {

using Bytes8 = std::vector<std::uint8_t>;

Bytes8 message_v5(std::int64_t msg, std::int64_t seq, Value body) {
  return brine::encode(Value(Tuple{{Value(msg), Value(seq), std::move(body)}}));
}

/// A client connection (rpyc 5.x envelope) whose server is the test, reading and writing frames.
struct RawServer {
  std::shared_ptr<Connection> client;
  std::unique_ptr<Channel> peer;
  RemoteRefPtr root;

  /// lists: the features the test's hello reply lists; nullopt: it never answers hello (a
  /// Python peer's refusal leaves the client exactly so).
  explicit RawServer(std::optional<Tuple> lists) {
    auto [a, b] = make_memory_pair();
    ConnectionConfig cfg;
    cfg.generation = Generation::v5;
    client = Connection::create(std::make_unique<Channel>(std::move(a)), nullptr, cfg);
    peer = std::make_unique<Channel>(std::move(b));
    if (lists) {
      auto hello = std::async(std::launch::async, [c = client] { return c->negotiate_extensions(); });
      const Value request = brine::decode(peer->recv());
      const auto& items = request.get_if<Tuple>()->items;
      const auto& body = items.at(2).get_if<Tuple>()->items;
      CHECK(body.at(0) == Value(std::int64_t{64}));
      // The hello lists what this build uses: (b"netref", version, ("oneway", "pipeline", "deadline", "cancel")).
      const auto& args = body.at(1).get_if<Tuple>()->items.at(1);
      CHECK(args.get_if<Tuple>()->items.at(2) == Value(tuple_of(std::string("oneway"), std::string("pipeline"),
                                                                 std::string("deadline"), std::string("cancel"))));
      peer->send(message_v5(2, *items.at(1).get_if<std::int64_t>(),
                            tuple_of(1, tuple_of(netref::Bytes{"netref"}, 1, Value(*lists)))));
      REQUIRE(hello.get());
    }
    auto got_root = std::async(std::launch::async, [c = client] { return c->root(); });
    const Value request = brine::decode(peer->recv());
    const auto seq = *request.get_if<Tuple>()->items.at(1).get_if<std::int64_t>();
    peer->send(message_v5(2, seq, tuple_of(4, tuple_of(std::string("Svc"), 1, 7))));  // LABEL_REMOTE_REF
    root = got_root.get();
  }
  ~RawServer() { client->close(); }

  /// The next request's (seq, handler, boxed args), and its bytes.
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

}  // namespace

TEST_CASE("to a peer that did not list oneway a one-way call is the ordinary request, byte for byte, and its reply is dropped") {
  RawServer s(std::nullopt);  // a Python peer: hello refused, nothing negotiated
  REQUIRE_FALSE(s.client->peer_has_oneway());
  const Value args[] = {Value(std::int64_t{5}), Value(std::string("x"))};
  s.root->oneway_call_path(f_name, args);
  const auto oneway = s.next();
  auto pending = s.root->async_call_path(f_name, args);
  const auto ordinary = s.next();
  CHECK(oneway.handler == static_cast<std::int64_t>(Handler::callattr));
  CHECK(oneway.args == ordinary.args);
  // The same bytes but for the seq, which is one small int either way.
  REQUIRE(oneway.bytes.size() == ordinary.bytes.size());
  REQUIRE(oneway.seq + 1 == ordinary.seq);
  REQUIRE(message_v5(1, ordinary.seq, tuple_of(ordinary.handler, ordinary.args)) == ordinary.bytes);
  CHECK(message_v5(1, oneway.seq, tuple_of(ordinary.handler, ordinary.args)) == oneway.bytes);
  CHECK(s.client->stats().pending_requests == 1);  // only the async one waits

  // Python answers both; the one-way reply is dropped on arrival, the other delivered.
  s.peer->send(message_v5(2, oneway.seq, tuple_of(1, 10)));
  s.peer->send(message_v5(2, ordinary.seq, tuple_of(1, 11)));
  CHECK(pending.value() == Value(std::int64_t{11}));
  const auto stats = s.client->stats();
  CHECK(stats.late_replies == 1);
  CHECK(stats.pending_requests == 0);
}

TEST_CASE("to a peer that listed oneway a one-way call goes flagged: CALLATTR 8 as 136, CALL 7 as 135, CALLCHAIN 66 as 193") {
  RawServer s(Tuple{{Value(std::string("oneway")), Value(std::string("something_newer"))}});
  REQUIRE(s.client->peer_has_oneway());
  const Value args[] = {Value(std::int64_t{5})};
  s.root->oneway_call_path(f_name, args);
  CHECK(s.next().handler == 136);
  s.root->oneway_call_path({}, args);
  CHECK(s.next().handler == 135);
  const std::string chain[] = {"a", "b"};
  s.root->oneway_call_path(chain, args);
  CHECK(s.next().handler == 193);
  CHECK(s.client->stats().pending_requests == 0);
}

TEST_CASE("a netref peer whose hello lists no features gets the ordinary request") {
  RawServer s(Tuple{});
  REQUIRE(s.client->peer_is_netref());
  CHECK_FALSE(s.client->peer_has_oneway());
  const Value args[] = {Value(std::int64_t{5})};
  s.root->oneway_call_path(f_name, args);
  CHECK(s.next().handler == static_cast<std::int64_t>(Handler::callattr));
}

TEST_CASE("a netref server runs a one-way call and sends nothing back, not even its error") {
  auto thing = std::make_shared<Thing>(0);
  Pair p(thing);
  REQUIRE(p.client->negotiate_extensions());
  REQUIRE(p.client->peer_has_oneway());
  auto root = p.client->root();
  const auto before = p.client->stats();
  const Value one[] = {Value(std::int64_t{7})};
  root->oneway_call_path({}, one);  // calling a Thing adds to it
  const std::string fail[] = {"fail"};
  root->oneway_call_path(fail, {});  // throws on the server: nobody hears of it
  p.sync();                          // served in order: both ran before the ping's reply
  CHECK(thing->value == 7);
  const auto after = p.client->stats();
  CHECK(after.frames_in - before.frames_in == 1);  // the ping's reply alone
  CHECK(after.late_replies == 0);
  CHECK(after.pending_requests == 0);
  CHECK(root->callattr("add", {Value(std::int64_t{1}), Value(std::int64_t{2})}) == Value(std::int64_t{3}));
}

TEST_CASE("a netref server with extensions off refuses a flagged request as an unknown handler") {
  ConnectionConfig server_cfg;
  server_cfg.enable_extensions = false;
  Pair p(std::make_shared<Thing>(), {}, server_cfg);
  CHECK_FALSE(p.client->negotiate_extensions());
  auto res = p.client->async_request(static_cast<Handler>(136), {Value(std::int64_t{1})});
  CHECK_THROWS_AS(res.value(), RemoteError);
  p.sync();  // the connection stays
}
