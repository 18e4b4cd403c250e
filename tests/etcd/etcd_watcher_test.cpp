// EtcdServiceWatcher and the cluster: a list kept current by range plus watch, across a
// member's death; etcd's authentication and TLS.
#include <doctest/doctest.h>

#include <future>
#include <mutex>

#include "etcd/etcd_lab.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

ServerConfig registered(EtcdRegistrarConfig registrar) {
  ServerConfig config;
  config.port = 0;
  config.registrar = etcd_registrar(std::move(registrar));
  return config;
}

using List = std::vector<ServiceAddress>;

}  // namespace

TEST_CASE("the watcher sees servers come and go, and calls on_change with each new list") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  std::mutex mutex;
  std::vector<List> changes;
  EtcdServiceWatcher watcher("pool", etcd.config(), [&](const List& list) {
    std::lock_guard lk(mutex);
    changes.push_back(list);
  });
  auto a = std::make_unique<ThreadedServer>(adder(), registered({.names = {"pool"}, .etcd = etcd.config()}));
  a->start();
  const ServiceAddress at_a{"127.0.0.1", a->port()};
  REQUIRE(watcher.wait_until([&](const List& l) { return l == List{at_a}; }, 10s));
  ThreadedServer b(adder(), registered({.names = {"POOL"}, .etcd = etcd.config()}));
  b.start();
  const ServiceAddress at_b{"127.0.0.1", b.port()};
  REQUIRE(watcher.wait_until([&](const List& l) { return l.size() == 2; }, 10s));
  a.reset();  // stopped: its lease revoked
  CHECK(watcher.wait_until([&](const List& l) { return l == List{at_b}; }, 10s));
  CHECK(watcher.last_error().empty());

  // A key that is not an endpoint is skipped, not fatal.
  EtcdClient(etcd.config()).put(etcd_service_prefix("pool") + "junk", "not json");
  EtcdClient(etcd.config()).put(etcd_service_prefix("pool") + "op1", R"({"Op":1,"Addr":"10.0.0.1:1"})");
  CHECK(etcd_discover("pool", etcd.config()) == List{at_b});

  std::lock_guard lk(mutex);
  REQUIRE(changes.size() >= 3);
  CHECK(changes.front() == List{at_a});
  CHECK(changes.back() == List{at_b});
}

TEST_CASE("a three-member cluster loses a member: registration and discovery carry on through the others") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd({.members = 3});
  EtcdServiceWatcher watcher("cluster", etcd.config(), {}, 50ms);
  ThreadedServer a(adder(), registered({.names = {"cluster"}, .etcd = etcd.config(), .ttl = 1s, .retry_interval = 50ms}));
  a.start();
  const ServiceAddress at_a{"127.0.0.1", a.port()};
  REQUIRE(watcher.wait_until([&](const List& l) { return l == List{at_a}; }, 10s));
  EtcdClient client(etcd.config());
  const auto key_a = etcd_service_key("cluster", "127.0.0.1:" + std::to_string(a.port()));
  const auto lease_a = client.range(key_a).kvs.at(0).lease;

  etcd.kill(0);  // the member every client here prefers (the first endpoint)

  // A new server registers, and the watcher (re-watching on another member) sees it.
  ThreadedServer b(adder(), registered({.names = {"cluster"}, .etcd = etcd.config(), .ttl = 1s, .retry_interval = 50ms}));
  b.start();
  const ServiceAddress at_b{"127.0.0.1", b.port()};
  CHECK(watcher.wait_until([&](const List& l) { return l.size() == 2; }, 15s));
  CHECK(etcd_discover("cluster", etcd.config()).size() == 2);
  auto conn = etcd_connect_by_service("cluster", etcd.config());
  CHECK(conn->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  conn->close();

  // The first server's lease outlives three TTLs after the kill: renewed through the others.
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    const auto range = client.range(key_a);
    REQUIRE(range.kvs.size() == 1);
    REQUIRE(range.kvs[0].lease == lease_a);
    std::this_thread::sleep_for(100ms);
  }

  b.stop();  // revoked through a live member: gone from the list
  CHECK(watcher.wait_until([&](const List& l) { return l == List{at_a}; }, 10s));
}

TEST_CASE("a watcher pointed at an etcd that answers garbage or nothing reports why, keeps no servers, and stops at once") {
  for (const auto mode : {FakeEtcd::Mode::garbage_json, FakeEtcd::Mode::not_http, FakeEtcd::Mode::silent}) {
    FakeEtcd fake(mode);
    auto watcher = std::make_unique<EtcdServiceWatcher>(
        "x", EtcdConfig{.endpoints = {fake.endpoint()}, .request_timeout = 200ms}, nullptr, 50ms);
    REQUIRE(eventually([&] { return !watcher->last_error().empty(); }));
    const auto error = watcher->last_error();
    CAPTURE(error);
    CHECK(error.find(fake.endpoint()) != std::string::npos);
    CHECK(error.find(mode == FakeEtcd::Mode::silent ? "no answer within 200 ms" : "answered /v3/kv/range") !=
          std::string::npos);
    CHECK(watcher->instances().empty());
    watcher.reset();  // returns within a request's timeout
  }
}

TEST_CASE("with etcd's authentication on: a user and password get a token, and a wrong password or none is refused") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  {
    EtcdClient admin(etcd.config());
    admin.request("/v3/auth/user/add", R"({"name":"root","password":"rootpw"})");
    admin.request("/v3/auth/role/add", R"({"name":"root"})");
    admin.request("/v3/auth/user/grant", R"({"user":"root","role":"root"})");
    admin.request("/v3/auth/enable", "{}");
  }
  auto config = etcd.config();
  config.username = "root";
  config.password = "rootpw";
  ThreadedServer server(adder(), registered({.names = {"secure"}, .etcd = config}));
  server.start();
  EtcdServiceWatcher watcher("secure", config);
  CHECK(watcher.wait_until([&](const List& l) { return l == List{{"127.0.0.1", server.port()}}; }, 10s));
  CHECK(etcd_discover("secure", config).size() == 1);

  auto wrong = config;
  wrong.password = "nope";
  try {
    etcd_discover("secure", wrong);
    FAIL("a wrong password was accepted");
  } catch (const EtcdError& e) {
    CHECK(std::string(e.what()).find("authentication failed") != std::string::npos);
  }
  CHECK_THROWS_AS(etcd_discover("secure", etcd.config()), EtcdError);  // no token: refused
}

TEST_CASE("over TLS with a client certificate: registration and discovery work, and without the CA or the certificate they are refused") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd({.tls = true, .client_cert_auth = true});
  ThreadedServer server(adder(), registered({.names = {"tls"}, .etcd = etcd.config()}));
  server.start();
  EtcdServiceWatcher watcher("tls", etcd.config());
  CHECK(watcher.wait_until([&](const List& l) { return l == List{{"127.0.0.1", server.port()}}; }, 10s));

  auto no_ca = etcd.config();
  no_ca.ca_file.clear();  // the system's CAs do not know ca-a
  CHECK_THROWS_AS(etcd_discover("tls", no_ca), RegistryUnreachable);
  auto no_cert = etcd.config();
  no_cert.cert_file.clear();
  no_cert.key_file.clear();
  CHECK_THROWS_AS(etcd_discover("tls", no_cert), DiscoveryError);
}

TEST_CASE("a round_robin Balancer over etcd_instances turns through the servers the watcher lists") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  auto watcher = std::make_shared<EtcdServiceWatcher>("rr", etcd.config());
  ThreadedServer a(adder(), registered({.names = {"rr"}, .etcd = etcd.config()}));
  ThreadedServer b(adder(), registered({.names = {"rr"}, .etcd = etcd.config()}));
  a.start();
  b.start();
  REQUIRE(watcher->wait_until([](const List& l) { return l.size() == 2; }, 10s));
  Balancer balancer(etcd_instances(watcher), {.policy = BalancePolicy::round_robin});
  std::vector<std::uint16_t> reached;
  for (int i = 0; i < 4; ++i) {
    auto client = balancer.connect();
    CHECK(client->root()->attr("add")->call(i, 1).as<std::int64_t>() == i + 1);
    reached.push_back(balancer.last_instance()->port);
  }
  const auto first = watcher->instances();  // key order, the order the balancer turns in
  CHECK(reached == std::vector<std::uint16_t>{first[0].port, first[1].port, first[0].port, first[1].port});
}
