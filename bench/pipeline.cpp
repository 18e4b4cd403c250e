// Promise pipelining (docs/PIPELINING.md): dependent chains of depth 1 to 4 on the counter
// service, each step a call on the result of the one before, measured three ways in the same
// run against one ThreadPoolServer in this process (loopback TCP):
//   pipelined      AsyncCall::attr(...)->async_call(...) down the chain, one wait at the end
//   not pipelined  each step waits for its target's result, then calls it asynchronously:
//                  what the same code does against a peer without `pipeline` (Python's rpyc)
//   sync steps     each step a sync call on the netref the last one returned
// For each: median and p99 latency of a whole chain, and round trips from the frame counters
// (replies read before the last request left, plus one; counted on a chain of its own after a
// ping, so that no earlier DEL's reply is among them). Then what keeping results costs async
// calls nobody pipelines on: a window of async add calls, against a server that keeps them
// (it lists `pipeline`) and one that does not (extensions off).
//
// Usage: bench_pipeline [--quick]
#include <netref/netref.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iomanip>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "fault/faultproxy.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

struct Server {
  netref::Registry types;
  netref::Service svc{types};
  std::unique_ptr<netref::ThreadPoolServer> server;
  explicit Server(bool extensions) {
    types.expose<Counter>("Counter")
        .def("add", &Counter::add)
        .def("fork", [](const Counter& c, std::int64_t n) { return std::make_shared<Counter>(Counter{c.value + n}); })
        .def_readwrite("value", &Counter::value);
    svc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
    svc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
    netref::ServerConfig cfg;
    cfg.port = 0;
    cfg.connection.enable_extensions = extensions;
    server = std::make_unique<netref::ThreadPoolServer>(svc, cfg);
    server->start();
  }
};

struct Result {
  double median_us = 0, p99_us = 0;
  double round_trips = 0;
};

Result summarize(std::vector<double>& us, double round_trips) {
  std::sort(us.begin(), us.end());
  return Result{us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)], round_trips};
}

// One chain of `depth` calls: make_counter(10), then fork(1) ... and add(1) last (depth 1:
// make_counter alone). Returns the round trips it cost.
std::uint64_t pipelined_chain(const netref::Client& client, const netref::Proxy& root, int depth) {
  auto& conn = client.connection();
  const auto before = conn.traffic();
  auto last = root->attr("make_counter")->async_call(10);
  for (int step = 2; step <= depth; ++step) {
    last = last->attr(step == depth ? "add" : "fork")->async_call(1);
  }
  const auto sent = conn.traffic();
  last.wait();
  if (last.error()) std::rethrow_exception(last.error());
  return sent.frames_in - before.frames_in + 1;
}

std::uint64_t waited_chain(const netref::Client& client, const netref::Proxy& root, int depth) {
  auto& conn = client.connection();
  const auto before = conn.traffic();
  auto last = root->attr("make_counter")->async_call(10);
  for (int step = 2; step <= depth; ++step) last = last.value()->attr(step == depth ? "add" : "fork")->async_call(1);
  const auto sent = conn.traffic();
  last.value();
  return sent.frames_in - before.frames_in + 1;
}

std::uint64_t sync_chain(const netref::Client& client, const netref::Proxy& root, int depth) {
  auto& conn = client.connection();
  const auto before = conn.traffic();
  auto last = root->attr("make_counter")->call(10);
  for (int step = 2; step <= depth; ++step) last = last->attr(step == depth ? "add" : "fork")->call(1);
  return conn.traffic().frames_in - before.frames_in;
}

template <class Chain>
Result measure(const netref::Client& client, int depth, long warmup, long chains, Chain&& chain) {
  auto root = client->root();
  for (long i = 0; i < warmup; ++i) chain(client, root, depth);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(chains));
  for (long i = 0; i < chains; ++i) {
    const auto t0 = Clock::now();
    chain(client, root, depth);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  client.ping();  // the DELs of the chains before, and their replies, are done
  return summarize(us, static_cast<double>(chain(client, root, depth)));
}

// Async add calls with up to `window` outstanding: calls per second.
double async_throughput(const netref::Client& client, long calls, std::size_t window) {
  auto add = client->root()->attr("add");
  std::deque<netref::AsyncCall> outstanding;
  const auto t0 = Clock::now();
  for (long i = 0; i < calls; ++i) {
    if (outstanding.size() >= window) {
      outstanding.front().value();
      outstanding.pop_front();
    }
    outstanding.push_back(add->async_call(std::int64_t{i}, std::int64_t{1}));
  }
  while (!outstanding.empty()) {
    outstanding.front().value();
    outstanding.pop_front();
  }
  return static_cast<double>(calls) / std::chrono::duration<double>(Clock::now() - t0).count();
}

void chain_table(const netref::Client& client, long warmup, long chains) {
  std::cout << "depth | pipelined median p99 trips | not pipelined median p99 trips | sync steps median p99 trips"
               " | pipelined / not pipelined (median)\n";
  for (int depth = 1; depth <= 4; ++depth) {
    // The three alternate by depth, in the same run: the machine's drift touches them alike.
    const Result p = measure(client, depth, warmup, chains, pipelined_chain);
    const Result n = measure(client, depth, warmup, chains, waited_chain);
    const Result s = measure(client, depth, warmup, chains, sync_chain);
    std::cout << std::setprecision(1) << depth << " | " << p.median_us << " " << p.p99_us << " " << p.round_trips
              << " | " << n.median_us << " " << n.p99_us << " " << n.round_trips << " | " << s.median_us << " "
              << s.p99_us << " " << s.round_trips << " | " << std::setprecision(2) << p.median_us / n.median_us << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const long warmup = quick ? 50 : 500;
  const long chains = quick ? 300 : 5000;
  const long async_calls = quick ? 20000 : 200000;

  Server with_pipeline(true);
  Server without_pipeline(false);
  auto pipelined = netref::connect("127.0.0.1", with_pipeline.server->port());
  auto plain = netref::connect("127.0.0.1", without_pipeline.server->port());
  if (!pipelined.connection().peer_has(netref::Feature::pipeline) ||
      plain.connection().peer_has(netref::Feature::pipeline)) {
    std::cerr << "bench_pipeline: the servers did not negotiate as expected\n";
    return 1;
  }

  std::cout << std::fixed << std::setprecision(1);
  std::cout << "# dependent chains over loopback, " << chains << " per row (median and p99 of a whole chain, microseconds)\n";
  chain_table(pipelined, warmup, chains);
  {
    // A link with a round trip of 2 ms (tests/fault's FaultProxy holds each chunk 1 ms each
    // way): where round trips, not the server's work, make the latency.
    netref::test::FaultPlan delayed;
    delayed.delay = std::chrono::milliseconds(1);
    netref::test::FaultProxy proxy(with_pipeline.server->port(), delayed, delayed);
    auto far = netref::connect("127.0.0.1", proxy.port());
    const long far_chains = quick ? 20 : 200;
    std::cout << "# dependent chains through a 2 ms round trip, " << far_chains << " per row (microseconds)\n";
    chain_table(far, 5, far_chains);
  }

  // The same server, a client that does not ask (ConnectionConfig::pipeline_async_calls off).
  netref::ClientConfig unasked_cfg;
  unasked_cfg.connection.pipeline_async_calls = false;
  auto unasked = netref::connect("127.0.0.1", with_pipeline.server->port(), unasked_cfg);
  std::cout << "# async add, window 100, " << async_calls << " calls (calls per second, best of 3)\n";
  double kept = 0, unkept = 0, off = 0;
  for (int round = 0; round < 3; ++round) {
    kept = std::max(kept, async_throughput(pipelined, async_calls, 100));
    unkept = std::max(unkept, async_throughput(unasked, async_calls, 100));
    off = std::max(off, async_throughput(plain, async_calls, 100));
  }
  std::cout << std::setprecision(0) << "results kept (pipeline peer): " << kept
            << " | not asked (pipeline_async_calls off): " << unkept << " | extensions off: " << off
            << std::setprecision(2) << " | kept / not asked " << kept / unkept << " | kept / extensions off "
            << kept / off << "\n";
  return 0;
}
