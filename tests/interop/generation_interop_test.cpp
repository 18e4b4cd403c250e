// The rpyc generation found out at connect: against Python's rpyc 5.3 and 6.0.1 servers and
// a netref server, with the choice left unset, and a wrong explicit choice named in the error.
#include <doctest/doctest.h>

#include <netref/netref.hpp>

#include <string>

#include "python_server.hpp"

using namespace netref;
using netref::test::PythonServer;
using netref::test::rpyc6_or_skip;

namespace {

Client connect_detecting(std::uint16_t port) { return netref::connect("127.0.0.1", port, ClientConfig{}); }

std::string mismatch_text(std::uint16_t port, Generation explicit_choice) {
  ClientConfig config;
  config.connection.generation = explicit_choice;
  try {
    netref::connect("127.0.0.1", port, config);
  } catch (const GenerationMismatch& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("not a GenerationMismatch: ") + e.what();
  }
  return "connected";
}

}  // namespace

TEST_CASE("unset generation against Python's rpyc 5.3: found out, then calls work") {
  PythonServer py;
  auto client = connect_detecting(py.port);
  CHECK(client->connection().generation() == Generation::v5);
  CHECK(client->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
}

TEST_CASE("explicit 6.x against Python's rpyc 5.3 fails naming Generation::v5 and the setting") {
  PythonServer py;
  const std::string text = mismatch_text(py.port, Generation::v6);
  INFO(text);
  CHECK(text.find("Generation::v5") != std::string::npos);
  CHECK(text.find("ConnectionConfig::generation") != std::string::npos);
}

TEST_CASE("unset generation against Python's rpyc 6.0.1: 6.x at once") {
  const std::string rpyc6 = rpyc6_or_skip();
  if (rpyc6.empty()) return;
  PythonServer py(rpyc6, Generation::v6);
  auto client = connect_detecting(py.port);
  CHECK(client->connection().generation() == Generation::v6);
  CHECK(client->connection().stats().frames_out == 1);  // the hello alone: nothing resent
  CHECK(client->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
}

TEST_CASE("explicit 5.x against Python's rpyc 6.0.1 fails naming Generation::v6") {
  const std::string rpyc6 = rpyc6_or_skip();
  if (rpyc6.empty()) return;
  PythonServer py(rpyc6, Generation::v6);
  const std::string text = mismatch_text(py.port, Generation::v5);
  INFO(text);
  CHECK(text.find("Generation::v6") != std::string::npos);
}

TEST_CASE("unset generation against a netref server costs nothing: the hello is the only frame before the first call") {
  Service svc;
  svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  ServerConfig cfg;
  cfg.port = 0;
  ThreadedServer server(svc, cfg);
  server.start();
  auto client = connect_detecting(server.port());
  CHECK(client->connection().generation() == Generation::v6);
  CHECK(client->connection().peer_is_netref());
  CHECK(client->connection().stats().frames_out == 1);
  CHECK(client->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  server.stop();
}
