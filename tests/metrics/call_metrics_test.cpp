// Calls by method, errors by class and latency, read through the C++ API on both sides.
#include <doctest/doctest.h>

#include <numeric>
#include <string>
#include <vector>

#include "metrics/metrics_lab.hpp"

using namespace netref;
using namespace netref::test;

namespace {

/// A client of server whose calls are counted in calls.
Client connect_counting(const ThreadPoolServer& server, std::shared_ptr<CallMetrics> calls) {
  ClientConfig config;
  config.connection.call_metrics = std::move(calls);
  return connect("127.0.0.1", server.port(), config);
}

std::uint64_t bucket_total(const MethodMetrics& m) {
  return std::accumulate(m.buckets.begin(), m.buckets.end(), std::uint64_t{0});
}

}  // namespace

TEST_CASE("a label set is the names given plus other, and anything else counts under other") {
  CallMetrics metrics({"b", "a", "a", "other"});
  REQUIRE(metrics.methods() == std::vector<std::string>{"b", "a", "other"});
  CHECK(metrics.slot_of("a") == 1);
  CHECK(metrics.slot_of("b") == 0);
  CHECK(metrics.slot_of("c") == metrics.other_slot());
  CHECK(metrics.slot_of("") == metrics.other_slot());
  metrics.record(1, CallMetrics::no_error, std::chrono::microseconds(30));   // first bucket
  metrics.record(1, CallMetrics::error_class_of("ValueError"), std::chrono::milliseconds(3));
  metrics.record(metrics.other_slot(), CallMetrics::error_class_of("SomethingElse"), std::chrono::seconds(60));
  const auto snap = metrics.snapshot();
  const auto* a = snap.find("a");
  REQUIRE(a != nullptr);
  CHECK(a->calls == 2);
  CHECK(a->buckets[0] == 1);
  CHECK(a->buckets[6] == 1);  // 3 ms: above 2.5 ms, at most 5 ms
  CHECK(error_count(*a, "ValueError") == 1);
  CHECK(a->error_count() == 1);
  CHECK(a->latency_sum_seconds == doctest::Approx(0.00303));
  const auto* other = snap.find("other");
  REQUIRE(other != nullptr);
  CHECK(other->buckets.back() == 1);  // 60 s: +Inf
  CHECK(error_count(*other, "other") == 1);
  CHECK(snap.find("b")->calls == 0);
}

TEST_CASE("a server counts calls by method, errors by class and latency, and so does a client") {
  ThreadPoolServer server(metrics_service(), metrics_server_config());
  server.start();
  auto client_calls = std::make_shared<CallMetrics>(std::vector<std::string>{"add", "fail"});
  auto conn = connect_counting(server, client_calls);
  auto root = conn->root();

  for (int i = 0; i < 3; ++i) CHECK(root->attr("add")->call(i, 1).as<std::int64_t>() == i + 1);
  for (int i = 0; i < 2; ++i) CHECK_THROWS_AS(root->attr("fail")->call(i), ValueError);
  CHECK(root->attr("echo")->call(std::string("hi")).as<std::string>() == "hi");
  CHECK_THROWS_AS(root->attr("no_such_method")->call(1), AttributeError);

  // The server counts a request before its reply leaves: the client has them all now.
  const ServerMetrics served = server.metrics();
  const auto* add = served.calls.find("add");
  const auto* fail = served.calls.find("fail");
  const auto* echo = served.calls.find("echo");
  const auto* other = served.calls.find("other");
  REQUIRE(add != nullptr);
  REQUIRE(fail != nullptr);
  REQUIRE(echo != nullptr);
  REQUIRE(other != nullptr);
  CHECK(served.calls.methods.size() == metrics_service().names().size() + 1);  // its names and other
  CHECK(add->calls == 3);
  CHECK(add->error_count() == 0);
  CHECK(bucket_total(*add) == 3);
  CHECK(add->latency_sum_seconds > 0);
  CHECK(fail->calls == 2);
  CHECK(error_count(*fail, "ValueError") == 2);
  CHECK(fail->error_count() == 2);
  CHECK(echo->calls == 1);
  CHECK(error_count(*other, "AttributeError") == 1);  // the made-up name: not a label of its own
  CHECK(other->error_count() == 1);
  CHECK(served.stats.open_connections == 1);
  CHECK(served.stats.frames_in >= 8);
  CHECK(served.stats.bytes_out > 0);

  const auto mine = client_calls->snapshot();
  REQUIRE(mine.methods.size() == 3);
  CHECK(mine.find("add")->calls == 3);
  CHECK(mine.find("add")->error_count() == 0);
  CHECK(mine.find("fail")->calls == 2);
  CHECK(error_count(*mine.find("fail"), "ValueError") == 2);
  CHECK(error_count(*mine.find("other"), "AttributeError") == 1);
  CHECK(bucket_total(*mine.find("add")) == 3);

  conn->close();
  server.stop();
}

TEST_CASE("names a peer makes up never grow the label set") {
  ThreadPoolServer server(metrics_service(), metrics_server_config());
  server.start();
  auto conn = connect("127.0.0.1", server.port());
  auto root = conn->root();
  for (int i = 0; i < 40; ++i) {
    CHECK_THROWS_AS(root->attr("made_up_" + std::to_string(i))->call(), AttributeError);
  }
  const auto calls = server.metrics().calls;
  CHECK(calls.methods.size() == metrics_service().names().size() + 1);  // its names and "other"
  CHECK(error_count(*calls.find("other"), "AttributeError") == 40);
  conn->close();
  server.stop();
}

TEST_CASE("a server without metrics counts no calls, and its traffic counters never go back") {
  ServerConfig cfg = metrics_server_config();
  cfg.metrics = false;
  ThreadedServer server(metrics_service(), cfg);
  server.start();
  ServerStats open;
  {
    auto conn = connect("127.0.0.1", server.port());
    CHECK(conn->root()->attr("add")->call(1, 2).as<std::int64_t>() == 3);
    open = server.stats();
    CHECK(open.frames_in >= 2);
    CHECK(open.bytes_in > 0);
    conn->close();
  }
  // Open or retired, the closed connection's traffic is counted exactly once.
  const auto after = server.metrics();
  CHECK(after.calls.methods.empty());
  CHECK(after.stats.frames_in >= open.frames_in);
  CHECK(after.stats.bytes_in >= open.bytes_in);
  server.stop();
  CHECK(server.stats().frames_in >= open.frames_in);
}

TEST_CASE("a client counts async calls when their replies arrive, and those a close fails") {
  ThreadPoolServer server(metrics_service(), metrics_server_config());
  server.start();
  auto client_calls = std::make_shared<CallMetrics>(std::vector<std::string>{"add", "fail"});
  auto conn = connect_counting(server, client_calls);
  auto root = conn->root();

  std::vector<AsyncCall> adds;
  for (int i = 0; i < 4; ++i) adds.push_back(root->attr("add")->async_call(i, 1));
  auto failed = root->attr("fail")->async_call(1);
  CHECK(client_calls->snapshot().find("add")->calls == 0);  // nothing has been answered yet
  for (int i = 0; i < 4; ++i) CHECK(adds[static_cast<std::size_t>(i)].value().as<std::int64_t>() == i + 1);
  CHECK_THROWS_AS(failed.value(), ValueError);
  auto mine = client_calls->snapshot();
  CHECK(mine.find("add")->calls == 4);
  CHECK(mine.find("add")->error_count() == 0);
  CHECK(bucket_total(*mine.find("add")) == 4);
  CHECK(error_count(*mine.find("fail"), "ValueError") == 1);

  // Sync calls are counted once, not again as async ones.
  CHECK(root->attr("add")->call(1, 1).as<std::int64_t>() == 2);
  CHECK(client_calls->snapshot().find("add")->calls == 5);

  // A call the close settles counts as a ConnectionError.
  auto blocked = root->attr("add")->async_call(2, 2);
  conn->close();
  if (!blocked.ready()) CHECK_THROWS_AS(blocked.value(), ConnectionClosed);
  mine = client_calls->snapshot();
  CHECK(mine.find("add")->calls == 6);
  CHECK(error_count(*mine.find("add"), "ConnectionError") == (blocked.error() ? 1 : 0));
  server.stop();
}
