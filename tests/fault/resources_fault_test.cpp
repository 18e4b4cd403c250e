// docs/FAULTS.md G (resources and concurrency), bounded for CI: connection churn leaves no
// descriptor or thread behind, cancelled calls cannot pile up handlers, slowloris and silent
// TLS peers are cut at their timeouts, and threads sharing one connection each get their
// own replies.
#include <doctest/doctest.h>

#include <future>

#include "fault/fault.hpp"
#include "tls/certs.hpp"

using namespace netref;
using namespace netref::test;
using wire::ByteVec;

namespace {

TlsContext server_tls() {
  TlsServerOptions tls;
  tls.certificate = cert("server-a");
  tls.private_key = key("server-a");
  return TlsContext::server(tls);
}

ClientConfig tls_client() {
  TlsClientOptions tls;
  tls.ca = cert("ca-a");
  tls.server_name = "localhost";
  ClientConfig cfg;
  cfg.tls = TlsContext::client(tls);
  return cfg;
}

}  // namespace

TEST_CASE_TEMPLATE("G3: connect/close cycles, with and without a partial frame or a reset, leave no descriptor or thread behind",
                   Server, ThreadPoolServer, ThreadedServer) {
  Served<Server> s;
  const std::uint16_t port = s.port();
  const auto settle = [&] {
    return eventually([&] { return s.server->connection_count() == 1; }, std::chrono::seconds(10));
  };
  const auto cycle = [&](int i) {
    switch (i % 4) {
      case 0: {
        Client c = connect("127.0.0.1", port);
        CHECK(c->root()->attr("add")->call(i, 1).as<std::int64_t>() == i + 1);
        c->close();
        break;
      }
      case 1:
        RawPeer::tcp(port).close();
        break;
      case 2: {
        RawPeer p = RawPeer::tcp(port);
        p.send(wire::header(100));
        p.send({1, 2, 3});
        break;
      }
      default: {
        RawPeer p = RawPeer::tcp(port);
        p.send(wire::header(100));
        p.reset();
      }
    }
  };
  for (int i = 0; i < 8; ++i) cycle(i);  // warm every path (lazy threads, TLS-free caches)
  REQUIRE(settle());
  REQUIRE(eventually([&] { return s.server->stats().accepted >= 9; }));
  const int fds = fd_count();
  const int threads = thread_count();
  const auto accepted = s.server->stats().accepted;
  const int n = scaled(400);
  for (int i = 0; i < n; ++i) cycle(i);
  CHECK(eventually([&] { return s.server->stats().accepted == accepted + static_cast<std::uint64_t>(n); }));
  CHECK(settle());
  // No growth (the baseline may still hold a thread of a warm-up connection on its way out).
  CHECK(eventually([&] { return fd_count() <= fds; }));
  CHECK(eventually([&] { return thread_count() <= threads; }));
  CHECK(s.server->stats().lent_objects == 1);  // the canary's root
  s.check_canary();
}

TEST_CASE("G5: rapid cancel: calls abandoned after 1 ms keep at most one handler running per connection") {
  Served<> s;
  auto client = plain_client(s.port());
  auto root = client->root();
  REQUIRE(s.watch.wait_opened(2));
  auto conn = s.watch.connection(1);
  const int n = scaled(200);
  std::size_t most_running = 0;
  for (int i = 0; i < n; ++i) {
    CHECK_THROWS_AS(client->sync_request(Handler::callattr, {Value(root), Value("block"), Value(Tuple{})},
                                         std::chrono::milliseconds(1)),
                    Timeout);
    most_running = std::max(most_running, conn->stats().running_handlers);
  }
  CHECK(most_running <= 1);
  CHECK(s.server->stats().running_handlers <= 2);  // ours and, at most, the canary's ping
  s.check_canary();
  s.lab.gate.open();
  // Every abandoned call still runs once, and its reply is dropped as late.
  const auto end = Clock::now() + std::chrono::seconds(20);
  while (client->stats().late_replies < static_cast<std::uint64_t>(n) && Clock::now() < end) {
    client->serve(std::chrono::milliseconds(20));
  }
  CHECK(client->stats().late_replies == static_cast<std::uint64_t>(n));
  CHECK(client->stats().pending_requests == 0);
  CHECK(eventually([&] { return conn->stats().running_handlers == 0; }));  // the last reply goes out first
  CHECK(std::get<std::int64_t>(client->sync_request(Handler::callattr, {Value(root), Value("add"), Value(tuple_of(2, 3))}).storage()) == 5);
}

TEST_CASE_TEMPLATE("G7: slowloris: frames trickling a byte at a time are cut at the frame timeout", Server,
                   ThreadPoolServer, ThreadedServer) {
  Served<Server> s([](ServerConfig& c) { c.channel.frame_timeout = std::chrono::milliseconds(300); });
  const int n = scaled(20, 2);
  const ByteVec frame = wire::frame(wire::request(0, Handler::ping, {wire::boxed(Value(std::string(200, 'z')))}));
  std::vector<RawPeer> peers;
  const std::uint16_t port = s.port();
  for (int i = 0; i < n; ++i) peers.push_back(RawPeer::tcp(port));
  std::vector<bool> closed(static_cast<std::size_t>(n), false);
  const auto start = Clock::now();
  int open = n;
  for (std::size_t at = 0; open > 0 && at < frame.size() && Clock::now() - start < std::chrono::seconds(5); ++at) {
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (closed[i]) continue;
      try {
        peers[i].send({frame[at]});
      } catch (const ConnectionClosed&) {
      }
      if (peers[i].closed_within(std::chrono::milliseconds(1))) {
        closed[i] = true;
        --open;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(40));  // the trickle itself
  }
  CHECK(open == 0);  // each one cut although bytes kept coming
  CHECK(Clock::now() - start >= std::chrono::milliseconds(250));
  CHECK(s.watch.wait_closed(static_cast<std::size_t>(n)));
  for (const auto& r : s.watch.reasons()) CHECK(r.find("frame not complete") != std::string::npos);
  CHECK(s.idle_after_canary());
}

TEST_CASE_TEMPLATE("G8: a TLS client that connects and stays silent is closed at the handshake or first-frame timeout",
                   Server, ThreadPoolServer, ThreadedServer) {
  // Each timeout under test is short; the other one is long, so that a handshake slowed by
  // a loaded machine (or a sanitizer) is never mistaken for the silence being tested.
  LogSink log;
  Lab lab;
  const auto short_wait = std::chrono::milliseconds(kSanitized ? 600 : 300);
  const auto long_wait = std::chrono::milliseconds(10000);
  auto cfg = loopback_config(&log);
  cfg.tls = server_tls();
  std::string silence;
  SUBCASE("silent before the handshake") {
    silence = "handshake";
    cfg.handshake_timeout = short_wait;
    cfg.first_frame_timeout = long_wait;
  }
  SUBCASE("silent after the handshake") {
    silence = "first frame";
    cfg.handshake_timeout = long_wait;
    cfg.first_frame_timeout = short_wait;
  }
  CAPTURE(silence);
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port, tls_client());
  REQUIRE(canary.wait_calls(1));
  std::optional<RawPeer> silent;
  if (silence == "handshake") {
    silent.emplace(RawPeer::tcp(port));
  } else {
    TlsClientOptions trust;
    trust.ca = cert("ca-a");
    silent.emplace(RawPeer::tls("localhost", port, TlsContext::client(trust)));
  }
  const auto start = Clock::now();
  CHECK(silent->closed_within(std::chrono::seconds(5)));
  CHECK(Clock::now() - start >= short_wait - std::chrono::milliseconds(100));
  if (silence == "handshake") {
    CHECK(eventually([&] { return server.stats().handshake_failures == 1; }));
  } else {
    CHECK(server.stats().handshake_failures == 0);
  }
  CHECK(canary.wait_calls(3));
  CHECK(canary.failure() == "");
}

TEST_CASE("G11: eight threads sharing one connection each get their own replies") {
  Served<> s({}, false);
  auto client = connect("127.0.0.1", s.port());
  auto root = client->root();
  const int calls = scaled(10000, 5);
  std::vector<std::future<int>> wrong;
  for (int t = 0; t < 8; ++t) {
    wrong.push_back(std::async(std::launch::async, [&, t] {
      auto add = root->attr("add");
      int mismatches = 0;
      for (int k = 0; k < calls; ++k) {
        const std::int64_t base = std::int64_t{t} * 1000000;
        if (add->call(base, k).as<std::int64_t>() != base + k) ++mismatches;
      }
      return mismatches;
    }));
  }
  for (auto& w : wrong) CHECK(w.get() == 0);
  CHECK(client->connection().stats().pending_requests == 0);
  CHECK(client->connection().stats().late_replies == 0);
}

namespace {

ByteVec ping_frame(std::uint32_t seq) { return wire::frame(wire::request(seq, Handler::ping, {wire::boxed(Value(static_cast<std::int64_t>(seq)))})); }

/// Sends a PING and waits for its echo.
void ping_round_trip(RawPeer& peer, std::uint32_t seq) {
  peer.send(ping_frame(seq));
  const auto m = peer.read_reply_to(seq);
  REQUIRE(m.type == MsgType::reply);
  CHECK(m.boxed_item() == Value(static_cast<std::int64_t>(seq)));
}

}  // namespace

TEST_CASE_TEMPLATE("G9: a ping flood is cut off after three strikes with \"too many pings\", the canary unaffected", Server,
                   ThreadPoolServer, ThreadedServer) {
  Served<Server> s;
  auto peer = RawPeer::tcp(s.port());
  // A burst within the cap (ten a second, bursts of ten) is answered.
  const auto first_ping = Clock::now();
  for (std::uint32_t seq = 0; seq < 10; ++seq) ping_round_trip(peer, seq);
  // Then 10^4 pings in one go, far past 10^4 a second.
  ByteVec flood;
  for (std::uint32_t seq = 10; seq < 10010; ++seq) {
    const ByteVec f = ping_frame(seq);
    flood.insert(flood.end(), f.begin(), f.end());
  }
  const auto start = Clock::now();
  try {
    peer.send(flood);
  } catch (const ConnectionClosed&) {
    // cut off while the flood was still going out
  }
  int answered = 0;
  try {
    while (peer.read_frame(std::chrono::seconds(2))) ++answered;
  } catch (const ConnectionClosed&) {
  }
  CHECK(Clock::now() - start < std::chrono::seconds(1));
  // Answered at most: the two strikes that did not close, and what the bucket refilled.
  const double seconds = std::chrono::duration<double>(Clock::now() - first_ping).count();
  CHECK(answered <= 2 + static_cast<int>(10 * seconds) + 1);
  CHECK(s.watch.wait_reason("too many pings"));
  CHECK(eventually([&] { return s.server->stats().closed[CloseReason::pings] == 1; }));
  s.check_canary();
}

TEST_CASE("G9: a peer pinging below the cap, each ping waiting for its answer, is never cut off") {
  Served<> s;
  auto peer = RawPeer::tcp(s.port());
  // Eight a second for two seconds: sixteen pings, more than the burst and the strikes
  // together, so only a bucket that refills keeps this connection.
  const auto start = Clock::now();
  for (std::uint32_t seq = 0; seq < 16; ++seq) {
    std::this_thread::sleep_until(start + seq * std::chrono::milliseconds(125));  // the rate under test
    ping_round_trip(peer, seq);
  }
  CHECK(s.server->stats().closed.count(CloseReason::pings) == 0);
  CHECK(s.watch.closed_count() == 0);
  s.check_canary();
}

TEST_CASE("G9: a netref client's keepalive at the shortest interval the cap allows is never taken for a flood") {
  Served<> s;
  ClientConfig cfg;
  cfg.connection.keepalive_interval = std::chrono::milliseconds(100);  // 10 a second: the default cap
  cfg.connection.keepalive_timeout = std::chrono::seconds(2);
  auto client = connect("127.0.0.1", s.port(), cfg);
  BgServingThread serving(client.connection_ptr());  // reads the echoes: unread, the server would seem dead
  REQUIRE(s.watch.wait_opened(2));
  auto server_side = s.watch.connection(1);  // 0 is the canary's
  REQUIRE(server_side);
  const auto served_before = server_side->stats().requests_served;
  // Fifteen keepalive pings: past the burst and the strikes a flood would be allowed.
  CHECK(eventually([&] { return server_side->stats().requests_served >= served_before + 15; }, std::chrono::seconds(10)));
  CHECK_FALSE(client->closed());
  CHECK_FALSE(server_side->closed());
  CHECK(s.server->stats().closed.count(CloseReason::pings) == 0);
  s.check_canary();
}
