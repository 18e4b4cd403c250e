// The netref service the benchmark calls. Three listeners on free loopback ports, one
// service behind them all:
//   default   ThreadedServer, channel compression on (RPyC's default): W1-W5 and W7
//   plain     ThreadedServer, compression off: W3 without compression
//   pool      the server of W6 (64 concurrent clients)
// Prints "ports <default> <plain> <pool> <pool server class>" and serves until SIGTERM or
// SIGINT. Usage: netref_bench_server [--metrics | --metrics-unscraped]
// --metrics: every server counts calls by method (ServerConfig::metrics), the default one
// serves them at http://127.0.0.1:<port>/metrics (printed as "metrics <port>" on stderr), and
// a thread of this process scrapes that endpoint over HTTP every 10 ms: the metrics-on side
// of bench/RESULTS.md's comparison, a scrape under load included. --metrics-unscraped: the
// counting alone (for callgrind's instructions per call, which a timed scraper would blur).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>

#include <httplib.h>
#include <netref/metrics/metrics.hpp>
#include <netref/netref.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "stop_signals.hpp"

namespace {

// W6's server: one reactor waits on every socket, a fixed pool serves the ready ones.
using PoolServer = netref::ThreadPoolServer;
constexpr const char* kPoolServerName = "ThreadPoolServer";

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

// W5's chain: root.a.b.c.d(x).
struct ChainC {
  std::int64_t d(std::int64_t x) const { return x + 1; }
};
struct ChainB {
  std::shared_ptr<ChainC> c = std::make_shared<ChainC>();
};
struct ChainA {
  std::shared_ptr<ChainB> b = std::make_shared<ChainB>();
};

// VmRSS of this process in KiB, from /proc/self/status.
std::int64_t rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::StopSignals stop_signals;  // before any thread starts
  const std::string mode = argc > 1 ? argv[1] : "";
  const bool scraped = mode == "--metrics";
  const bool metrics = scraped || mode == "--metrics-unscraped";

  netref::Registry types;
  types.expose<Counter>("Counter").def("add", &Counter::add).def_readwrite("value", &Counter::value);
  types.expose<ChainC>("ChainC").def("d", &ChainC::d);
  types.expose<ChainB>("ChainB").def_readonly("c", &ChainB::c);
  types.expose<ChainA>("ChainA").def_readonly("b", &ChainA::b);

  netref::Service bench(types, "netref.BenchService");
  bench.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  bench.def("echo", [](netref::Bytes data) { return data; });
  bench.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  // (objects lent on the caller's connection, server VmRSS in KiB)
  bench.def("stats", [] {
    const auto* conn = netref::Connection::current();
    const auto lent = conn != nullptr ? static_cast<std::int64_t>(conn->stats().lent_objects) : -1;
    return std::make_tuple(lent, rss_kib());
  });
  bench.attr("a", std::make_shared<ChainA>());

  netref::ServerConfig compressed{.host = "127.0.0.1", .port = 0};
  compressed.metrics = metrics;
  // The pool's worker count, for experiments (W6): NETREF_BENCH_POOL_WORKERS=n; else the default.
  if (const char* workers = std::getenv("NETREF_BENCH_POOL_WORKERS")) compressed.worker_threads = std::stoul(workers);
  netref::ServerConfig plain = compressed;
  plain.channel.compress = false;

  std::shared_ptr<netref::metrics::HttpEndpoint> endpoint;
  netref::ServerConfig default_config = compressed;
  if (scraped) {
    endpoint = std::make_shared<netref::metrics::HttpEndpoint>(netref::metrics::HttpEndpointConfig{.port = 0});
    default_config.metrics_exporter = endpoint;
  }
  netref::ThreadedServer default_server(bench, default_config);
  netref::ThreadedServer plain_server(bench, plain);
  PoolServer pool_server(bench, compressed);
  PoolServer pool_plain_server(bench, plain);  // W3 through the reactor's read path
  default_server.start();
  plain_server.start();
  pool_server.start();
  pool_plain_server.start();
  std::printf("ports %u %u %u %s %u\n", unsigned{default_server.port()}, unsigned{plain_server.port()},
              unsigned{pool_server.port()}, kPoolServerName, unsigned{pool_plain_server.port()});
  std::fflush(stdout);

  std::atomic<bool> scraping{scraped};
  std::thread scraper;
  if (scraped) {
    std::fprintf(stderr, "metrics %u\n", unsigned{endpoint->port()});
    scraper = std::thread([&] {
      httplib::Client http("127.0.0.1", endpoint->port());
      while (scraping.load()) {
        auto res = http.Get("/metrics");
        if (!res || res->status != 200) std::fprintf(stderr, "scrape failed\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }

  stop_signals.wait();
  scraping.store(false);
  if (scraper.joinable()) scraper.join();
  pool_plain_server.stop();
  pool_server.stop();
  plain_server.stop();
  default_server.stop();
  return 0;
}
