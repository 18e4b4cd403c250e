// The counter service of DESIGN.md §1: plain functions, an exposed type lent as a netref, and
// a function that calls back into its client. Usage: counter_server [port]   (default 18861)
#include <netref/netref.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 18861);

  netref::Registry types;  // no globals: owned by main, passed down
  types.expose<Counter>("Counter")
      .def("add", &Counter::add)
      .def_readwrite("value", &Counter::value);

  netref::Service calc(types);  // the root object peers see
  calc.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  calc.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  calc.def("apply", [](netref::Proxy fn, std::int64_t x) { return fn->call(x); });  // calls back

  netref::ThreadedServer server(calc, {.host = "127.0.0.1", .port = port});
  std::cout << "counter server listening on 127.0.0.1:" << server.port() << std::endl;
  server.serve_forever();
}
