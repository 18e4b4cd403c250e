// docs/FAULTS.md J8 (TLS cut mid-reply) and K (short soaks): the bounded versions CI runs.
// The million-call soaks live in bench/.
#include <doctest/doctest.h>

#include "fault/fault.hpp"
#include "fault/faultproxy.hpp"
#include "tls/certs.hpp"

using namespace netref;
using namespace netref::test;

TEST_CASE("J8: a TLS stream cut mid-reply, without close_notify or by a reset, fails the call") {
  Served<> s([](ServerConfig& c) {
    TlsServerOptions tls;
    tls.certificate = cert("server-a");
    tls.private_key = key("server-a");
    c.tls = TlsContext::server(tls);
    c.channel.compress = false;
  }, false);
  FaultProxy proxy(s.port());
  TlsClientOptions trust;
  trust.ca = cert("ca-a");
  trust.server_name = "localhost";
  ClientConfig cfg;
  cfg.tls = TlsContext::client(trust);
  cfg.channel.compress = false;
  const std::string big(256 * 1024, 't');
  for (bool reset : {false, true}) {
    CAPTURE(reset);
    auto client = connect("127.0.0.1", proxy.port(), cfg);
    auto echo = client->root()->attr("echo");
    CHECK(echo->call(std::string("warm")).as<std::string>() == "warm");
    // Past the request (256 KiB up), into the reply (256 KiB down).
    if (reset) {
      proxy.reset_in(Direction::downstream, 100 * 1024);
    } else {
      proxy.truncate_in(Direction::downstream, 100 * 1024);
    }
    CHECK_THROWS_AS(echo->call(big), ConnectionClosed);
    CHECK(client->closed());
  }
  // And the server carries on for a client that goes straight to it.
  CHECK(connect("localhost", s.port(), cfg)->root()->attr("add")->call(1, 2).as<std::int64_t>() == 3);
}

TEST_CASE("K1: thousands of calls each returning a fresh netref dropped at once leave nothing lent") {
  Served<> s;
  auto client = connect("127.0.0.1", s.port());
  auto root = client->root();
  REQUIRE(s.watch.wait_opened(2));
  auto conn = s.watch.connection(1);
  auto make = root->attr("make_counter");
  const int n = scaled(20000, 5);
  for (int i = 0; i < n; ++i) {
    if (!make->call(i).is_netref()) FAIL("not a netref at " << i);  // and dropped at once
  }
  client->ping();  // carries any DEL still queued
  CHECK(eventually([&] { return conn->stats().lent_objects == 1; }));  // the root alone
  CHECK(client->connection().stats().netrefs_held == 1);
  CHECK(client->connection().stats().pending_requests == 0);
  CHECK(s.server->stats().lent_objects == 2);  // ours and the canary's root
  s.check_canary();
}

TEST_CASE("K2: thousands of calls that each throw leave no growth behind") {
  Served<> s({}, true, [](Lab& lab) {
    lab.service.def("fail", [](std::int64_t i) -> std::int64_t { throw std::out_of_range("no item " + std::to_string(i)); });
  });
  auto client = connect("127.0.0.1", s.port());
  auto fail = client->root()->attr("fail");
  const auto throw_some = [&](int from, int count) {
    for (int i = from; i < from + count; ++i) {
      try {
        fail->call(i);
        FAIL("no exception");
      } catch (const IndexError& e) {
        if (e.message() != "no item " + std::to_string(i)) FAIL("wrong message " << e.message());
      }
    }
  };
  const int n = scaled(20000, 5);
  throw_some(0, n / 10);
  const long rss = status_kib("VmRSS");
  const int fds = fd_count();
  const int threads = thread_count();
  throw_some(n / 10, n - n / 10);
  CHECK(fd_count() == fds);
  CHECK(thread_count() == threads);
  CHECK(client->connection().stats().pending_requests == 0);
  CHECK(s.server->stats().lent_objects == 2);
  CHECK(s.server->stats().running_handlers <= 1);
  if (!kSanitized) CHECK(status_kib("VmRSS") - rss < 4 * 1024);  // ASan's quarantine grows by design
  s.check_canary();
}
