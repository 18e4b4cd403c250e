// netref_registry: an RPyC registry server, a drop-in for Python's rpyc_registry (same
// switches where they overlap), bounded and concurrent. Runs until SIGINT or SIGTERM, then
// prints what it did.
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "netref/discovery/registry_server.hpp"

namespace {

constexpr const char* usage = R"(usage: netref_registry [options]
  -m, --mode UDP|TCP        serving mode (default UDP)
      --host ADDRESS        IPv4 address to bind (default 0.0.0.0, as rpyc_registry)
  -p, --port PORT           UDP/TCP port (default 18811; 0 picks one)
  -t, --timeout SECONDS     prune entries not refreshed for this long (default 240)
  -l, --listing [BOOL]      answer LIST requests (default: off)
  -q, --quiet [BOOL]        log nothing but errors
      --max-names N         distinct names held (default 1024)
      --max-entries N       (name, server) pairs held (default 4096)
      --max-name-bytes N    longest name accepted (default 256)
      --max-packet N        longest request accepted, longest reply sent (default 1500)
      --max-tcp-clients N   TCP clients open at once (default 64)
      --tcp-timeout SECONDS a TCP client's time to send its request (default 3)
Prints "netref_registry: serving MODE on HOST:PORT" once listening.
)";

[[noreturn]] void fail(const std::string& message) {
  std::cerr << "netref_registry: " << message << "\n" << usage;
  std::exit(2);
}

template <class T>
T number(std::string_view option, std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) fail("bad value for " + std::string(option) + ": " + std::string(text));
  return value;
}

bool boolean(std::string_view text) {
  if (text == "true" || text == "True" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "False" || text == "0" || text == "no") return false;
  fail("not a boolean: " + std::string(text));
}

std::chrono::milliseconds seconds(std::string_view option, std::string_view text) {
  const double s = number<double>(option, text);
  if (s < 0 || s > 1e7) fail("bad value for " + std::string(option) + ": " + std::string(text));
  return std::chrono::milliseconds(static_cast<long long>(s * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  netref::RegistryServerConfig config;
  config.host = "0.0.0.0";
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) fail(std::string(arg) + " needs a value");
      return argv[++i];
    };
    // --listing and --quiet take an optional boolean (rpyc_registry's take one).
    auto optional_bool = [&] { return i + 1 < argc && argv[i + 1][0] != '-' ? boolean(argv[++i]) : true; };
    if (arg == "-h" || arg == "--help") {
      std::cout << usage;
      return 0;
    } else if (arg == "-m" || arg == "--mode") {
      const auto mode = value();
      if (mode == "UDP" || mode == "udp") config.transport = netref::RegistryTransport::udp;
      else if (mode == "TCP" || mode == "tcp") config.transport = netref::RegistryTransport::tcp;
      else fail("mode must be UDP or TCP, not " + std::string(mode));
    } else if (arg == "--host") {
      config.host = value();
    } else if (arg == "-p" || arg == "--port") {
      config.port = number<std::uint16_t>(arg, value());
    } else if (arg == "-t" || arg == "--timeout") {
      config.prune_timeout = seconds(arg, value());
    } else if (arg == "-l" || arg == "--listing") {
      config.allow_listing = optional_bool();
    } else if (arg == "-q" || arg == "--quiet") {
      quiet = optional_bool();
    } else if (arg == "--max-names") {
      config.max_names = number<std::size_t>(arg, value());
    } else if (arg == "--max-entries") {
      config.max_entries = number<std::size_t>(arg, value());
    } else if (arg == "--max-name-bytes") {
      config.max_name_bytes = number<std::size_t>(arg, value());
    } else if (arg == "--max-packet") {
      config.max_packet_bytes = number<std::size_t>(arg, value());
    } else if (arg == "--max-tcp-clients") {
      config.max_tcp_clients = number<std::size_t>(arg, value());
    } else if (arg == "--tcp-timeout") {
      config.tcp_timeout = seconds(arg, value());
    } else {
      fail("unknown option " + std::string(arg));
    }
  }
  if (!quiet) config.log = [](std::string_view m) { std::cerr << "netref_registry: " << m << std::endl; };

  // SIGINT and SIGTERM are taken by sigwait below, on this thread, once serving.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  try {
    netref::RegistryServer server(config);
    server.start();
    std::cout << "netref_registry: serving " << (config.transport == netref::RegistryTransport::udp ? "UDP" : "TCP")
              << " on " << config.host << ":" << server.port() << std::endl;
    int signal = 0;
    sigwait(&stop_signals, &signal);
    server.stop();
    const auto s = server.stats();
    if (!quiet) {
      std::cerr << "netref_registry: stopped; " << s.requests << " requests, " << s.garbage << " garbage, "
                << s.oversized << " oversized, " << s.refused_registrations << " registrations refused, "
                << s.refused_tcp_clients << " TCP clients refused, " << s.tcp_timeouts << " TCP timeouts, "
                << s.pruned << " entries pruned" << std::endl;
    }
  } catch (const std::exception& e) {
    std::cerr << "netref_registry: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
