// EtcdClient against a real etcd: keys, leases, watches, failover across members; and against
// fake members that answer garbage or nothing, which must give clear errors within the
// timeouts.
#include <doctest/doctest.h>

#include <future>

#include "etcd/etcd_lab.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

TEST_CASE("put, range by prefix and delete against a real etcd, binary keys and values included") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  EtcdClient client(etcd.config());
  const std::string binary("v\0\xff\x01", 4);
  const auto first = client.put("app/a", "1");
  CHECK(first > 0);
  CHECK(client.put("app/b", binary) == first + 1);
  client.put("apq", "outside the prefix");
  const auto range = client.range_prefix("app/");
  REQUIRE(range.kvs.size() == 2);
  CHECK(range.kvs[0].key == "app/a");
  CHECK(range.kvs[0].value == "1");
  CHECK(range.kvs[1].value == binary);
  CHECK(range.kvs[1].mod_revision == first + 1);
  CHECK(range.revision == first + 2);
  CHECK(client.range("app/a").kvs.size() == 1);
  CHECK(client.range("app/none").kvs.empty());
  CHECK(client.delete_range("app/", etcd_prefix_end("app/")) == 2);
  CHECK(client.range_prefix("app/").kvs.empty());
  CHECK(etcd_prefix_end("a\xff") == "b");
}

TEST_CASE("a lease keeps its keys while renewed, and a revoked lease takes them and renewing it says it is gone") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  EtcdClient client(etcd.config());
  const auto lease = client.lease_grant(1s);
  CHECK(lease.id != 0);
  CHECK(lease.ttl >= 1s);  // etcd raises a TTL below its minimum
  client.put("leased", "x", lease.id);
  CHECK(client.range("leased").kvs.at(0).lease == lease.id);
  CHECK(client.lease_keepalive(lease.id) == lease.ttl);
  client.lease_revoke(lease.id);
  CHECK(client.range("leased").kvs.empty());
  CHECK(client.lease_keepalive(lease.id) == std::nullopt);
  CHECK_NOTHROW(client.lease_revoke(lease.id));  // gone already: not an error
  CHECK_THROWS_AS(client.put("k", "v", 12345), EtcdError);  // etcd's own refusal: no such lease
  try {
    client.put("k", "v", 12345);
  } catch (const EtcdError& e) {
    CHECK(e.code() == 5);
    CHECK(std::string(e.what()).find("lease not found") != std::string::npos);
  }
}

TEST_CASE("a watch sees puts and deletes from its start revision, and returns when stopped") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  EtcdClient client(etcd.config());
  const auto before = client.put("w/a", "1");  // before the watch starts, but at its start revision
  std::promise<std::vector<EtcdEvent>> seen;
  std::stop_source stop;
  std::vector<EtcdEvent> events;
  auto watching = std::async(std::launch::async, [&] {
    client.watch("w/", etcd_prefix_end("w/"), before, [&](const std::vector<EtcdEvent>& batch, std::int64_t) {
      events.insert(events.end(), batch.begin(), batch.end());
      if (events.size() == 3) seen.set_value(events);
    }, stop.get_token());
  });
  client.put("w/b", "2");
  client.delete_range("w/a");
  auto got = seen.get_future();
  REQUIRE(got.wait_for(10s) == std::future_status::ready);
  const auto all = got.get();
  CHECK(all[0].type == EtcdEvent::Type::put);
  CHECK(all[0].kv.key == "w/a");
  CHECK(all[1].kv.value == "2");
  CHECK(all[2].type == EtcdEvent::Type::del);
  CHECK(all[2].kv.key == "w/a");
  stop.request_stop();
  CHECK(watching.wait_for(5s) == std::future_status::ready);
  CHECK_NOTHROW(watching.get());
}

TEST_CASE("a watch from a compacted revision ends with an error saying so") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  EtcdClient client(etcd.config());
  client.put("c/a", "1");
  const auto rev = client.put("c/a", "2");
  client.request("/v3/kv/compaction", R"({"revision":")" + std::to_string(rev) + R"("})");
  try {
    client.watch("c/", etcd_prefix_end("c/"), 1, [](const auto&, std::int64_t) {});
    FAIL("the watch did not end");
  } catch (const EtcdError& e) {
    CHECK(std::string(e.what()).find("compacted") != std::string::npos);
  }
}

TEST_CASE("requests fail over: a dead first member costs one refused connection, then the next answers") {
  NETREF_REQUIRE_ETCD();
  EtcdCluster etcd;
  auto config = etcd.config();
  config.endpoints.insert(config.endpoints.begin(), "http://127.0.0.1:" + std::to_string(free_port()));
  EtcdClient client(config);
  CHECK(client.put("f", "1") > 0);
  CHECK(client.range("f").kvs.size() == 1);
}

TEST_CASE("no etcd listening: RegistryUnreachable naming every endpoint tried") {
  const auto a = "http://127.0.0.1:" + std::to_string(free_port());
  const auto b = "http://127.0.0.1:" + std::to_string(free_port());
  EtcdClient client({.endpoints = {a, b}});
  try {
    client.range("x");
    FAIL("no error");
  } catch (const RegistryUnreachable& e) {
    const std::string what = e.what();
    CHECK(what.find(a) != std::string::npos);
    CHECK(what.find(b) != std::string::npos);
  }
}

TEST_CASE("an etcd that answers garbage: RegistryReplyError saying what came, for every call") {
  for (const auto mode : {FakeEtcd::Mode::garbage_json, FakeEtcd::Mode::not_http}) {
    FakeEtcd fake(mode);
    EtcdClient client({.endpoints = {fake.endpoint()}, .request_timeout = 2s});
    const auto started = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(client.put("k", "v"), RegistryReplyError);
    CHECK_THROWS_AS(client.lease_grant(5s), RegistryReplyError);
    CHECK_THROWS_AS(client.lease_keepalive(1), RegistryReplyError);
    CHECK_THROWS_AS(client.watch("k", "", 1, [](const auto&, std::int64_t) {}), RegistryReplyError);
    try {
      client.range("k");
    } catch (const RegistryReplyError& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(what.find(fake.endpoint()) != std::string::npos);
      CHECK(what.find(mode == FakeEtcd::Mode::garbage_json ? "not etcd's JSON: \"<html>oops</\"" : "not an HTTP answer") !=
            std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - started < 2s);  // answers, not timeouts
  }
}

TEST_CASE("an etcd that accepts and never answers: RegistryUnreachable once the request timeout passes") {
  FakeEtcd fake(FakeEtcd::Mode::silent);
  EtcdClient client({.endpoints = {fake.endpoint()}, .request_timeout = 300ms});
  for (int i = 0; i < 2; ++i) {
    try {
      if (i == 0) client.range("k");
      else client.watch("k", "", 1, [](const auto&, std::int64_t) {});  // the watch is never confirmed
      FAIL("no error");
    } catch (const RegistryUnreachable& e) {
      const std::string what = e.what();
      CAPTURE(what);
      CHECK(what.find(fake.endpoint()) != std::string::npos);
      CHECK(what.find("no answer within") != std::string::npos);
    }
  }
}

TEST_CASE("a silent first member: the request moves on to the next once its timeout passes") {
  NETREF_REQUIRE_ETCD();
  FakeEtcd fake(FakeEtcd::Mode::silent);
  EtcdCluster etcd;
  auto config = etcd.config();
  config.endpoints.insert(config.endpoints.begin(), fake.endpoint());
  config.request_timeout = 300ms;
  EtcdClient client(config);
  CHECK(client.put("k", "v") > 0);
  CHECK(client.range("k").kvs.size() == 1);  // sticks to the member that answered
}
