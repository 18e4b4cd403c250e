// docs/FAULTS.md C (messages, seqs, dispatch), D (references and refcounts), E (exposure
// policy) and F (exceptions over the wire), against a real server and, for the client's
// side, a raw "server" the test writes by hand.
#include <doctest/doctest.h>

#include "fault/fault.hpp"
#include "netref/protocol/detail/connection_access.hpp"

using namespace netref;
using namespace netref::test;
using wire::ByteVec;

namespace {

/// callattr(target, name, args...) with plain arguments.
ByteVec call(std::uint32_t seq, const IdPack& target, const std::string& name, Value args = Value(Tuple{})) {
  return wire::request(seq, Handler::callattr, {wire::local_ref(target), wire::boxed(name), wire::boxed(std::move(args))});
}

/// PING answered: the connection is alive and in step.
void check_alive(RawPeer& peer, std::uint32_t seq) {
  peer.send_frame(wire::request(seq, Handler::ping, {wire::boxed(Value("alive"))}));
  auto m = peer.read_reply_to(seq);
  CHECK(m.type == MsgType::reply);
  CHECK(m.boxed_item() == Value("alive"));
}

/// A "server" the test plays by hand, with a real netref client connected to it.
struct RawServer {
  std::unique_ptr<Listener> listener = listen_tcp("127.0.0.1", 0);
  ConnectionPtr client;
  std::optional<RawPeer> peer;
  explicit RawServer(ClientConfig cfg = {}) {
    cfg.negotiate_extensions = false;  // nothing is sent until the test asks
    client = open_connection("127.0.0.1", listener->port(), cfg);
    peer.emplace(RawPeer::over(listener->accept()));
  }
  ~RawServer() { client->close(); }
};

struct Box {
  std::int64_t fixed = 1;
  std::int64_t free = 2;
};

void define_extras(Lab& lab) {
  lab.types.expose<Box>("Box").def_readonly("fixed", &Box::fixed).def_readwrite("free", &Box::free);
  lab.service.def("make_box", [] { return std::make_shared<Box>(); });
  lab.service.def("throw_std", []() -> std::int64_t { throw std::runtime_error("boom"); });
  lab.service.def("throw_int", []() -> std::int64_t { throw 42; });
  lab.service.def("bad_text", [] { return std::string("caf\xff\xfe"); });  // not UTF-8: cannot be sent
  lab.service.def("long_error", [](std::int64_t n) -> std::int64_t {
    throw std::invalid_argument(std::string(static_cast<std::size_t>(n), 'e'));
  });
  lab.service.def("dirty_error", []() -> std::int64_t {
    throw RemoteError("RuntimeError", std::string("bad \xff byte, NUL \0 and \x1b[31mred", 30));
  });
  lab.service.def("blame", [](Proxy culprit) -> std::int64_t {
    ExceptionInfo info;
    info.class_name = "ValueError";
    info.args = {Value("bad callback"), culprit.value()};
    throw ValueError(std::move(info));
  });
  lab.service.def("bump", [](std::shared_ptr<Counter> c, std::int64_t n) { return c->add(n); });
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// C. Messages, seqs, dispatch

TEST_CASE("C1: an unknown message type closes the connection, naming it") {
  Served<> s;
  for (std::uint8_t type : {0, 4, 9, 255}) {
    CAPTURE(int(type));
    auto peer = RawPeer::tcp(s.port());
    ByteVec payload = wire::message(MsgType::request, 0, tuple_of(1, wire::boxed(Value(Tuple{}))));
    payload[0] = type;
    peer.send_frame(payload);
    CHECK(peer.closed_within(std::chrono::seconds(1)));
    CHECK(s.watch.wait_reason("unknown message type " + std::to_string(type)));
  }
  s.check_canary();
}

TEST_CASE("C2: an unknown handler or method gets an error reply and the connection carries on") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  std::uint32_t seq = 0;
  for (std::int64_t handler : {0, 42, 63, 255, 300, -1}) {
    CAPTURE(handler);
    peer.send_frame(wire::request(++seq, handler, {}));
    auto m = peer.read_reply_to(seq);
    REQUIRE(m.type == MsgType::exception);
    CHECK(m.error().class_name == "NotImplementedError");
    CHECK(m.error().message().find("unknown request handler") != std::string::npos);
  }
  check_alive(peer, ++seq);
  auto client = connect("127.0.0.1", s.port());
  CHECK_THROWS_AS(client->root()->attr("no_such_method")->call(), AttributeError);
  CHECK(client->root()->attr("add")->call(1, 2).as<std::int64_t>() == 3);
  s.check_canary();
}

TEST_CASE("C3: a malformed body closes the connection fast, without reserving what it claims") {
  Served<> s;
  const ByteVec good = wire::request(0, Handler::ping, {wire::boxed(Value("x"))});
  ByteVec trailing = good;
  trailing.push_back(0x00);
  const ByteVec cases[] = {
      {0x01, 0x11, 0x50, 0x15, 0xff, 0xff, 0xff, 0xff},              // a tuple of 2^32-1 items, no bytes
      {0x01, 0x11, 0x50, 0x0f, 0x00, 0x00, 0x10, 0x00, 'a', 'b'},   // a str of 4096 bytes, 2 sent
      ByteVec(good.begin(), good.end() - 1),                         // cut inside the frame
      trailing,                                                      // a byte after the envelope
  };
  for (const auto& payload : cases) {
    auto peer = RawPeer::tcp(s.port());
    const auto start = Clock::now();
    peer.send_frame(payload);
    CHECK(peer.closed_within(std::chrono::seconds(1)));
    CHECK(Clock::now() - start < std::chrono::milliseconds(500));
  }
  CHECK(s.watch.wait_closed(4));
  s.check_canary();
}

TEST_CASE("C4: a new request reusing a seq still in flight closes the connection") {
  // The server runs apply(cb, 3) under seq 5 and calls cb back on us; while that call is in
  // flight we send another request numbered 5. R5: a duplicate in-flight seq closes.
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  const IdPack cb{"builtins.builtin_function_or_method", 1, 77};
  peer.send_frame(wire::request(5, Handler::callattr,
                                {wire::local_ref(root), wire::boxed("apply"),
                                 tuple_of(2, Value(Tuple{{wire::remote_ref(cb), wire::boxed(3)}}))}));
  auto callback = peer.read_message();
  REQUIRE(callback.type == MsgType::request);  // the server now waits in apply
  peer.send_frame(wire::request(5, Handler::ping, {wire::boxed(Value("dup"))}));
  CHECK(peer.closed_within(std::chrono::seconds(1)));
  s.check_canary();
}

TEST_CASE("C5: a reply to a seq the client never sent closes the client's connection and fails its call") {
  RawServer raw;
  auto pending = raw.client->async_request(Handler::getroot, {});
  auto request = raw.peer->read_message();
  REQUIRE(request.type == MsgType::request);
  raw.peer->send_frame(wire::reply(request.seq + 9999, Value(1)));
  REQUIRE(pending.wait(std::chrono::seconds(2)));
  CHECK(what_of(pending.error()).find("never sent") != std::string::npos);
  CHECK(raw.client->closed());
  CHECK(raw.peer->closed_within(std::chrono::seconds(1)));
}

TEST_CASE("C7: a duplicate reply for a completed seq is dropped and counted, and the connection stays") {
  RawServer raw;
  auto first = raw.client->async_request(Handler::ping, {Value(1)});
  auto request = raw.peer->read_message();
  raw.peer->send_frame(wire::reply(request.seq, Value(1)));
  raw.peer->send_frame(wire::reply(request.seq, Value(2)));  // again
  REQUIRE(first.wait(std::chrono::seconds(2)));
  CHECK(first.value() == Value(1));
  auto second = raw.client->async_request(Handler::ping, {Value(3)});
  auto next = raw.peer->read_message();
  raw.peer->send_frame(wire::reply(next.seq, Value(3)));
  REQUIRE(second.wait(std::chrono::seconds(2)));  // reading up to it drops the duplicate
  CHECK(second.value() == Value(3));
  CHECK(raw.client->stats().late_replies == 1);
  CHECK_FALSE(raw.client->closed());
}

TEST_CASE("C9: handlers that throw a std::exception, an int, or a result that cannot be sent get error replies") {
  Served<> s({}, true, define_extras);
  auto client = connect("127.0.0.1", s.port());
  auto root = client->root();
  try {
    root->attr("throw_std")->call();
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK(e.class_name() == "RuntimeError");
    CHECK(e.message() == "boom");
  }
  try {
    root->attr("throw_int")->call();
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK(e.class_name() == "RuntimeError");
    CHECK(e.message().find("int") != std::string::npos);
  }
  CHECK_THROWS_AS(root->attr("bad_text")->call(), RemoteError);
  CHECK(root->attr("add")->call(2, 2).as<std::int64_t>() == 4);
  CHECK_FALSE(client->closed());
  s.check_canary();
}

TEST_CASE("C10: a result larger than max_frame_bytes is an error reply, and the connection stays") {
  Served<> s([](ServerConfig& c) { c.channel.max_frame_bytes = 64 * 1024; });
  auto client = connect("127.0.0.1", s.port());
  const std::string big(100 * 1024, 'b');  // compresses to a small request, but not as a result
  CHECK_THROWS_WITH_AS(client->root()->attr("echo")->call(big), doctest::Contains("max_frame_bytes"), ValueError);
  CHECK(client->root()->attr("echo")->call(std::string("small")).as<std::string>() == "small");
  s.check_canary();
}

// ---------------------------------------------------------------------------------------------
// D. Remote references and refcounts

TEST_CASE("D1: a DEL of an unknown object id closes the connection, naming the id") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  peer.send_frame(wire::del(1, IdPack{root.type_name, root.type_id, 424242}, 1));
  CHECK(peer.closed_within(std::chrono::seconds(1)));
  CHECK(s.watch.wait_reason("unknown object id 424242"));
  s.check_canary();
}

TEST_CASE("D2: a DEL of more references than were lent closes that connection, and other holders keep the object") {
  Served<> s;
  auto holder = connect("127.0.0.1", s.port());
  auto root = holder->root();
  CHECK(root->attr("ping")->call().as<std::string>() == "pong");
  auto peer = RawPeer::tcp(s.port());
  const IdPack shared_root = root_of(peer);
  peer.send_frame(wire::del(1, shared_root, 0xFFFFFFFFll));
  CHECK(peer.closed_within(std::chrono::seconds(1)));
  CHECK(s.watch.wait_reason("release of 4294967295 references"));
  CHECK(root->attr("add")->call(3, 4).as<std::int64_t>() == 7);  // the same object, still lent to holder
  s.check_canary();
}

TEST_CASE("D3 D4: ids forged from another connection, zero, max or pointer-like answer like any unknown id") {
  Served<> s;
  auto owner = connect("127.0.0.1", s.port());
  auto counter = owner->root()->attr("make_counter")->call(5);
  const IdPack theirs = counter.remote()->id_pack();
  auto peer = RawPeer::tcp(s.port());
  root_of(peer);
  std::uint32_t seq = 1;
  std::vector<std::string> messages;
  for (std::uint64_t id : {theirs.object_id, std::uint64_t{0}, std::uint64_t{0x7fffffffffffffff},
                           std::uint64_t{0x00007f3a12345678}, std::uint64_t{987654321}}) {
    CAPTURE(id);
    peer.send_frame(call(++seq, IdPack{theirs.type_name, theirs.type_id, id}, "add", tuple_of(1)));
    auto m = peer.read_reply_to(seq);
    REQUIRE(m.type == MsgType::exception);
    CHECK(m.error().class_name == "ReferenceError");
    std::string shape = m.error().message();
    shape.replace(shape.find("(id "), shape.find(')') - shape.find("(id ") + 1, "(id N)");
    messages.push_back(shape);
  }
  for (const auto& m : messages) CHECK(m == messages.front());  // no existence oracle
  check_alive(peer, ++seq);
  CHECK(counter->attr("add")->call(1).as<std::int64_t>() == 6);  // the owner's object untouched
  s.check_canary();
}

TEST_CASE("D5 D6: a DEL pipelined right behind a call waits for it, and a call after the last DEL is unknown") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  REQUIRE(s.watch.wait_opened(2));
  auto conn = s.watch.connection(1);
  REQUIRE(conn != nullptr);
  peer.send_frame(call(1, root, "make_counter", tuple_of(10)));
  const IdPack counter = peer.read_reply_to(1).lent_id();
  CHECK(conn->stats().lent_objects == 2);
  // One write: add(5) on the counter, then the DEL of it.
  ByteVec both = wire::frame(call(2, counter, "add", tuple_of(5)));
  const ByteVec del = wire::frame(wire::del(3, counter, 1));
  both.insert(both.end(), del.begin(), del.end());
  peer.send(both);
  auto added = peer.read_reply_to(2);
  REQUIRE(added.type == MsgType::reply);
  CHECK(added.boxed_item() == Value(15));
  CHECK(peer.read_reply_to(3).type == MsgType::reply);
  CHECK(conn->stats().lent_objects == 1);
  peer.send_frame(call(4, counter, "add", tuple_of(1)));
  auto late = peer.read_reply_to(4);
  REQUIRE(late.type == MsgType::exception);
  CHECK(late.error().class_name == "ReferenceError");
  check_alive(peer, 5);
  s.check_canary();
}

TEST_CASE("D7: lending past max_lent_objects fails those requests only, and room returns with the DELs") {
  Served<> s([](ServerConfig& c) { c.connection.max_lent_objects = 20; });
  auto client = connect("127.0.0.1", s.port());
  auto make = client->root()->attr("make_counter");
  std::vector<Proxy> held;
  for (int i = 0; i < 19; ++i) held.push_back(make->call(i));  // and the root: 20
  CHECK_THROWS_WITH_AS(make->call(99), doctest::Contains("max_lent_objects = 20"), RemoteError);
  CHECK_THROWS_WITH_AS(make->call(99), doctest::Contains("max_lent_objects = 20"), RemoteError);
  s.check_canary();
  held.clear();
  CHECK(make->call(1)->attr("add")->call(1).as<std::int64_t>() == 2);
}

TEST_CASE("D9: a netref sent back to its owner arrives as the owner's own object, and nothing leaks") {
  Served<> s({}, true, define_extras);
  auto client = connect("127.0.0.1", s.port());
  REQUIRE(s.watch.wait_opened(2));
  auto conn = s.watch.connection(1);
  auto root = client->root();  // held: Client::root() caches the netref weakly
  auto counter = root->attr("make_counter")->call(1);
  const auto lent = conn->stats().lent_objects;
  CHECK(lent == 2);
  CHECK(root->attr("bump")->call(counter, 5).as<std::int64_t>() == 6);
  CHECK(counter->attr("add")->call(0).as<std::int64_t>() == 6);  // the very object bump changed
  CHECK(conn->stats().lent_objects == lent);
  CHECK(conn->stats().netrefs_held == 0);
  counter = Proxy();
  CHECK(eventually([&] { return conn->stats().lent_objects == lent - 1; }));
}

TEST_CASE("D10: a request that fails to unbox after three references changes no count") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  REQUIRE(s.watch.wait_opened(2));
  auto conn = s.watch.connection(1);
  const Value bad_label = tuple_of(9, 0);
  SUBCASE("references to the server's own objects") {
    peer.send_frame(wire::request(1, Handler::callattr,
                                  {wire::local_ref(root), wire::boxed("apply"),
                                   tuple_of(2, Value(Tuple{{wire::local_ref(root), wire::local_ref(root),
                                                            wire::local_ref(root), bad_label}}))}));
    CHECK(peer.read_reply_to(1).type == MsgType::exception);
    CHECK(conn->stats().lent_objects == 1);
    CHECK(conn->lent_count(*s.lab.service.root_object()) == 1);
  }
  SUBCASE("references the peer lends") {
    std::vector<Value> args;
    for (std::uint64_t id : {101u, 102u, 103u}) args.push_back(wire::remote_ref(IdPack{"builtins.object", 1, id}));
    args.push_back(bad_label);
    peer.send_frame(
        wire::request(1, Handler::callattr, {wire::local_ref(root), wire::boxed("apply"), tuple_of(2, Value(Tuple{args}))}));
    std::vector<wire::Msg> others;
    CHECK(peer.read_reply_to(1, &others).type == MsgType::exception);
    CHECK(eventually([&] { return conn->stats().netrefs_held == 0; }));
    // Each reference received once is released once: three DELs (count 1) come back.
    std::vector<std::uint64_t> released;
    const auto collect = [&](const wire::Msg& m) {
      if (m.type != MsgType::request) return;
      const auto* body = m.body.get_if<Tuple>();
      if (body == nullptr || body->items[0] != Value(static_cast<std::int64_t>(Handler::del))) return;
      const auto* boxed = body->items[1].get_if<Tuple>();
      const auto& items = boxed->items[1].get_if<Tuple>()->items;
      const auto& id = items[0].get_if<Tuple>()->items[1].get_if<Tuple>()->items;
      CHECK(items[1] == wire::boxed(1));
      released.push_back(static_cast<std::uint64_t>(*id[2].get_if<std::int64_t>()));
    };
    for (auto& m : others) collect(m);
    while (released.size() < 3) collect(peer.read_message(std::chrono::seconds(2)));
    std::sort(released.begin(), released.end());
    CHECK(released == std::vector<std::uint64_t>{101, 102, 103});
  }
  s.check_canary();
}

// ---------------------------------------------------------------------------------------------
// E. Attribute and exposure policy

TEST_CASE("E1 E3: only exposed names resolve, every other name gets AttributeError and the connection stays") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  std::uint32_t seq = 0;
  const auto ask = [&](Handler h, Value name, std::vector<Value> extra = {}) {
    std::vector<Value> args = {wire::local_ref(root), wire::boxed(std::move(name))};
    for (auto& e : extra) args.push_back(wire::boxed(std::move(e)));
    peer.send_frame(wire::request(++seq, h, std::move(args)));
    return peer.read_reply_to(seq);
  };
  // Exposed: the name and its exposed_ spelling.
  CHECK(ask(Handler::getattr, "ping").type == MsgType::reply);
  CHECK(ask(Handler::getattr, "exposed_ping").type == MsgType::reply);
  auto called = ask(Handler::callattr, "exposed_add", {tuple_of(2, 3)});
  REQUIRE(called.type == MsgType::reply);
  CHECK(called.boxed_item() == Value(5));
  // Not exposed, in every spelling an attacker might try.
  const Value denied[] = {"_x", "__dict__", "__init__", "", std::string(1 << 20, 'a'),
                          std::string("pi\0ng", 5), Value(Bytes{"\xff\xfe"}), "a.b", "ping.__globals__",
                          "exposed_", "exposed__x"};
  for (const auto& name : denied) {
    CAPTURE(name.debug_string(40));
    for (Handler h : {Handler::getattr, Handler::delattr}) {
      auto m = ask(h, name);
      REQUIRE(m.type == MsgType::exception);
      CHECK(m.error().class_name == "AttributeError");
    }
    auto set = ask(Handler::setattr, name, {Value(1)});
    REQUIRE(set.type == MsgType::exception);
    CHECK(set.error().class_name == "AttributeError");
    auto c = ask(Handler::callattr, name, {Value(Tuple{})});
    REQUIRE(c.type == MsgType::exception);
    CHECK(c.error().class_name == "AttributeError");
  }
  // __class__ reads as a stand-in class that names the type and nothing more; it cannot be
  // set, deleted or reached through.
  auto cls = ask(Handler::getattr, "__class__");
  REQUIRE(cls.type == MsgType::reply);
  const IdPack cls_id = cls.lent_id();
  CHECK(cls_id.type_name == "builtins.type");
  for (const char* name : {"__dict__", "__init__", "__subclasses__", "__bases__", "mro"}) {
    CAPTURE(name);
    peer.send_frame(wire::request(++seq, Handler::getattr, {wire::local_ref(cls_id), wire::boxed(name)}));
    auto m = peer.read_reply_to(seq);
    REQUIRE(m.type == MsgType::exception);
    CHECK(m.error().class_name == "AttributeError");
  }
  CHECK(ask(Handler::delattr, "__class__").error().class_name == "AttributeError");
  CHECK(ask(Handler::setattr, "__class__", {Value(1)}).error().class_name == "AttributeError");
  // A chain that reaches through an exposed name to a hidden one.
  peer.send_frame(wire::request(++seq, Handler::getchain,
                                {wire::local_ref(root), wire::boxed(tuple_of("make_counter", "__globals__"))}));
  auto chain = peer.read_reply_to(seq);
  REQUIRE(chain.type == MsgType::exception);
  CHECK(chain.error().class_name == "AttributeError");
  check_alive(peer, ++seq);
  s.check_canary();
}

TEST_CASE("E2: every handler number but the one-way ones gets exactly one answer and none of them closes the connection") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  REQUIRE(s.watch.wait_opened(2));
  std::uint32_t seq = 0;
  for (int h = 0; h <= 255; ++h) {
    if (h == static_cast<int>(Handler::close) || h == static_cast<int>(Handler::del) ||
        h == static_cast<int>(Handler::del_batch) || h == static_cast<int>(Handler::release_results)) {
      continue;  // bookkeeping: they release or close by design (RELEASE_RESULTS: fault/pipeline_fault_test.cpp)
    }
    if (h == 135 || h == 136 || h == 193) {
      continue;  // one-way CALL, CALLATTR, CALLCHAIN: no answer by design (protocol/oneway_test.cpp)
    }
    CAPTURE(h);
    peer.send_frame(wire::request(++seq, h, {wire::local_ref(root), wire::boxed("_hidden")}));
    auto m = peer.read_reply_to(seq);
    if (h == 4 || h == 5 || h == 6 || h == 8 || h == 65 || h == 66) {
      CHECK(m.type == MsgType::exception);  // the name-taking handlers refuse "_hidden"
    }
  }
  check_alive(peer, ++seq);
  s.check_canary();
}

TEST_CASE("E4: setattr and delattr are refused on read-only members and functions, a read-write member takes it") {
  Served<> s({}, true, define_extras);
  auto client = connect("127.0.0.1", s.port());
  auto box = client->root()->attr("make_box")->call();
  CHECK_THROWS_WITH_AS(box->attr("fixed")->set(5), doctest::Contains("read-only"), AttributeError);
  CHECK(box->attr("fixed")->get().as<std::int64_t>() == 1);
  box->attr("free")->set(7);
  CHECK(box->attr("free")->get().as<std::int64_t>() == 7);
  CHECK_THROWS_AS(client->root()->attr("ping")->set(1), AttributeError);
  CHECK_THROWS_AS(client->connection().sync_request(Handler::delattr, {box.value(), Value("free")}), AttributeError);
  CHECK_THROWS_AS(client->connection().sync_request(Handler::delattr, {client->root().value(), Value("ping")}),
                  AttributeError);
  CHECK(client->root()->attr("ping")->call().as<std::string>() == "pong");
  s.check_canary();
}

TEST_CASE("E6: a client enforces the same policy on what it exposes to the server") {
  Registry types;
  Service mine(types);
  mine.def("ok", [] { return std::int64_t{1}; });
  ClientConfig cfg;
  cfg.service = mine;
  RawServer raw(cfg);
  BgServingThread serving(raw.client);
  auto& peer = *raw.peer;
  const IdPack root = root_of(peer, 100);
  std::uint32_t seq = 100;
  for (const char* name : {"_private", "__dict__", ""}) {
    CAPTURE(name);
    peer.send_frame(wire::request(++seq, Handler::getattr, {wire::local_ref(root), wire::boxed(name)}));
    auto m = peer.read_reply_to(seq);
    REQUIRE(m.type == MsgType::exception);
    CHECK(m.error().class_name == "AttributeError");
  }
  peer.send_frame(call(++seq, root, "ok"));
  auto m = peer.read_reply_to(seq);
  REQUIRE(m.type == MsgType::reply);
  CHECK(m.boxed_item() == Value(1));
  CHECK_FALSE(raw.client->closed());
}

// ---------------------------------------------------------------------------------------------
// F. Exceptions over the wire

TEST_CASE("F1: an unknown exception class or a malformed one becomes a generic RemoteError") {
  RawServer raw;
  const auto fail_with = [&](Value vinegar) -> std::exception_ptr {
    auto pending = raw.client->async_request(Handler::ping, {Value(1)});
    auto request = raw.peer->read_message();
    raw.peer->send_frame(wire::exception(request.seq, std::move(vinegar)));
    REQUIRE(pending.wait(std::chrono::seconds(2)));
    return pending.error();
  };
  try {
    std::rethrow_exception(fail_with(wire::vinegar("evil.module", "Nonexistent", {Value("x")})));
  } catch (const AttributeError&) {
    FAIL("mapped to a builtin");
  } catch (const RemoteError& e) {
    CHECK(e.class_name() == "Nonexistent");
    CHECK(e.module() == "evil.module");
  }
  for (Value malformed : {Value(7), tuple_of(1, 2, 3, 4, 5), tuple_of(tuple_of(1, 2), Tuple{}, Tuple{}, "")}) {
    try {
      std::rethrow_exception(fail_with(malformed));
    } catch (const RemoteError& e) {
      CHECK(e.class_name() == "RemoteError");
      CHECK(e.module() == "netref");
    }
  }
  CHECK_FALSE(raw.client->closed());
}

TEST_CASE("F2: a remote message and traceback of a MiB each arrive capped at 64 KiB") {
  RawServer raw;
  auto pending = raw.client->async_request(Handler::ping, {Value(1)});
  auto request = raw.peer->read_message();
  const std::string huge(1 << 20, 'm');
  raw.peer->send_frame(wire::exception(request.seq, wire::vinegar("builtins", "ValueError", {Value(huge)}, huge)));
  REQUIRE(pending.wait(std::chrono::seconds(2)));
  try {
    std::rethrow_exception(pending.error());
  } catch (const ValueError& e) {
    CHECK(e.message().size() <= exception_codec::max_text_bytes);
    CHECK(e.message().ends_with("[truncated]"));
    CHECK(e.remote_traceback().size() <= exception_codec::max_text_bytes);
  }
}

TEST_CASE("F2: a handler's MiB-long error message reaches the client capped, and the server carries on") {
  Served<> s({}, true, define_extras);
  auto client = connect("127.0.0.1", s.port());
  try {
    client->root()->attr("long_error")->call(1 << 20);
    FAIL("no exception");
  } catch (const ValueError& e) {
    CHECK(e.message().size() <= exception_codec::max_text_bytes);
  }
  CHECK(client->root()->attr("add")->call(1, 1).as<std::int64_t>() == 2);
  s.check_canary();
}

TEST_CASE("F3: an exception nested ten thousand levels deep closes the connection without overflowing the stack") {
  RawServer raw;
  auto pending = raw.client->async_request(Handler::ping, {Value(1)});
  auto request = raw.peer->read_message();
  ByteVec payload = {static_cast<std::uint8_t>(MsgType::exception), 0x11};
  brine::encode_int(request.seq, payload);
  payload.insert(payload.end(), 10000, 0x10);  // 1-tuples, ten thousand deep
  payload.push_back(0x00);
  raw.peer->send_frame(payload);
  REQUIRE(pending.wait(std::chrono::seconds(2)));
  CHECK_THROWS_AS(std::rethrow_exception(pending.error()), ConnectionClosed);
  CHECK(what_of(raw.client->close_error()).find("deeper than") != std::string::npos);
}

TEST_CASE("F4: invalid UTF-8, NUL and escapes in a handler's error reach the client as valid text") {
  Served<> s({}, true, define_extras);
  auto client = connect("127.0.0.1", s.port());
  try {
    client->root()->attr("dirty_error")->call();
    FAIL("no exception");
  } catch (const RemoteError& e) {
    CHECK(brine::is_valid_utf8(e.message()));
    CHECK(e.message().find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD for the bad byte
    CHECK(e.message().find(std::string("NUL \0 and \x1b[31mred", 17)) != std::string::npos);  // the rest intact
  }
  CHECK(client->root()->attr("add")->call(1, 1).as<std::int64_t>() == 2);
}

TEST_CASE("F4: peer bytes quoted in a close reason or an attribute error are escaped, never raw") {
  Served<> s;
  const std::string dirty("\x1b[2J\0\xff", 6);
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  const std::string no_nul = "\x1b[2J\x07\xff";  // a NUL in a name is refused before it is quoted
  peer.send_frame(wire::request(1, Handler::getattr, {wire::local_ref(root), wire::boxed(Value(Bytes{no_nul}))}));
  auto m = peer.read_reply_to(1);
  REQUIRE(m.type == MsgType::exception);
  CAPTURE(m.error().message());
  CHECK(m.error().message().find("\\x1b[2J\\x07\\xff") != std::string::npos);
  // A malformed envelope quoting the peer's bytes: the connection's close reason.
  ByteVec payload = {static_cast<std::uint8_t>(MsgType::request)};
  brine::encode(Value(Bytes{dirty}), payload);
  peer.send_frame(payload);
  CHECK(peer.closed_within(std::chrono::seconds(1)));
  REQUIRE(s.watch.wait_closed(1));
  const std::string reason = s.watch.reasons().front();
  CHECK(reason.find("\\x1b") != std::string::npos);
  CHECK(reason.find('\x1b') == std::string::npos);
  CHECK(reason.find('\0') == std::string::npos);
}


TEST_CASE("F5: an error that mentions a netref is rendered without a call back to its owner") {
  Served<> s({}, true, define_extras);
  auto client = connect("127.0.0.1", s.port());
  const ObjectPtr fn = local(std::function<std::int64_t(std::int64_t)>([](std::int64_t x) { return x; }));
  const auto served_before = client->connection().stats().requests_served;
  try {
    client->root()->attr("blame")->call(fn);
    FAIL("no exception");
  } catch (const ValueError& e) {
    REQUIRE(e.info().args.size() == 2);
    CHECK(e.info().args[1].kind() == Value::Kind::string);  // a rendering, not a reference
  }
  // The server asked nothing of our callable (no REPR or STR round trip while describing).
  CHECK(client->connection().stats().requests_served == served_before);
  s.check_canary();
}

TEST_CASE("C8: seqs wrap from 2^32-1 to 0 with calls in flight across the wrap, every reply reaching its own call") {
  Lab lab;
  ThreadPoolServer server(lab.service, loopback_config());
  server.start();
  auto client = connect("127.0.0.1", server.port());
  auto root = client->root();
  detail::ConnectionAccess::set_next_seq(client->connection(), 0xFFFFFFF0u);  // 16 requests before the wrap
  // 40 calls in flight at once: their seqs run from before the wrap to after it.
  std::vector<AsyncCall> pipelined;
  for (std::int64_t i = 0; i < 40; ++i) pipelined.push_back(root->attr("add")->async_call(i, 1000));
  for (std::int64_t i = 0; i < 40; ++i) {
    REQUIRE(pipelined[static_cast<std::size_t>(i)].wait(std::chrono::seconds(5)));
    CHECK(pipelined[static_cast<std::size_t>(i)].value().as<std::int64_t>() == i + 1000);
  }
  for (std::int64_t i = 0; i < 20; ++i) CHECK(root->attr("add")->call(i, 7).as<std::int64_t>() == i + 7);
  const auto stats = client->connection().stats();
  CHECK(stats.pending_requests == 0);
  CHECK(stats.late_replies == 0);
  CHECK_FALSE(client->closed());
}
