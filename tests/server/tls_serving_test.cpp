// Servers over TLS (docs/FAULTS.md J1-J7 at the server): mutual TLS with the client's
// identity in on_connect, and each bad client failing clearly within a bound while a
// well-behaved TLS client keeps getting answers.
#include <doctest/doctest.h>

#include <future>

#include "server/lab.hpp"
#include "tls/mutual_tls.hpp"

using namespace netref;
using namespace netref::test;

namespace {

ServerConfig tls_config(LogSink& log, bool require_client_certificate = true) {
  auto cfg = loopback_config(&log);
  cfg.tls = mutual_tls_server(require_client_certificate);
  cfg.handshake_timeout = 300ms;
  return cfg;
}

ClientConfig client_as(const std::string& who, const std::string& trusted_ca = "ca-a") {
  return tls_client_as(who, 5s, trusted_ca);
}

/// The message of the error a first call through a new client ends with, or "" if none.
std::string failure_of_first_call(std::uint16_t port, const ClientConfig& cfg, const std::string& host = "localhost") {
  try {
    auto client = connect(host, port, cfg);
    client->root()->attr("ping")->call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE_TEMPLATE("mutual TLS: the client's certificate subject is its identity in on_connect and in calls",
                   Server, ThreadedServer, ThreadPoolServer) {
  Lab lab;
  LogSink log;
  std::promise<std::string> seen;
  lab.service.on_connect([&](Connection& c) { seen.set_value(c.peer_identity()); });
  Server server(lab.service, tls_config(log));
  server.start();
  const std::uint16_t port = server.port();
  auto client = connect("localhost", port, client_as("client-alice"));
  const auto identity = client->root()->attr("whoami")->call().as<std::string>();
  CHECK(identity.find("CN=alice") != std::string::npos);
  CHECK(seen.get_future().get() == identity);
  CHECK(client->root()->attr("add")->call(40, 2).as<std::int64_t>() == 42);
}

TEST_CASE_TEMPLATE("over TLS a handler calls back into its client and answers, and a large reply arrives whole",
                   Server, ThreadedServer, ThreadPoolServer) {
  Lab lab;
  LogSink log;
  Server server(lab.service, tls_config(log));
  server.start();
  const std::uint16_t port = server.port();
  Client client = connect("localhost", port, client_as("client-alice"));
  const auto doubled = local(std::function<std::int64_t(std::int64_t)>([](std::int64_t x) { return 2 * x; }));
  CHECK(client->root()->attr("apply")->call(doubled, 21).as<std::int64_t>() == 42);
  const std::string big(3u << 20, 'y');  // several TLS records, more than a socket buffer at once
  CHECK(client->root()->attr("echo")->call(big).as<std::string>() == big);
  CHECK(client->root()->attr("apply")->call(doubled, 4).as<std::int64_t>() == 8);
}

TEST_CASE_TEMPLATE("bad TLS clients fail clearly and fast while a good one keeps its answers", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  LogSink log;
  Server server(lab.service, tls_config(log));
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port, client_as("client-alice"), "localhost");
  REQUIRE(canary.wait_calls(2));

  SUBCASE("a client that trusts another CA refuses the server") {
    CHECK(failure_of_first_call(port, client_as("client-alice", "ca-b")).find("certificate verify failed") !=
          std::string::npos);
  }
  SUBCASE("a client without a certificate is turned away, and the server says why") {
    CHECK_FALSE(failure_of_first_call(port, client_as("")).empty());
    const auto end = Clock::now() + 5s;
    while (!log.contains("certificate") && Clock::now() < end) std::this_thread::sleep_for(10ms);
    CHECK(log.contains("certificate"));
  }
  SUBCASE("a client certificate from another CA is turned away") {
    CHECK_FALSE(failure_of_first_call(port, client_as("client-b")).empty());
  }
  SUBCASE("an expired client certificate is turned away") {
    CHECK_FALSE(failure_of_first_call(port, client_as("client-expired")).empty());
  }
  SUBCASE("plaintext RPC on the TLS port is closed within a second") {
    auto plain = connect_tcp("127.0.0.1", port);
    const std::uint8_t frame[] = {0, 0, 0, 3, 0, 'a', 'b', 'c', '\n'};
    plain->write_all(frame);
    const auto start = Clock::now();
    CHECK(closed_by_peer_within(*plain, 5s));
    CHECK(Clock::now() - start < 1s);
  }
  SUBCASE("a handshake that stalls is dropped at the handshake timeout") {
    auto stalled = connect_tcp("127.0.0.1", port);
    const std::uint8_t hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03};
    stalled->write_all(hello_start);
    const auto start = Clock::now();
    CHECK(closed_by_peer_within(*stalled, 5s));
    CHECK(Clock::now() - start >= 200ms);
    CHECK(server.stats().handshake_failures >= 1);
  }
  CHECK(canary.wait_calls(3));
  CHECK(canary.failure().empty());
}

TEST_CASE("a server certificate that is expired, not yet valid or for another name is refused by the client") {
  Lab lab;
  LogSink log;
  for (const auto& [server_cert, expected] :
       {std::pair<std::string, std::string>{"server-expired", "expired"}, {"server-future", "not yet valid"},
        {"server-otherhost", "verify failed"}}) {
    CAPTURE(server_cert);
    auto cfg = loopback_config(&log);
    TlsServerOptions tls;
    tls.certificate = cert(server_cert);
    tls.private_key = key(server_cert);
    cfg.tls = TlsContext::server(tls);
    ThreadPoolServer server(lab.service, cfg);
    server.start();
    CHECK(failure_of_first_call(server.port(), client_as("")).find(expected) != std::string::npos);
  }
}

TEST_CASE("a TLS client at a plaintext server fails within its connect timeout") {
  Lab lab;
  ThreadPoolServer server(lab.service, loopback_config());
  server.start();
  auto cfg = client_as("client-alice");
  cfg.connect_timeout = 1s;
  const auto start = Clock::now();
  CHECK_THROWS_AS(connect("localhost", server.port(), cfg), ConnectError);
  CHECK(Clock::now() - start < 3s);
  CHECK(connect("127.0.0.1", server.port())->root()->attr("ping")->call().as<std::string>() == "pong");
}

TEST_CASE_TEMPLATE("a refused TLS client reads the server's reason, though its first request is already on the wire",
                   Server, ThreadedServer, ThreadPoolServer) {
  // TLS 1.3 ends the client's side of the handshake first: its first request leaves before
  // the server has looked at its certificate. A server that closed with that request unread
  // would answer it with a reset, and the client would often see a bare EOF instead of the
  // alert. Twenty refusals of each kind: every one must carry the reason.
  Lab lab;
  LogSink log;
  Server server(lab.service, tls_config(log));
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port, client_as("client-alice"), "localhost");
  for (int i = 0; i < 20; ++i) {
    CAPTURE(i);
    const std::string foreign = failure_of_first_call(port, client_as("client-b"));
    INFO(foreign);
    CHECK(foreign.find("alert unknown ca") != std::string::npos);
    const std::string without = failure_of_first_call(port, client_as(""));
    INFO(without);
    CHECK(without.find("alert certificate required") != std::string::npos);
  }
  CHECK(server.stats().handshake_failures == 40);
  CHECK(canary.wait_calls(3));
  CHECK(canary.failure().empty());
}

TEST_CASE_TEMPLATE("a refused TLS client that keeps its socket open holds the server's socket only for the linger",
                   Server, ThreadedServer, ThreadPoolServer) {
  // The refused socket stays open a little (dropping what the client sends) so that the alert
  // reaches the client; a client that neither closes nor stops sending must not keep it.
  Lab lab;
  LogSink log;
  Server server(lab.service, tls_config(log));  // handshake timeout 300 ms: linger 250 ms
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port, client_as("client-alice"), "localhost");
  auto refused = connect_tls("localhost", port, *client_as("client-b").tls, 5s);  // TLS 1.3: our side ends
  const std::vector<std::uint8_t> junk(16u << 10, 'x');
  refused->write_all(junk);
  REQUIRE(eventually([&] { return server.stats().handshake_failures == 1; }));
  // It closes the socket once the linger ends, though the client stays (the canary's is the
  // one connection left); the client, reading, finds the reason.
  CHECK(eventually([&] { return server.connection_count() == 1; }, 5s));
  std::vector<std::uint8_t> buffer(64);
  try {
    while (refused->read_some(buffer, 5s) != 0) {
    }
    FAIL("the refused client read no error");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find("alert unknown ca") != std::string::npos);
  }
  CHECK(canary.wait_calls(3));
  CHECK(canary.failure().empty());
}
