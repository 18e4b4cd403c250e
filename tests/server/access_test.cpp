// Who may connect and what they may ask: the authenticator, the per-request interceptor,
// and the one-shot and background-serving helpers around them.
#include <doctest/doctest.h>

#include <future>

#include "server/lab.hpp"

using namespace netref;
using namespace netref::test;

TEST_CASE_TEMPLATE("an authenticator admits a client with an identity, or turns it away with a logged reason",
                   Server, ThreadedServer, ThreadPoolServer) {
  Lab lab;
  LogSink log;
  auto cfg = loopback_config(&log);
  // A token line before the RPC session, as rpyc authenticators read from the socket.
  cfg.authenticator = [](Stream& stream) {
    std::uint8_t token[6];
    stream.read_exact(token);
    const std::string text(token, token + 6);
    if (text != "alice\n") throw std::runtime_error("unknown token " + text.substr(0, 5));
    return std::string("user:alice");
  };
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();

  auto good = connect_tcp("127.0.0.1", port);
  const std::string token = "alice\n";
  good->write_all(std::span(reinterpret_cast<const std::uint8_t*>(token.data()), token.size()));
  ClientConfig plain;
  plain.negotiate_extensions = true;
  auto client = Client(open_stream_connection(std::move(good), plain));
  CHECK(client->root()->attr("whoami")->call().as<std::string>() == "user:alice");

  auto bad = connect_tcp("127.0.0.1", port);
  const std::string wrong = "mallo\n";
  bad->write_all(std::span(reinterpret_cast<const std::uint8_t*>(wrong.data()), wrong.size()));
  CHECK(closed_by_peer_within(*bad, 5s));
  CHECK(log.contains("unknown token mallo"));
  CHECK(server.stats().rejected == 1);
  CHECK(client->root()->attr("add")->call(1, 2).as<std::int64_t>() == 3);  // the admitted one is unaffected
}

TEST_CASE_TEMPLATE("an interceptor sees handler, type and attribute, and its refusal reaches the caller", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  std::mutex seen_mutex;
  std::vector<std::string> seen;
  auto cfg = loopback_config();
  cfg.connection.interceptor = [&](const RequestInfo& info) {
    {
      std::lock_guard lk(seen_mutex);
      seen.push_back(std::to_string(static_cast<int>(info.handler)) + ":" + std::string(info.type_name) + ":" +
                     std::string(info.attribute));
    }
    if (info.attribute == "secret") throw RemoteError("PermissionError", "secret is off limits to " + info.connection.name());
  };
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  auto client = connect("127.0.0.1", port);
  CHECK_THROWS_WITH_AS(client->root()->attr("secret")->call(), doctest::Contains("off limits"), RemoteError);
  try {
    client->root()->attr("secret")->call();
  } catch (const RemoteError& e) {
    CHECK(e.class_name() == "PermissionError");
  }
  auto counter = client->root()->attr("make_counter")->call(5);
  CHECK(counter->attr("add")->call(2).as<std::int64_t>() == 7);
  std::lock_guard lk(seen_mutex);
  const auto saw = [&](const std::string& entry) { return std::find(seen.begin(), seen.end(), entry) != seen.end(); };
  const auto callattr = std::to_string(static_cast<int>(Handler::callattr));
  CHECK(saw(callattr + ":Counter:add"));  // the object's type and the method
  CHECK(std::any_of(seen.begin(), seen.end(), [](const std::string& s) { return s.ends_with(":make_counter"); }));
}

TEST_CASE("OneShotServer serves one connection, then returns and accepts no more") {
  Lab lab;
  OneShotServer server(lab.service, loopback_config());
  const std::uint16_t port = server.port();
  auto serving = std::async(std::launch::async, [&] { server.serve(); });
  {
    auto client = connect("127.0.0.1", port);
    CHECK(client->root()->attr("add")->call(40, 2).as<std::int64_t>() == 42);
    client->close();
  }
  CHECK(serving.wait_for(5s) == std::future_status::ready);
  CHECK(connect_fails(port));
}

TEST_CASE("OneShotServer::stop ends a serve() that is serving a client") {
  Lab lab;
  OneShotServer server(lab.service, loopback_config());
  auto serving = std::async(std::launch::async, [&] { server.serve(); });
  auto client = connect("127.0.0.1", server.port());
  CHECK(client->root()->attr("ping")->call().as<std::string>() == "pong");
  server.stop();
  CHECK(serving.wait_for(5s) == std::future_status::ready);
  CHECK_THROWS_AS(client->root()->attr("ping")->call(), ConnectionClosed);
}

TEST_CASE("a background serving thread answers the server's calls into a client that is busy elsewhere") {
  Lab lab;
  ThreadPoolServer server(lab.service, loopback_config());
  server.start();
  auto owner = connect("127.0.0.1", server.port());
  const ObjectPtr doubler = local(std::function<std::int64_t(std::int64_t)>([](std::int64_t x) { return 2 * x; }));
  owner->root()->attr("store")->call(doubler);
  BgServingThread background(owner.connection_ptr(), /*start_now=*/false);
  background.start();
  CHECK(background.running());
  // Another client makes the server call owner's callable; only the background thread reads.
  auto other = connect("127.0.0.1", server.port());
  CHECK(other->root()->attr("fire")->call(21).as<std::int64_t>() == 42);
  background.stop();
  CHECK_FALSE(background.running());
  background.start();  // and it starts again
  CHECK(other->root()->attr("fire")->call(5).as<std::int64_t>() == 10);
}
