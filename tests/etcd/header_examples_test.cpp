// The examples in the etcd headers' comments, run against a real etcd (the endpoints are the
// lab's instead of the examples' addresses).
#include <doctest/doctest.h>

#include "etcd/etcd_lab.hpp"

using namespace netref::test;

TEST_CASE("the examples in etcd_client.hpp and etcd_registrar.hpp run") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster cluster;
  {
    netref::EtcdClient etcd({.endpoints = cluster.endpoints()});
    etcd.put("config/answer", "42");
    auto range = etcd.range_prefix("config/");
    REQUIRE(range.kvs.size() == 1);
    CHECK(range.kvs[0].value == "42");
  }
  {
    const netref::Service service = adder();
    netref::ServerConfig config;
    config.port = 0;
    config.registrar = netref::etcd_registrar({.names = {"CALCULATOR"},
                                               .etcd = {.endpoints = cluster.endpoints()}});
    netref::ThreadPoolServer server(service, config);
    server.start();
    netref::EtcdServiceWatcher watcher("calculator", {.endpoints = cluster.endpoints()});
    CHECK(watcher.wait_until([](const auto& list) { return list.size() == 1; }, std::chrono::seconds(10)));
  }
}
