// Cap'n Proto's promise pipelining beside netref's (issue 14 item 10): the dependent chains of
// bench/pipeline.cpp, depth 1 to 4, against a Cap'n Proto RPC server (bench/capnp/pipeline.capnp)
// that runs in this process on a thread of its own with its own event loop (capnp::EzRpcServer
// on 127.0.0.1, an ephemeral port); the client is a capnp::EzRpcClient on the main thread, over
// loopback TCP. A chain of depth d is makeCounter(10), then fork(1) on each result, add(1) last
// (depth 1: makeCounter alone). Two ways, alternating by depth in the same run:
//   pipelined      each step calls on the `counter` of the previous request's pipeline before
//                  its answer came back; one wait at the end
//   not pipelined  each step waits for the previous response, then calls on its `counter`
// bench_pipeline's third way, "sync steps", has no counterpart here: a Cap'n Proto call is
// always send() and then wait(), which is what "not pipelined" does.
// Median and p99 of a whole chain in microseconds, over loopback and then, as in bench_pipeline,
// through a 2 ms round trip (tests/fault's FaultProxy holding each chunk 1 ms each way). The
// `waits` column is the number of waits a chain makes, by construction (bench_pipeline counts
// round trips from netref's frame counters; EzRpc gives no hook on its stream to do the same).
//
// Usage: bench_capnp_pipeline [--quick]     (same chains per row as bench_pipeline)
#include <capnp/common.h>
#include <capnp/ez-rpc.h>
#include <kj/async.h>
#include <kj/exception.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <future>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fault/faultproxy.hpp"
#include "pipeline.capnp.h"

namespace {

using Clock = std::chrono::steady_clock;
using capnp_pipeline::Counter;
using capnp_pipeline::Root;

class CounterImpl final : public Counter::Server {
 public:
  explicit CounterImpl(std::int64_t value) : value_(value) {}

 protected:
  kj::Promise<void> fork(ForkContext context) override {
    context.getResults().setCounter(kj::heap<CounterImpl>(value_ + context.getParams().getN()));
    return kj::READY_NOW;
  }
  kj::Promise<void> add(AddContext context) override {
    value_ += context.getParams().getN();
    context.getResults().setValue(value_);
    return kj::READY_NOW;
  }

 private:
  std::int64_t value_;
};

class RootImpl final : public Root::Server {
 protected:
  kj::Promise<void> makeCounter(MakeCounterContext context) override {
    context.getResults().setCounter(kj::heap<CounterImpl>(context.getParams().getStart()));
    return kj::READY_NOW;
  }
};

/// The Cap'n Proto server on a thread of its own: listening when the constructor returns (it
/// throws what the server's start threw), stopped and joined by the destructor.
class ServerThread {
 public:
  ServerThread() {
    std::promise<Started> started;
    auto ready = started.get_future();
    thread_ = std::thread([&started] {
      bool announced = false;
      try {
        capnp::EzRpcServer server(kj::heap<RootImpl>(), "127.0.0.1", 0);
        auto& ws = server.getWaitScope();
        auto stop = kj::newPromiseAndCrossThreadFulfiller<void>();
        const unsigned port = server.getPort().wait(ws);
        started.set_value(Started{port, kj::mv(stop.fulfiller)});
        announced = true;  // from here on `started` may be gone
        stop.promise.wait(ws);
      } catch (...) {
        if (!announced) started.set_exception(std::current_exception());
      }
    });
    try {
      auto s = ready.get();
      port_ = s.port;
      stop_ = kj::mv(s.stop);
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~ServerThread() {
    stop_->fulfill();
    thread_.join();
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  unsigned port() const { return port_; }

 private:
  struct Started {
    unsigned port;
    kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop;
  };
  std::thread thread_;
  unsigned port_ = 0;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
};

void check_value(std::int64_t value, int depth) {
  // 10, plus 1 per fork (depth - 2 of them), plus the add's 1.
  if (value != 10 + depth - 1) {
    throw std::runtime_error("chain of depth " + std::to_string(depth) + " returned " + std::to_string(value) +
                             ", expected " + std::to_string(10 + depth - 1));
  }
}

// Each step calls on the pipelined `counter` of the request before it, whose answer has not
// come back, and the chain waits once, for add's value. The pipelined capabilities are held
// until then: dropping each as the next step replaces it sends its Finish among the calls
// (one more message per step); in trial runs that made no difference beyond the noise.
void pipelined_chain(Root::Client& root, kj::WaitScope& ws, int depth) {
  auto make = root.makeCounterRequest();
  make.setStart(10);
  if (depth == 1) {
    make.send().wait(ws);
    return;
  }
  std::vector<Counter::Client> counters;
  counters.push_back(make.send().getCounter());
  for (int step = 2; step < depth; ++step) {
    auto fork = counters.back().forkRequest();
    fork.setN(1);
    counters.push_back(fork.send().getCounter());
  }
  auto add = counters.back().addRequest();
  add.setN(1);
  check_value(add.send().wait(ws).getValue(), depth);
}

// Each step waits for the response before it and calls on the capability it returned.
void waited_chain(Root::Client& root, kj::WaitScope& ws, int depth) {
  auto make = root.makeCounterRequest();
  make.setStart(10);
  auto made = make.send().wait(ws);
  if (depth == 1) return;
  Counter::Client counter = made.getCounter();
  for (int step = 2; step < depth; ++step) {
    auto fork = counter.forkRequest();
    fork.setN(1);
    counter = fork.send().wait(ws).getCounter();
  }
  auto add = counter.addRequest();
  add.setN(1);
  check_value(add.send().wait(ws).getValue(), depth);
}

struct Result {
  double median_us = 0, p99_us = 0;
  int waits = 0;
};

Result summarize(std::vector<double>& us, int waits) {
  std::sort(us.begin(), us.end());
  return Result{us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)], waits};
}

template <class Chain>
Result measure(Root::Client& root, kj::WaitScope& ws, int depth, long warmup, long chains, int waits, Chain&& chain) {
  for (long i = 0; i < warmup; ++i) chain(root, ws, depth);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(chains));
  for (long i = 0; i < chains; ++i) {
    const auto t0 = Clock::now();
    chain(root, ws, depth);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  return summarize(us, waits);
}

void chain_table(Root::Client& root, kj::WaitScope& ws, long warmup, long chains) {
  std::cout << "depth | pipelined median p99 waits | not pipelined median p99 waits"
               " | pipelined / not pipelined (median)\n";
  for (int depth = 1; depth <= 4; ++depth) {
    // The two alternate by depth, in the same run: the machine's drift touches them alike.
    const Result p = measure(root, ws, depth, warmup, chains, 1, pipelined_chain);
    const Result n = measure(root, ws, depth, warmup, chains, depth, waited_chain);
    std::cout << std::setprecision(1) << depth << " | " << p.median_us << " " << p.p99_us << " " << p.waits << " | "
              << n.median_us << " " << n.p99_us << " " << n.waits << " | " << std::setprecision(2)
              << p.median_us / n.median_us << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const long warmup = quick ? 50 : 500;
  const long chains = quick ? 300 : 5000;
  try {
    ServerThread server;
    std::cout << std::fixed << std::setprecision(1);
    {
      // The client, its connection and its event loop go before the server thread stops.
      capnp::EzRpcClient client("127.0.0.1", server.port());
      auto root = client.getMain<Root>();
      std::cout << "# Cap'n Proto " << CAPNP_VERSION_MAJOR << "." << CAPNP_VERSION_MINOR << "."
                << CAPNP_VERSION_MICRO << " (EzRpc), dependent chains over loopback, " << chains
                << " per row (median and p99 of a whole chain, microseconds)\n";
      chain_table(root, client.getWaitScope(), warmup, chains);
    }
    {
      // A link with a round trip of 2 ms, as in bench_pipeline: where round trips, not the
      // work per call, make the latency.
      netref::test::FaultPlan delayed;
      delayed.delay = std::chrono::milliseconds(1);
      netref::test::FaultProxy proxy(static_cast<std::uint16_t>(server.port()), delayed, delayed);
      capnp::EzRpcClient far("127.0.0.1", proxy.port());
      auto root = far.getMain<Root>();
      const long far_chains = quick ? 20 : 200;
      std::cout << "# Cap'n Proto, dependent chains through a 2 ms round trip, " << far_chains
                << " per row (microseconds)\n";
      chain_table(root, far.getWaitScope(), 5, far_chains);
    }
    return 0;
  } catch (const kj::Exception& e) {
    std::cerr << "bench_capnp_pipeline: " << e.getDescription().cStr() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_capnp_pipeline: " << e.what() << "\n";
  }
  return 1;
}
