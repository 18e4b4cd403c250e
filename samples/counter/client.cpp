// A C++ client of the counter service. Usage: counter_client [port]   (default 18861)
#include <netref/netref.hpp>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string_view>

int main(int argc, char** argv) {
  // netref prints nothing by default; this program sends its events to standard error.
  netref::set_log_handler([](netref::LogLevel level, std::string_view message, netref::ConnectionId) {
    std::cerr << "netref " << netref::to_string(level) << ": " << message << '\n';
  });
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 18861);

  auto conn = netref::connect("127.0.0.1", port);
  auto root = conn->root();

  auto sum = root->attr("add")->call(2, 3).as<std::int64_t>();  // one round trip
  std::cout << "add(2, 3) = " << sum << "\n";

  auto counter = root->attr("make_counter")->call(10);  // a netref to a Counter on the server
  counter->attr("add")->call(5);
  auto v = counter->attr("value")->get().as<std::int64_t>();
  std::cout << "counter.value = " << v << "\n";  // 15

  counter->attr("value")->set(100);
  std::cout << "after set, counter.value = " << counter->attr("value")->get().as<std::int64_t>() << "\n";

  auto pending = root->attr("add")->async_call(1, 1);  // AsyncCall
  std::cout << "async add(1, 1) = " << pending.value().as<std::int64_t>() << "\n";

  // The server calls our lambda back while we wait for apply's reply.
  auto r = root->attr("apply")->call(netref::local([](std::int64_t x) { return x * 2; }), 21);
  std::cout << "apply(x * 2, 21) = " << r.as<std::int64_t>() << "\n";  // 42

  try {
    root->attr("no_such_function")->call();
  } catch (const netref::AttributeError& e) {
    std::cout << "calling an unexposed name: " << e.what() << "\n";
  }
  conn->close();
}
