// A peer that sends garbage costs only its own connection, and gets a clear reason.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "harness.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/detail/connection_access.hpp"

using namespace netref;
using netref::test::Thing;

namespace {

/// A server connection whose peer is the test, writing raw bytes.
struct RawPeer {
  StreamPtr raw;                       // our end: write anything
  std::shared_ptr<Connection> server;  // the connection under test
  std::thread thread;

  explicit RawPeer(ConnectionConfig cfg = {}, ChannelConfig ch = {}) {
    auto [a, b] = make_memory_pair();
    raw = std::move(a);
    cfg.detect_generation = true;
    server = Connection::create(std::make_unique<Channel>(std::move(b), ch), std::make_shared<Thing>(), cfg);
    thread = std::thread([s = server] { s->serve_all(); });
  }
  ~RawPeer() {
    raw->close();
    server->close();
    thread.join();
  }
  void write(std::vector<std::uint8_t> bytes) { raw->write_all(bytes); }
  void frame(const std::vector<std::uint8_t>& payload, std::uint8_t flag = 0) {
    std::vector<std::uint8_t> f = {static_cast<std::uint8_t>(payload.size() >> 24), static_cast<std::uint8_t>(payload.size() >> 16),
                                   static_cast<std::uint8_t>(payload.size() >> 8), static_cast<std::uint8_t>(payload.size()), flag};
    f.insert(f.end(), payload.begin(), payload.end());
    f.push_back('\n');
    write(f);
  }
  /// Waits for the server to finish serving; returns why it closed.
  std::string closed_reason() {
    thread.join();
    thread = std::thread([] {});
    REQUIRE(server->closed());
    try {
      std::rethrow_exception(server->close_error());
    } catch (const std::exception& e) {
      return e.what();
    }
    return {};
  }
  /// Reads one uncompressed frame from the server and decodes its brine payload.
  Value read_reply() {
    std::uint8_t header[5];
    raw->read_exact(header);
    const std::size_t length = (std::size_t{header[0]} << 24) | (std::size_t{header[1]} << 16) |
                               (std::size_t{header[2]} << 8) | header[3];
    REQUIRE(header[4] == 0);
    std::vector<std::uint8_t> payload(length + 1);
    raw->read_exact(payload);
    payload.pop_back();  // the '\n'
    return brine::decode(payload);
  }
};

std::vector<std::uint8_t> message_v5(std::int64_t msg, std::int64_t seq, Value body) {
  return brine::encode(Value(Tuple{{Value(msg), Value(seq), std::move(body)}}));
}

Value boxed_args(std::vector<Value> args) { return Value(Tuple{{Value(1), Value(Tuple{std::move(args)})}}); }

}  // namespace

TEST_CASE("a client's GETROOT is RPyC's golden bytes in both generations") {
  for (auto [gen, expected] : {std::pair{Generation::v5, std::vector<std::uint8_t>{0x12, 0x51, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02}},
                               std::pair{Generation::v6, std::vector<std::uint8_t>{0x01, 0x11, 0x50, 0x11, 0x53, 0x11, 0x51, 0x02}}}) {
    auto [a, b] = make_memory_pair();
    ConnectionConfig cfg;
    cfg.generation = gen;
    auto client = Connection::create(std::make_unique<Channel>(std::move(a)), nullptr, cfg);
    auto res = client->async_request(Handler::getroot, {});
    Channel peer(std::move(b));
    CHECK(peer.recv() == expected);
    client->close();
  }
}

TEST_CASE("a truncated frame closes the connection") {
  RawPeer p;
  p.write({0x00, 0x00, 0x03, 0xe8, 0x00, 'a', 'b'});  // length 1000, 2 bytes, then EOF
  p.raw->close();
  CHECK(p.closed_reason().find("closed") != std::string::npos);
  CHECK(p.server->stats().requests_served == 0);
}

TEST_CASE("a frame with flag byte 2 closes the connection with the reason") {
  RawPeer p;
  p.frame(message_v5(1, 0, Value(Tuple{{Value(1), boxed_args({Value("x")})}})), 2);
  CHECK(p.closed_reason().find("flag") != std::string::npos);
}

TEST_CASE("a frame over the limit closes the connection before allocating") {
  ChannelConfig ch;
  ch.max_frame_bytes = 64 * 1024;
  RawPeer p({}, ch);
  p.write({0xff, 0xff, 0xff, 0xff, 0x00});
  CHECK(p.closed_reason().find("exceeds") != std::string::npos);
}

TEST_CASE("a frame the buffer budget cannot hold closes the connection under \"budget\", served blocking or as a reactor") {
  BufferBudget budget(1u << 20);
  ChannelConfig ch;
  ch.buffer_budget = &budget;
  std::vector<std::uint8_t> large(4u << 20, 'x');  // a frame of 4 MiB, all of it sent
  SUBCASE("a thread serving the connection") {
    RawPeer p({}, ch);
    p.frame(large);
    CHECK(p.closed_reason().find("buffer budget") != std::string::npos);
    CHECK(p.server->close_reason() == CloseReason::budget);
  }
  SUBCASE("serve_available, as the thread pool serves") {
    auto [a, b] = make_memory_pair();
    ConnectionConfig cfg;
    cfg.detect_generation = true;
    auto server = Connection::create(std::make_unique<Channel>(std::move(b), ch), std::make_shared<Thing>(), cfg);
    large.insert(large.begin(), {0x00, 0x40, 0x00, 0x00, 0x00});  // its header
    a->write_all(large);
    CHECK(detail::ConnectionAccess::serve_available(*server) == ServeStatus::closed);
    CHECK(server->close_reason() == CloseReason::budget);
  }
  CHECK(budget.refusals() == 1);
  CHECK(budget.in_use() == 0);
}

TEST_CASE("an empty frame is a protocol error") {
  RawPeer p;
  p.frame({});
  CHECK(p.closed_reason().find("empty message") != std::string::npos);
}

TEST_CASE("an unknown brine tag closes the connection") {
  RawPeer p;
  p.frame({0x12, 0x51, 0x50, 0x1c});
  CHECK(p.closed_reason().find("tag") != std::string::npos);
}

TEST_CASE("nesting deeper than the limit closes the connection") {
  ConnectionConfig cfg;
  cfg.max_depth = 16;
  RawPeer p(cfg);
  std::vector<std::uint8_t> payload = {0x12, 0x51, 0x50};
  for (int i = 0; i < 40; ++i) payload.push_back(0x10);  // 1-tuples, 40 deep
  payload.push_back(0x00);
  p.frame(payload);
  CHECK(p.closed_reason().find("depth") != std::string::npos);
}

TEST_CASE("a message nested exactly to the depth limit is served, and one level more closes the connection") {
  // The envelope, the (handler, args) body, the boxed pair and the args tuple are 4 levels;
  // a tuple at depth d needs d + 1 <= max_depth, so 12 nested 1-tuples fit a limit of 16.
  auto nested = [](int levels) {
    Value v;
    for (int i = 0; i < levels; ++i) v = Value(Tuple{{std::move(v)}});
    return v;
  };
  ConnectionConfig cfg;
  cfg.max_depth = 16;
  RawPeer p(cfg);
  p.frame(message_v5(1, 0, Value(Tuple{{Value(1), boxed_args({nested(12)})}})));  // PING echoes it
  CHECK(p.read_reply() == Value(Tuple{{Value(2), Value(0), Value(Tuple{{Value(1), nested(12)}})}}));
  CHECK_FALSE(p.server->closed());
  p.frame(message_v5(1, 1, Value(Tuple{{Value(1), boxed_args({nested(13)})}})));
  for (int i = 0; i < 500 && !p.server->closed(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  REQUIRE(p.server->closed());  // (a server that answered instead would leave closed_reason waiting)
  CHECK(p.closed_reason().find("deeper than 16 levels") != std::string::npos);
}

TEST_CASE("bytes after a message's envelope close the connection, naming them") {
  RawPeer p;
  auto payload = message_v5(1, 0, Value(Tuple{{Value(1), boxed_args({Value("x")})}}));
  payload.push_back(0x00);
  p.frame(payload);
  CHECK(p.closed_reason().find("1 trailing bytes") != std::string::npos);
}

TEST_CASE("a request that decodes past the decode budget closes the connection, naming the limit") {
  // 2M one-byte ints: a 2 MiB frame, well within max_frame_bytes, that would decode to 2M
  // Values (80 MiB) and is refused as its tuple's header is read.
  std::vector<std::uint8_t> payload = {0x12, 0x51, 0x50, 0x11, 0x57, 0x11, 0x51, 0x15, 0x00, 0x20, 0x00, 0x00};
  payload.resize(payload.size() + (std::size_t{2} << 20), 0x51);
  RawPeer p;
  p.frame(payload);
  const std::string reason = p.closed_reason();
  CHECK(reason.find("max_decoded_items") != std::string::npos);
  CHECK(reason.find("2097152 items") != std::string::npos);
}

TEST_CASE("an unknown message type closes the connection") {
  RawPeer p;
  p.frame(message_v5(9, 0, Value()));
  CHECK(p.closed_reason().find("unknown message type 9") != std::string::npos);
}

TEST_CASE("a reply to a seq never sent closes the connection") {
  RawPeer p;
  p.frame(message_v5(2, 77, Value(Tuple{{Value(1), Value()}})));
  CHECK(p.closed_reason().find("never sent") != std::string::npos);
}

TEST_CASE("a DEL of an unknown object id closes the connection") {
  RawPeer p;
  Value id_pack = Value(Tuple{{Value("tests.Thing"), Value(1), Value(424242)}});
  Value args = Value(Tuple{{Value(2), Value(Tuple{{Value(Tuple{{Value(3), id_pack}}), Value(Tuple{{Value(1), Value(1)}})}})}});
  p.frame(message_v5(1, 0, Value(Tuple{{Value(15), args}})));
  CHECK(p.closed_reason().find("unknown object id 424242") != std::string::npos);
}

TEST_CASE("an object id lent to another connection is unknown here, and both connections survive") {
  auto shared_root = std::make_shared<Thing>(1);
  netref::test::Pair a(shared_root);
  netref::test::Pair b(shared_root);
  Value made = a.client->root()->callattr("make", {Value(9)});
  auto ref = *made.get_if<RemoteRefPtr>();
  // b forges a LOCAL_REF naming a's object: the same error as any unknown id.
  Value forged_pack = Value(Tuple{{Value(ref->id_pack().type_name), Value(static_cast<std::int64_t>(ref->id_pack().type_id)),
                                   Value(static_cast<std::int64_t>(ref->id_pack().object_id))}});
  auto b_root = b.client->root();
  CHECK_THROWS_WITH_AS(b.client->sync_request(Handler::inspect, {forged_pack}), doctest::Contains("no such object"), RemoteError);
  CHECK_FALSE(b.client->closed());
  CHECK(std::get<std::int64_t>(ref->getattr("value").storage()) == 9);  // a's object untouched
  CHECK(std::get<std::int64_t>(b_root->callattr("add", {Value(1), Value(1)}).storage()) == 2);
}

TEST_CASE("a well-behaved client keeps working while another connection is closed for garbage") {
  auto root = std::make_shared<Thing>(5);
  netref::test::Pair good(root);
  {
    RawPeer bad;
    bad.frame({0x12, 0x51, 0x50, 0xff});
    CHECK_FALSE(bad.closed_reason().empty());
  }
  CHECK(std::get<std::int64_t>(good.client->root()->getattr("value").storage()) == 5);
}

TEST_CASE("a handler number outside a byte is unknown, not an alias of a real handler") {
  RawPeer p;
  // 271 narrowed to a byte would be 15 (DEL): it must get an "unknown handler" reply instead.
  p.frame(message_v5(1, 5, Value(Tuple{{Value(271), boxed_args({})}})));
  Value reply = p.read_reply();
  auto* t = reply.get_if<Tuple>();
  REQUIRE(t != nullptr);
  REQUIRE(t->items.size() == 3);
  CHECK(t->items[0] == Value(3));  // MSG_EXCEPTION
  CHECK(t->items[1] == Value(5));
  CHECK(exception_codec::decode(t->items[2]).message() == "unknown request handler 271");
  CHECK_FALSE(p.server->closed());
}

TEST_CASE("a DEL of more references than were lent closes the connection, and frees nothing early") {
  RawPeer p;
  // GETROOT lends the root once; then release it twice.
  p.frame(message_v5(1, 0, Value(Tuple{{Value(3), boxed_args({})}})));
  Value reply = p.read_reply();
  auto* body = reply.get_if<Tuple>()->items[2].get_if<Tuple>();
  REQUIRE(body != nullptr);
  Value id_pack = body->items[1];  // (LABEL_REMOTE_REF, id_pack)
  CHECK(p.server->stats().lent_objects == 1);
  Value args = Value(Tuple{{Value(2), Value(Tuple{{Value(Tuple{{Value(3), id_pack}}), Value(Tuple{{Value(1), Value(2)}})}})}});
  p.frame(message_v5(1, 1, Value(Tuple{{Value(15), args}})));
  CHECK(p.closed_reason().find("release of 2 references") != std::string::npos);
}

TEST_CASE("malformed handler arguments get an error reply and the connection stays") {
  netref::test::Pair p;
  auto r = p.client->root();
  Value self(r);
  // call arguments that are not a tuple, keyword arguments that are not pairs, a name that is not a str
  CHECK_THROWS_AS(p.client->sync_request(Handler::call, {self, Value(5)}), TypeError);
  CHECK_THROWS_AS(p.client->sync_request(Handler::call, {self, Value(Tuple{{Value(1)}}), Value(Tuple{{Value(1)}})}), TypeError);
  CHECK_THROWS_AS(p.client->sync_request(Handler::getattr, {self, Value(7)}), TypeError);
  CHECK_THROWS_AS(p.client->sync_request(Handler::getattr, {self}), TypeError);  // too few arguments
  CHECK_THROWS_AS(p.client->sync_request(Handler::buffiter, {self, Value(-1)}), ValueError);
  CHECK_THROWS_AS(p.client->sync_request(Handler::getattr, {Value(3), Value("value")}), TypeError);  // not an object
  CHECK_THROWS_WITH_AS(r->getattr(std::string(5000, 'a')), doctest::Contains("exceeds the limit of 4096"), AttributeError);
  CHECK(std::get<std::int64_t>(r->getattr("value").storage()) == 0);
}

TEST_CASE("a result larger than the frame limit is an error reply, not a dropped connection") {
  ChannelConfig small;
  small.max_frame_bytes = 1024;
  auto [a, b] = make_memory_pair();
  ConnectionConfig server_cfg;
  server_cfg.detect_generation = true;
  auto client = Connection::create(std::make_unique<Channel>(std::move(a)), nullptr);
  auto server = Connection::create(std::make_unique<Channel>(std::move(b), small), std::make_shared<Thing>(), server_cfg);
  std::thread serving([server] { server->serve_all(); });
  auto r = client->root();
  CHECK_THROWS_WITH_AS(r->callattr("big", {Value(2000)}), doctest::Contains("max_frame_bytes"), ValueError);
  CHECK(r->callattr("big", {Value(10)}) == Value(std::string(10, 'x')));
  client->close();
  serving.join();
}

TEST_CASE("lending past max_lent_objects fails that request only") {
  ConnectionConfig server_cfg;
  server_cfg.max_lent_objects = 2;  // the root and one more
  netref::test::Pair p(std::make_shared<Thing>(), {}, server_cfg);
  auto r = p.client->root();
  Value first = r->callattr("make", {Value(1)});
  CHECK_THROWS_WITH_AS(r->callattr("make", {Value(2)}), doctest::Contains("max_lent_objects = 2"), RemoteError);
  p.sync();
  CHECK(p.server->stats().lent_objects == 2);
  first = Value();
  CHECK(r->callattr("make", {Value(3)}).kind() == Value::Kind::remote_ref);  // room again after the DEL
}

TEST_CASE("callbacks nested past max_callback_depth get a clear error") {
  ConnectionConfig server_cfg;
  server_cfg.max_callback_depth = 1;
  netref::test::Pair p(std::make_shared<Thing>(), {}, server_cfg);
  auto r = p.client->root();
  auto inner = netref::test::callable([](Args&) { return Value(1); });
  auto outer = netref::test::callable([r, inner](Args&) { return r->callattr("apply", {Value(inner)}); });
  // depth 1: server runs apply(outer); outer calls back into the server: depth 2 is refused
  CHECK_THROWS_WITH_AS(r->callattr("apply", {Value(outer)}), doctest::Contains("max_callback_depth"), RemoteError);
  CHECK(std::get<std::int64_t>(r->callattr("apply", {Value(inner)}).storage()) == 1);  // depth 1 still fine
}
