// docs/FAULTS.md J10: a burst of mutual-TLS connections against the thread pool, on two
// cores shared with the clients: every handshake completes, the canary keeps its answers,
// and the memory each connection costs is recorded and bounded.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "fault/fault.hpp"
#include "tls/mutual_tls.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

/// How many connections this process may hold: both ends of each are ours, and the soft
/// descriptor limit is raised as far as the hard one allows.
int connections_that_fit(int wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::min(wanted, 400);
  const rlim_t needed = static_cast<rlim_t>(wanted) * 2 + 200;
  if (limit.rlim_cur < needed) {
    limit.rlim_cur = std::min(needed, limit.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<int>(std::min<rlim_t>(static_cast<rlim_t>(wanted), (limit.rlim_cur - 200) / 2));
}

}  // namespace

TEST_CASE("J10: a burst of mutual-TLS connections: all admitted, the canary answered, memory per connection bounded") {
  const int count = connections_that_fit(scaled(2000, 20));
  MESSAGE("TLS connections in the burst: " << count);
  Lab lab;
  auto cfg = loopback_config();
  TlsServerOptions tls;
  tls.certificate = cert("server-a");
  tls.private_key = key("server-a");
  tls.client_ca = cert("ca-a");
  tls.require_client_certificate = true;
  cfg.tls = TlsContext::server(tls);
  cfg.handshake_timeout = 30s;  // a burst queues handshakes on two cores
  ThreadPoolServer server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port, alice(), "localhost");
  REQUIRE(canary.wait_calls(2));
  const ClientConfig client_config = alice();

  const long rss_before = status_kib("VmRSS");
  const auto started = Clock::now();
  constexpr int kOpeners = 4;
  std::vector<std::vector<Client>> opened(kOpeners);
  std::vector<std::string> errors(kOpeners);
  std::vector<std::thread> openers;
  for (int t = 0; t < kOpeners; ++t) {
    openers.emplace_back([&, t] {
      try {
        for (int i = t; i < count; i += kOpeners) {
          opened[static_cast<std::size_t>(t)].push_back(connect("localhost", port, client_config));
        }
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& t : openers) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  for (const auto& e : errors) CHECK(e.empty());
  REQUIRE(eventually([&] { return server.connection_count() >= static_cast<std::size_t>(count) + 1; }, 30s));
  const long rss_after = status_kib("VmRSS");
  const double kib_per_connection = static_cast<double>(rss_after - rss_before) / count;
  MESSAGE("handshakes per second: " << count / seconds << "; KiB per connection, both ends: " << kib_per_connection);

  CHECK(canary.failure().empty());
  CHECK(canary.slowest() < kCanaryBound);
  CHECK(canary.wait_calls(2));
  // Both ends of a TLS connection (two SSL objects with their buffers, two channels, two
  // connections) in this one process: tens of KiB, far from a thread stack each. Under a
  // sanitizer's shadow memory and quarantine, with a twentieth of the connections, RSS
  // says nothing per connection.
  if (!kSanitized) CHECK(kib_per_connection < 256);
  int answered = 0;
  for (auto& batch : opened) {
    for (std::size_t i = 0; i < batch.size(); i += 61) {
      if (batch[i]->root()->attr("add")->call(static_cast<std::int64_t>(i), 1).as<std::int64_t>() ==
          static_cast<std::int64_t>(i) + 1) {
        ++answered;
      }
    }
  }
  CHECK(answered >= count / 61);
  opened.clear();  // every client closes
  CHECK(eventually([&] { return server.connection_count() == 1; }, 30s));  // the canary's
  CHECK(server.stats().handshake_failures == 0);
}
