// docs/FAULTS.md H (liveness, peer death, restart): a peer that vanishes mid-call, a link
// that resets or stalls, a half-close, a restarted server. Peer death is a reset from the
// fault proxy (what the kernel does for a killed process), so no process is forked.
#include <doctest/doctest.h>

#include <algorithm>
#include <future>

#include "fault/fault.hpp"
#include "fault/faultproxy.hpp"

using namespace netref;
using namespace netref::test;
using wire::ByteVec;

namespace {

/// The type of exception an AsyncCall ended with: "closed", "timeout", "remote", "none".
std::string failure_kind(const AsyncCall& call) {
  if (!call.error()) return "none";
  try {
    std::rethrow_exception(call.error());
  } catch (const ConnectionClosed&) {
    return "closed";
  } catch (const Timeout&) {
    return "timeout";
  } catch (const RemoteError&) {
    return "remote";
  } catch (...) {
    return "other";
  }
}

}  // namespace

TEST_CASE("H1 D8: a client that dies during a handler: the server survives, frees its objects and serves on") {
  Served<> s;
  FaultProxy proxy(s.port());
  auto client = connect("127.0.0.1", proxy.port());
  auto root = client->root();
  std::vector<Proxy> held;
  for (int i = 0; i < 10; ++i) held.push_back(root->attr("make_counter")->call(i));
  CHECK(s.server->stats().lent_objects == 12);  // the canary's root, ours, ten counters
  auto running = root->attr("block")->async_call();
  REQUIRE(s.lab.blocked.wait_for(1));
  proxy.reset_all();  // the client is gone, no goodbye
  REQUIRE(proxy.wait_finished(1, std::chrono::seconds(2)));
  // The server learns of it when the handler ends (nobody reads a connection while its
  // request runs): the reply has nowhere to go (ECONNRESET or EPIPE, and no SIGPIPE).
  s.lab.gate.open();
  CHECK(s.watch.wait_closed(1));
  CHECK(eventually([&] { return s.server->stats().lent_objects == 1; }));
  CHECK(eventually([&] { return s.server->stats().running_handlers == 0 && s.server->connection_count() == 1; }));
  REQUIRE(running.wait(std::chrono::seconds(5)));
  CHECK(failure_kind(running) == "closed");
  s.check_canary();
  CHECK(connect("127.0.0.1", s.port())->root()->attr("add")->call(1, 2).as<std::int64_t>() == 3);
}

TEST_CASE("H2: a server that dies mid-call fails every pending call at once, resends nothing, and its netrefs go stale") {
  Served<> s;
  FaultProxy proxy(s.port());
  auto client = connect("127.0.0.1", proxy.port());
  auto root = client->root();
  auto counter = root->attr("make_counter")->call(1);
  std::vector<AsyncCall> pending;
  pending.push_back(root->attr("block")->async_call());
  REQUIRE(s.lab.blocked.wait_for(1));
  pending.push_back(root->attr("append")->async_call(7));   // queued behind block
  pending.push_back(counter->attr("add")->async_call(1));
  const auto frames_out = client->connection().stats().frames_out;
  const auto start = Clock::now();
  proxy.reset_all();
  for (auto& call : pending) {
    REQUIRE(call.wait(std::chrono::seconds(2)));
    CHECK(failure_kind(call) == "closed");
  }
  CHECK(Clock::now() - start < std::chrono::seconds(1));
  CHECK(client->connection().stats().pending_requests == 0);
  CHECK_THROWS_AS(counter->attr("add")->call(1), ConnectionClosed);  // a stale netref
  CHECK_THROWS_AS(root->attr("ping")->call(), ConnectionClosed);
  CHECK(client->connection().stats().frames_out == frames_out);  // nothing was sent again
  s.lab.gate.open();
  auto fresh = connect("127.0.0.1", s.port());
  const auto log = fresh->root()->attr("appended")->call().as<std::vector<std::int64_t>>();
  CHECK(std::count(log.begin(), log.end(), 7) <= 1);  // at most once
  s.check_canary();
}

TEST_CASE("H3: a link that goes silent both ways: the call deadline fires, or keepalive closes sooner") {
  Served<> s;
  FaultProxy proxy(s.port());
  SUBCASE("without keepalive the call's own deadline bounds it") {
    auto client = plain_client(proxy.port());
    auto root = client->root();
    proxy.stall_in(Direction::upstream, 0);
    proxy.stall_in(Direction::downstream, 0);
    REQUIRE(proxy.wait_faults(2, std::chrono::seconds(2)));
    const auto start = Clock::now();
    CHECK_THROWS_AS(client->sync_request(Handler::callattr, {Value(root), Value("ping"), Value(Tuple{})},
                                         std::chrono::milliseconds(300)),
                    Timeout);
    CHECK(Clock::now() - start >= std::chrono::milliseconds(250));
    CHECK(Clock::now() - start < std::chrono::seconds(2));
  }
  SUBCASE("keepalive notices within its bound and fails the call with ConnectionClosed") {
    ClientConfig cfg;
    cfg.connection.keepalive_interval = std::chrono::milliseconds(100);
    cfg.connection.keepalive_timeout = std::chrono::milliseconds(200);
    auto client = plain_client(proxy.port(), cfg);
    auto root = client->root();
    proxy.stall_in(Direction::upstream, 0);
    proxy.stall_in(Direction::downstream, 0);
    REQUIRE(proxy.wait_faults(2, std::chrono::seconds(2)));
    const auto start = Clock::now();
    CHECK_THROWS_WITH_AS(client->sync_request(Handler::callattr, {Value(root), Value("ping"), Value(Tuple{})},
                                              std::chrono::seconds(30)),
                         doctest::Contains("keepalive"), ConnectionClosed);
    CHECK(Clock::now() - start < std::chrono::seconds(2));
  }
  s.check_canary();
}

TEST_CASE_TEMPLATE("H4: a client that half-closes after its request still gets the reply, then the close", Server,
                   ThreadPoolServer, ThreadedServer) {
  Served<Server> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  peer.send_frame(wire::request(1, Handler::callattr,
                                {wire::local_ref(root), wire::boxed("block"), wire::boxed(Value(Tuple{}))}));
  peer.shutdown_write();
  REQUIRE(s.lab.blocked.wait_for(1));
  s.lab.gate.open();
  auto reply = peer.read_reply_to(1);
  REQUIRE(reply.type == MsgType::reply);
  CHECK(reply.boxed_item() == Value("released"));
  CHECK(peer.closed_within(std::chrono::seconds(2)));
  CHECK(eventually([&] { return s.server->connection_count() == 1; }));
  s.check_canary();
}

TEST_CASE("H4: a half-close made by the fault proxy right after a request still delivers the reply") {
  Served<> s;
  const ByteVec ping = wire::frame(wire::request(0, Handler::ping, {wire::boxed(Value("still here"))}));
  FaultPlan up;
  up.half_close_after = ping.size();
  FaultProxy proxy(s.port(), up);
  auto peer = RawPeer::tcp(proxy.port());
  peer.send(ping);
  auto reply = peer.read_reply_to(0);
  CHECK(reply.boxed_item() == Value("still here"));
  CHECK(peer.closed_within(std::chrono::seconds(2)));
  CHECK(proxy.wait_finished(1, std::chrono::seconds(2)));
  s.check_canary();
}

TEST_CASE("H5: a reset in the middle of a frame frees the connection and what it held") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  const IdPack root = root_of(peer);
  peer.send_frame(wire::request(1, Handler::callattr,
                                {wire::local_ref(root), wire::boxed("make_counter"), wire::boxed(tuple_of(1))}));
  peer.read_reply_to(1);
  CHECK(s.server->stats().lent_objects == 3);  // the canary's root, ours, the counter
  const ByteVec half = wire::header(500);
  peer.send(half);
  peer.send(ByteVec(100, 'h'));
  peer.reset();
  CHECK(s.watch.wait_closed(1));
  CHECK(eventually([&] { return s.server->stats().lent_objects == 1 && s.server->connection_count() == 1; }));
  s.check_canary();
}

TEST_CASE("H5 J8: a reply cut mid-frame by FIN or RST fails the pending call, never a silent success") {
  Served<> s([](ServerConfig& c) { c.channel.compress = false; });
  FaultProxy proxy(s.port());
  const std::string big(256 * 1024, 'r');
  for (bool reset : {false, true}) {
    CAPTURE(reset);
    auto client = connect("127.0.0.1", proxy.port());
    auto echo = client->root()->attr("echo");
    CHECK(echo->call(std::string("warm")).as<std::string>() == "warm");
    if (reset) {
      proxy.reset_in(Direction::downstream, 64 * 1024);
    } else {
      proxy.truncate_in(Direction::downstream, 64 * 1024);
    }
    CHECK_THROWS_AS(echo->call(big), ConnectionClosed);
    CHECK(client->closed());
  }
  s.check_canary();
}

TEST_CASE("H6: a server restarted on the same port: old netrefs raise, a new connection works, nothing is replayed") {
  Lab first_lab;
  auto cfg = loopback_config();
  auto first = std::make_unique<ThreadPoolServer>(first_lab.service, cfg);
  first->start();
  const std::uint16_t port = first->port();
  auto client = connect("127.0.0.1", port);
  auto root = client->root();
  auto counter = root->attr("make_counter")->call(1);
  auto pending = root->attr("block")->async_call();
  REQUIRE(first_lab.blocked.wait_for(1));
  auto stopping = std::async(std::launch::async, [&] { first->stop(); });
  REQUIRE(pending.wait(std::chrono::seconds(5)));
  CHECK(failure_kind(pending) == "closed");
  first_lab.gate.open();
  REQUIRE(stopping.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  first.reset();

  Lab second_lab;
  cfg.port = port;
  ThreadPoolServer second(second_lab.service, cfg);
  second.start();
  CHECK_THROWS_AS(counter->attr("add")->call(1), ConnectionClosed);
  CHECK_THROWS_AS(root->attr("append")->call(5), ConnectionClosed);
  auto fresh = connect("127.0.0.1", port);
  CHECK(fresh->root()->attr("add")->call(2, 2).as<std::int64_t>() == 4);
  CHECK(fresh->root()->attr("appended")->call().as<std::vector<std::int64_t>>().empty());
  CHECK(second.stats().accepted == 1);  // the old client did not reconnect on its own
}

TEST_CASE("H10: a slow, jittery link that also splits writes: every call finishes within its deadline") {
  Served<> s;
  FaultPlan flaky;
  flaky.delay = std::chrono::milliseconds(3);
  flaky.jitter = std::chrono::milliseconds(2);
  flaky.split = true;
  flaky.split_gap = std::chrono::microseconds(20);
  FaultProxy proxy(s.port(), flaky, flaky);
  ClientConfig cfg;
  cfg.connection.sync_request_timeout = std::chrono::seconds(5);
  auto client = connect("127.0.0.1", proxy.port(), cfg);
  auto root = client->root();
  const int n = scaled(40, 2);
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    auto counter = root->attr("make_counter")->call(i);
    CHECK(counter->attr("add")->call(1).as<std::int64_t>() == i + 1);
    CHECK(Clock::now() - start < std::chrono::seconds(5));
  }
  REQUIRE(s.watch.wait_opened(2));
  auto conn = s.watch.connection(1);
  CHECK(eventually([&] { return conn->stats().lent_objects == 1; }));
  s.check_canary();
}

TEST_CASE("I6: connecting to a port nobody listens on fails at once with ConnectError") {
  const std::uint16_t closed_port = listen_tcp("127.0.0.1", 0)->port();  // bound, then released
  ClientConfig cfg;
  cfg.connect_timeout = std::chrono::seconds(1);
  const auto start = Clock::now();
  CHECK_THROWS_AS(connect("127.0.0.1", closed_port, cfg), ConnectError);
  CHECK(Clock::now() - start < std::chrono::milliseconds(500));
}
