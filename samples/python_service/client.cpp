// A C++ client of a plain Python rpyc service (server.py beside this file).
// Usage: python_service_client [port]   (default 18871)
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
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 18871);

  auto conn = netref::connect("127.0.0.1", port);  // finds out the server speaks rpyc 5.x (Debian's 5.3)
  auto root = conn->root();

  std::cout << root->attr("greet")->call("netref").as<std::string>() << "\n";
  std::cout << root->attr("greet")->call("netref", netref::kw("punctuation", "?")).as<std::string>() << "\n";

  auto scaled = root->attr("scale")->call(std::vector<double>{1.5, 2.0}, 2).as<std::vector<double>>();
  std::cout << "scale([1.5, 2.0], 2) = " << scaled[0] << ", " << scaled[1] << "\n";

  auto inventory = root->attr("inventory")->call();  // a netref to a Python object
  inventory->attr("add")->call("apple", 3);
  std::cout << "apples: " << inventory->attr("count")->call("apple").as<std::int64_t>() << "\n";

  try {
    root->attr("fail")->call("out of stock");
  } catch (const netref::RemoteError& e) {
    std::cout << "Python raised " << e.module() << "." << e.class_name() << ": " << e.message() << "\n";
  }

  auto doubled = root->attr("map")->call(netref::local([](std::int64_t x) { return x * 2; }),
                                          std::vector<std::int64_t>{1, 2, 3});
  auto values = doubled.as<std::vector<std::int64_t>>();
  std::cout << "map(x * 2, [1, 2, 3]) = " << values[0] << ", " << values[1] << ", " << values[2] << "\n";
  conn->close();
}
