// Handlers that wait without a thread (issue 14, item 7): N concurrent calls to a handler that
// waits on an Asio timer (netref::spawn_deferred) on a ThreadPoolServer, from a few client
// connections in this process. Prints the time until every reply is in and the threads the
// server and the whole process ran. bench/RESULTS.md, "Handlers that wait without a thread".
// Usage: bench_deferred_wait [calls=10000] [wait_ms=1000] [connections=10]
#include <netref/asio.hpp>
#include <netref/netref.hpp>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

asio::awaitable<std::int64_t> sleep_then_answer(std::chrono::milliseconds wait, std::int64_t x) {
  asio::steady_timer timer(co_await asio::this_coro::executor, wait);
  co_await timer.async_wait(asio::use_awaitable);
  co_return x;
}

// Threads of this process now (/proc/self/status).
int process_threads() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t calls = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10000;
  const std::chrono::milliseconds wait(argc > 2 ? std::strtol(argv[2], nullptr, 10) : 1000);
  const std::size_t connections = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 10;

  asio::io_context io;  // the handlers' timers and coroutines: one thread
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  netref::Registry types;
  netref::Service svc(types);
  svc.def("sleep", [&io](std::int64_t ms, std::int64_t x) {
    return netref::spawn_deferred(io.get_executor(), sleep_then_answer(std::chrono::milliseconds(ms), x));
  });
  netref::ServerConfig cfg;
  cfg.port = 0;
  netref::ThreadPoolServer server(svc, cfg);
  server.start();

  std::vector<netref::Client> clients;
  std::vector<std::unique_ptr<netref::BackgroundServingThread>> serving;
  for (std::size_t i = 0; i < connections; ++i) {
    clients.push_back(netref::connect("127.0.0.1", server.port()));
    serving.push_back(std::make_unique<netref::BackgroundServingThread>(clients.back().connection_ptr()));
  }
  std::vector<netref::Proxy> sleeps;
  for (auto& c : clients) sleeps.push_back(c->root()->attr("sleep"));
  for (auto& s : sleeps) s->call(std::int64_t{0}, std::int64_t{0});  // warm: connections and hello done

  const int threads_before = process_threads();
  const std::size_t server_threads_before = server.thread_count();
  const auto start = std::chrono::steady_clock::now();
  std::vector<netref::AsyncCall> pending;
  pending.reserve(calls);
  for (std::size_t i = 0; i < calls; ++i) {
    pending.push_back(sleeps[i % sleeps.size()]->async_call(static_cast<std::int64_t>(wait.count()),
                                                             static_cast<std::int64_t>(i)));
  }
  const auto sent = std::chrono::steady_clock::now();
  int threads_peak = process_threads();
  std::size_t server_threads_peak = server.thread_count();
  std::int64_t sum = 0;
  for (auto& call : pending) {
    sum += call.value().as<std::int64_t>();
    threads_peak = std::max(threads_peak, process_threads());
    server_threads_peak = std::max(server_threads_peak, server.thread_count());
  }
  const auto done = std::chrono::steady_clock::now();
  const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  const bool correct = sum == static_cast<std::int64_t>(calls * (calls - 1) / 2);

  std::printf("calls: %zu over %zu connections, each waiting %lld ms on an Asio timer (spawn_deferred)\n", calls,
              connections, static_cast<long long>(wait.count()));
  std::printf("all sent after: %.1f ms\n", ms(sent - start));
  std::printf("all answered after: %.1f ms (%s)\n", ms(done - start), correct ? "every value right" : "WRONG VALUES");
  std::printf("server threads (ThreadPoolServer::thread_count, acceptor + workers): %zu before, %zu at most\n",
              server_threads_before, server_threads_peak);
  std::printf("handler io_context threads: 1\n");
  std::printf("process threads (server, io thread, %zu client serving threads, main): %d before, %d at most\n",
              connections, threads_before, threads_peak);

  serving.clear();
  for (auto& c : clients) c.close();
  server.stop();
  work.reset();
  io_thread.join();
  return correct ? 0 : 1;
}
