// The counter service of the guide's getting started (docs/guide/getting-started.md): plain
// functions, an exposed type lent as a netref, and a function that calls back into its client,
// served by a thread pool until SIGINT or SIGTERM
// (then a graceful stop). Usage: counter_server [port]   (default 18861)
#include <netref/netref.hpp>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string_view>

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

int main(int argc, char** argv) {
  // netref prints nothing by default; this program sends its events to standard error.
  netref::set_log_handler([](netref::LogLevel level, std::string_view message, netref::ConnectionId) {
    std::cerr << "netref " << netref::to_string(level) << ": " << message << '\n';
  });
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 18861);

  netref::Registry types;  // no globals: owned by main, passed down
  types.expose<Counter>("Counter")
      .def("add", &Counter::add)
      // A new Counter at this one's value plus n: calls chain (samples/async/pipeline_client.cpp).
      .def("fork", [](const Counter& c, std::int64_t n) { return std::make_shared<Counter>(Counter{c.value + n}); })
      .def_readwrite("value", &Counter::value);

  netref::Service calc(types);  // the root object peers see
  calc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  calc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  calc.def("apply", [](netref::Proxy fn, std::int64_t x) { return fn->call(x); });  // calls back

  // Ctrl-C or SIGTERM stops the server gracefully: running calls get 5 s to finish.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before the server's threads start

  netref::ThreadPoolServer server(calc, {.host = "127.0.0.1", .port = port});
  server.start();
  std::cout << "counter server listening on 127.0.0.1:" << server.port() << std::endl;
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server.stop(std::chrono::seconds(5));
  std::cout << "counter server stopped" << std::endl;
}
