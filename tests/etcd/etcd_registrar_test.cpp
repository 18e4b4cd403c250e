// etcd_registrar through ServerConfig::registrar: a lease renewed at a third of its TTL,
// granted again when lost, revoked on stop; a server serves whether or not etcd is there.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <mutex>

#include "etcd/etcd_lab.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

// The server's log lines, for the registrar's reports.
struct LogLines {
  std::mutex mutex;
  std::vector<std::string> lines;
  LogHandler sink() {
    return [this](LogLevel, std::string_view line, ConnectionId) {
      std::lock_guard lk(mutex);
      lines.emplace_back(line);
    };
  }
  bool contains(std::string_view text) {
    std::lock_guard lk(mutex);
    for (const auto& line : lines) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::string text() {
    std::lock_guard lk(mutex);
    std::string out;
    for (const auto& line : lines) out += line + "\n";
    return out;
  }
};

ServerConfig registered(EtcdRegistrarConfig registrar, LogLines* log = nullptr) {
  ServerConfig config;
  config.port = 0;
  if (log) config.log = log->sink();
  config.registrar = etcd_registrar(std::move(registrar));
  return config;
}

std::int64_t lease_of(EtcdClient& client, const std::string& key) {
  const auto range = client.range(key);
  return range.kvs.empty() ? 0 : range.kvs[0].lease;
}

}  // namespace

TEST_CASE("a server registers under netref/services/NAME/host:port in etcd's endpoint JSON, is found and called, and is gone on stop") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  ThreadPoolServer server(adder(), registered({.names = {"calc", "Adder"}, .etcd = etcd.config(), .ttl = 5s,
                                               .metadata_json = R"({"zone":"a"})"}));
  server.start();
  const std::string address = "127.0.0.1:" + std::to_string(server.port());
  const std::string key = "netref/services/CALC/" + address;
  EtcdClient client(etcd.config());
  REQUIRE(eventually([&] { return client.range_prefix("netref/services/ADDER/").kvs.size() == 1; }));
  const auto kv = client.range(key).kvs.at(0);
  CHECK(kv.lease != 0);
  CHECK(nlohmann::json::parse(kv.value) == nlohmann::json{{"Op", 0}, {"Addr", address}, {"Metadata", {{"zone", "a"}}}});
  CHECK(etcd_service_key("calc", address) == key);

  CHECK(etcd_discover("CALC", etcd.config()) == std::vector<ServiceAddress>{{"127.0.0.1", server.port()}});
  auto conn = etcd_connect_by_service("adder", etcd.config());
  CHECK(conn->root()->attr("add")->call(20, 22).as<std::int64_t>() == 42);
  conn->close();

  server.stop();  // revokes the lease: both keys go at once
  CHECK(client.range_prefix("netref/services/").kvs.empty());
  CHECK(client.lease_keepalive(kv.lease) == std::nullopt);
  CHECK_THROWS_AS(etcd_discover("calc", etcd.config()), ServiceNotFound);
}

TEST_CASE("a server whose etcd is down at start serves at once and registers when etcd comes up") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd({.start = false});
  LogLines log;
  ThreadedServer server(adder(), registered({.names = {"LATE"}, .etcd = etcd.config(), .retry_interval = 50ms}, &log));
  server.start();
  auto conn = connect("127.0.0.1", server.port());  // serving, etcd or not
  CHECK(conn->root()->attr("add")->call(1, 2).as<std::int64_t>() == 3);
  REQUIRE(eventually([&] { return log.contains("could not register in etcd"); }));
  CHECK(log.contains("no etcd member answered /v3/lease/grant"));

  etcd.start_all();
  CHECK(eventually([&] {
    try {
      return etcd_discover("late", etcd.config()) == std::vector<ServiceAddress>{{"127.0.0.1", server.port()}};
    } catch (const DiscoveryError&) {
      return false;
    }
  }, 10s));
  CHECK(eventually([&] { return log.contains("registered as 127.0.0.1:"); }));
  CHECK(conn->root()->attr("add")->call(3, 4).as<std::int64_t>() == 7);
  conn->close();
}

TEST_CASE("a lease etcd no longer has is granted again and the keys are put back") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  LogLines log;
  ThreadedServer server(adder(), registered({.names = {"KEPT"}, .etcd = etcd.config(), .ttl = 1s}, &log));
  server.start();
  const auto key = etcd_service_key("kept", "127.0.0.1:" + std::to_string(server.port()));
  EtcdClient client(etcd.config());
  REQUIRE(eventually([&] { return lease_of(client, key) != 0; }));
  const auto lost = lease_of(client, key);
  client.lease_revoke(lost);  // as if it had expired while etcd was out of reach
  CHECK(eventually([&] {
    const auto now = lease_of(client, key);
    return now != 0 && now != lost;
  }));
  CHECK(log.contains("etcd no longer has lease " + std::to_string(lost) + "; registering again"));
  CHECK(eventually([&] { return log.contains("registered again as"); }));
}

TEST_CASE("etcd lost mid-run and back empty: the server keeps serving and registers again, and the watcher finds it") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  LogLines log;
  INFO("server log:\n" << log.text());
  ThreadedServer server(adder(), registered({.names = {"PHOENIX"}, .etcd = etcd.config(), .ttl = 1s,
                                             .retry_interval = 50ms}, &log));
  server.start();
  const ServiceAddress self{"127.0.0.1", server.port()};
  EtcdServiceWatcher watcher("phoenix", etcd.config(), {}, 50ms);
  REQUIRE(watcher.wait_until([&](const auto& list) { return list == std::vector<ServiceAddress>{self}; }, 10s));
  REQUIRE(eventually([&] { return log.contains("registered as"); }));  // its put answered, not only applied

  etcd.kill(0);
  auto conn = connect("127.0.0.1", server.port());
  CHECK(conn->root()->attr("add")->call(1, 1).as<std::int64_t>() == 2);  // serving without etcd
  REQUIRE(eventually([&] { return log.contains("could not renew the lease"); }, 10s));
  REQUIRE(eventually([&] { return !watcher.last_error().empty(); }, 10s));
  CHECK(watcher.instances() == std::vector<ServiceAddress>{self});  // the last list is kept meanwhile

  etcd.wipe(0);  // back as a new etcd: the lease and keys are gone
  etcd.start(0);
  etcd.wait_ready(0);
  EtcdClient client(etcd.config());
  const auto key = etcd_service_key("phoenix", "127.0.0.1:" + std::to_string(server.port()));
  CHECK(eventually([&] { return lease_of(client, key) != 0; }, 10s));
  CHECK(eventually([&] { return log.contains("registered again as"); }));
  // Read again since etcd came back (no error now), and the server is in the list.
  CHECK(eventually([&] { return watcher.last_error().empty() && watcher.instances() == std::vector<ServiceAddress>{self}; }, 10s));
  conn->close();
}

TEST_CASE("an etcd that answers garbage or never answers: the server serves, its log says why, and stop is bounded") {
  for (const auto mode : {FakeEtcd::Mode::garbage_json, FakeEtcd::Mode::silent}) {
    FakeEtcd fake(mode);
    LogLines log;
    EtcdConfig etcd{.endpoints = {fake.endpoint()}, .request_timeout = 200ms};
    ThreadPoolServer server(adder(), registered({.names = {"X"}, .etcd = etcd, .retry_interval = 50ms}, &log));
    server.start();
    auto canary = connect("127.0.0.1", server.port());
    for (int i = 0; i < 20; ++i) CHECK(canary->root()->attr("add")->call(i, 1).as<std::int64_t>() == i + 1);
    REQUIRE(eventually([&] { return log.contains("could not register in etcd"); }));
    CHECK(log.contains(mode == FakeEtcd::Mode::silent ? "no answer within 200 ms" : "not etcd's JSON"));
    canary->close();
    server.stop();
  }
}

TEST_CASE("etcd_registrar refuses a configuration it cannot register") {
  CHECK_THROWS_AS(etcd_registrar({}), std::invalid_argument);
  CHECK_THROWS_AS(etcd_registrar({.names = {"a/b"}}), std::invalid_argument);
  CHECK_THROWS_AS(etcd_registrar({.names = {""}}), std::invalid_argument);
  CHECK_THROWS_AS(etcd_registrar({.names = {"A"}, .metadata_json = "{nope"}), std::invalid_argument);
  CHECK_THROWS_AS(etcd_registrar({.names = {"A"}, .etcd = {.endpoints = {"127.0.0.1:2379"}}}), std::invalid_argument);
  CHECK_THROWS_AS(etcd_registrar({.names = {"A"}, .etcd = {.endpoints = {}}}), std::invalid_argument);
}
