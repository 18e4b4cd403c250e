// The server the soak workloads (netref_soak, docs/FAULTS.md K1-K3) call: a ThreadPoolServer
// on a free loopback port, run as a child process so the soak reads its memory, threads and
// descriptors from /proc/<pid>/ without measuring itself. The service:
//   make_counter(start)  a fresh Counter, lent as a netref (K1, K3)
//   fail(i)              throws std::out_of_range("no item <i>"): an IndexError at the caller (K2)
//   stats()              (lent objects, open connections, running handlers, closes by reason),
//                        the server's own counters (ServerStats) over every connection
// Prints "port <port>" and serves until SIGTERM or SIGINT. Usage: netref_soak_server

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>

#include <netref/netref.hpp>

#include "stop_signals.hpp"

namespace {

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

using ClosesByReason = std::map<std::string, std::int64_t>;
using StatsReply = std::tuple<std::int64_t, std::int64_t, std::int64_t, ClosesByReason>;

StatsReply stats_reply(const netref::ServerStats& s) {
  ClosesByReason closed;
  for (const auto& [reason, count] : s.closed) closed[std::string(netref::to_string(reason))] = static_cast<std::int64_t>(count);
  return {static_cast<std::int64_t>(s.lent_objects), static_cast<std::int64_t>(s.open_connections),
          static_cast<std::int64_t>(s.running_handlers), std::move(closed)};
}

}  // namespace

int main() {
  const bench::StopSignals stop_signals;  // before any thread starts

  netref::Registry types;
  types.expose<Counter>("Counter").def("add", &Counter::add).def_readwrite("value", &Counter::value);

  netref::Service soak(types, "netref.SoakService");
  const netref::ThreadPoolServer* server = nullptr;  // set before the first connection
  soak.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  soak.def("fail", [](std::int64_t i) -> std::int64_t { throw std::out_of_range("no item " + std::to_string(i)); });
  soak.def("stats", [&server] { return stats_reply(server->stats()); });

  netref::ThreadPoolServer pool(soak, {.host = "127.0.0.1", .port = 0});
  server = &pool;
  pool.start();
  std::printf("port %u\n", unsigned{pool.port()});
  std::fflush(stdout);

  stop_signals.wait();
  pool.stop();
  return 0;
}
