// ServerConfig::registrar: the hook a registrar above this layer plugs into. Told once when
// serving starts (with the bound port) and once when it stops, in that order.
#include <doctest/doctest.h>

#include <mutex>
#include <string>
#include <vector>

#include "netref/service/server.hpp"
#include "netref/service/service.hpp"

using namespace netref;

namespace {

struct RecordingRegistrar : ServerRegistrar {
  std::mutex mutex;
  std::vector<std::string> events;
  void server_started(const ServerEndpoint& endpoint) override {
    std::lock_guard lk(mutex);
    events.push_back("started " + endpoint.host + ":" + std::to_string(endpoint.port));
  }
  void server_stopping() noexcept override {
    std::lock_guard lk(mutex);
    events.push_back("stopping");
  }
};

template <class Server>
void check_told_at_start_and_stop() {
  auto registrar = std::make_shared<RecordingRegistrar>();
  ServerConfig config;
  config.port = 0;
  config.registrar = registrar;
  Server server(Service{}, config);
  CHECK(registrar->events.empty());  // bound, not serving yet
  server.start();
  server.start();
  const std::string started = "started 127.0.0.1:" + std::to_string(server.port());
  CHECK(registrar->events == std::vector<std::string>{started});
  server.stop();
  server.stop();
  CHECK(registrar->events == std::vector<std::string>{started, "stopping"});
}

}  // namespace

TEST_CASE("a ThreadedServer tells its registrar once at start, with the bound port, and once at stop") {
  check_told_at_start_and_stop<ThreadedServer>();
}

TEST_CASE("a ThreadPoolServer tells its registrar once at start, with the bound port, and once at stop") {
  check_told_at_start_and_stop<ThreadPoolServer>();
}

TEST_CASE("a server stopped before it served tells its registrar nothing") {
  auto registrar = std::make_shared<RecordingRegistrar>();
  ServerConfig config;
  config.port = 0;
  config.registrar = registrar;
  {
    ThreadedServer server(Service{}, config);
  }
  CHECK(registrar->events.empty());
}
