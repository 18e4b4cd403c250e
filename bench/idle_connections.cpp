// How many idle connections a ThreadPoolServer holds, on how many threads and how much
// memory, and whether an active client still gets its answers at normal speed (issue 3,
// items 1 and 10).
//
// The program runs itself twice: the parent is the client side, the child (`--serve`) the
// server, so /proc/<child>/status shows the server's own threads and memory. The parent
//   1. times an active netref client's add() calls (median and p99 of sync round trips, in
//      rounds: a shared machine's scheduling hiccups spoil one round's p99, not the figure),
//   2. opens N idle connections: raw TCP, each sends one rpyc request (a PING, brine bytes
//      below), reads its reply and then says nothing more, so every one is a live rpyc
//      session that no first-frame timeout drops,
//   3. waits until the server's count() says N + 1,
//   4. times the active client again with the N idle ones open, reads the server's VmRSS and
//      Threads, closes the idle connections and waits for the count to fall back to 1.
//
// Usage: idle_connections [--connections N] [--calls C] [--rounds R] [--quick] [--json FILE]
//   --connections  idle connections (default 10000)
//   --calls        sync calls per round (default 2000); --rounds: rounds per phase (default 5)
//   --quick        N = 200, 200 calls, 3 rounds: a smoke run of a few seconds
//   --serve PORT_FILE [--connections N]   (internal) the server; writes its port to PORT_FILE
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <netref/netref.hpp>

#include "stop_signals.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// One rpyc 5 request on the wire: the channel's header (4-byte big-endian length, a
// "compressed" byte of 0), the brine payload, and the channel's '\n'. The payload is
// rpyc's brine.dump((MSG_REQUEST, 1, (HANDLE_PING, (LABEL_VALUE, (b"idle",))))), as rpyc 5.3
// prints it: a PING whose reply echoes b"idle".
constexpr std::array<std::uint8_t, 19> kPingFrame = {0x00, 0x00, 0x00, 0x0d, 0x00, 0x12, 0x51, 0x51,
                                                     0x11, 0x51, 0x11, 0x51, 0x10, 0x0d, 0x69, 0x64,
                                                     0x6c, 0x65, 0x0a};
// The reply's payload starts with (MSG_REPLY, ...: brine's 3-tuple tag, then the integer 2.
constexpr std::uint8_t kTuple3 = 0x12;
constexpr std::uint8_t kMsgReply = 0x52;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

/// Raises this process's soft descriptor limit to the hard one; returns the new soft limit.
rlim_t raise_fd_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) fail("getrlimit");
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) fail("setrlimit");
  return limit.rlim_cur;
}

// --- the server (child)

int serve(const std::string& port_file, std::size_t connections) {
  raise_fd_limit();
  const bench::StopSignals stop_signals;  // before any thread starts

  netref::Registry types;
  netref::Service service(types, "netref.IdleBenchService");
  netref::ThreadPoolServer* server_ptr = nullptr;
  service.def("ping", [] { return std::string("pong"); });
  service.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  service.def("count", [&server_ptr] { return static_cast<std::int64_t>(server_ptr->connection_count()); });
  // Bytes malloc has handed out and not had back, over every arena: what the connections
  // really hold, where VmRSS also counts freed memory the allocator keeps. (0 under ASan,
  // whose allocator glibc's mallinfo2 does not see.)
  service.def("heap_in_use", [] {
    const struct mallinfo2 info = ::mallinfo2();
    return static_cast<std::int64_t>(info.uordblks + info.hblkhd);
  });

  netref::ServerConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.backlog = 4096;
  cfg.max_connections = connections + 64;
  netref::ThreadPoolServer server(service, cfg);
  server_ptr = &server;
  server.start();

  // Written under another name and renamed: the parent never reads half a port.
  const std::string partial = port_file + ".partial";
  {
    std::ofstream out(partial);
    out << server.port() << '\n';
    if (!out) throw std::runtime_error("cannot write " + partial);
  }
  std::filesystem::rename(partial, port_file);

  stop_signals.wait();
  server.stop();
  return 0;
}

// --- the client side (parent)

/// The server child: started by the constructor, ended (SIGTERM, then waited for) by the
/// destructor. Only this PID is ever signalled.
struct ServerProcess {
  pid_t pid = -1;
  std::uint16_t port = 0;
  std::filesystem::path port_file;

  explicit ServerProcess(std::size_t connections) {
    port_file = std::filesystem::temp_directory_path() /
                ("idle_connections." + std::to_string(::getpid()) + ".port");
    std::filesystem::remove(port_file);
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    pid = ::fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
      std::vector<std::string> argv{self, "--serve", port_file.string(), "--connections", std::to_string(connections)};
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    // Wait for the port file (or for the child to die trying). The destructor does not run
    // when the constructor throws: end the child here.
    const auto end = Clock::now() + 30s;
    while (!std::filesystem::exists(port_file)) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        throw std::runtime_error("the server process exited before it listened");
      }
      if (Clock::now() > end) {
        stop();
        throw std::runtime_error("the server process did not listen within 30 s");
      }
      std::this_thread::sleep_for(5ms);
    }
    std::ifstream in(port_file);
    int p = 0;
    in >> p;
    port = static_cast<std::uint16_t>(p);
  }

  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  void stop() noexcept {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
      pid = -1;
    }
    std::error_code ignored;
    std::filesystem::remove(port_file, ignored);
  }

  /// A field of /proc/<pid>/status ("VmRSS", "Threads") as a number (VmRSS in KiB).
  std::int64_t status_field(const std::string& name) const {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind(name + ":", 0) == 0) return std::stoll(line.substr(name.size() + 1));
    }
    return -1;
  }
};

struct Latency {
  double median_us = 0;  ///< median over rounds of each round's median
  double p99_us = 0;     ///< median over rounds of each round's p99
  double max_us = 0;     ///< the slowest call of all
};

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

/// Times `rounds` rounds of `calls` sync add() round trips, after a warm-up.
Latency measure(netref::Proxy& add, std::size_t calls, std::size_t rounds) {
  for (std::size_t i = 0; i < std::max<std::size_t>(calls / 10, 20); ++i) add->call(std::int64_t(i), 1);
  std::vector<double> medians, p99s;
  Latency l;
  for (std::size_t round = 0; round < rounds; ++round) {
    std::vector<double> us;
    us.reserve(calls);
    for (std::size_t i = 0; i < calls; ++i) {
      const auto start = Clock::now();
      const auto sum = add->call(std::int64_t(i), 1).as<std::int64_t>();
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      if (sum != std::int64_t(i) + 1) throw std::runtime_error("add returned a wrong sum");
    }
    std::sort(us.begin(), us.end());
    medians.push_back(us[us.size() / 2]);
    p99s.push_back(us[static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(us.size()))) - 1]);
    l.max_us = std::max(l.max_us, us.back());
  }
  l.median_us = median_of(medians);
  l.p99_us = median_of(p99s);
  return l;
}

/// Connects to 127.0.0.1:port (blocking) and sends the PING; returns the descriptor.
int open_idle(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    fail("connect to 127.0.0.1:" + std::to_string(port));
  }
  // Replies are read later; never wait on one forever.
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::send(fd, kPingFrame.data(), kPingFrame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kPingFrame.size())) {
    fail("send the PING");
  }
  return fd;
}

/// Reads the PING's reply frame on fd; throws unless it is a reply.
void read_reply(int fd) {
  std::uint8_t header[5];
  auto read_exactly = [fd](std::uint8_t* into, std::size_t size) {
    std::size_t got = 0;
    while (got < size) {
      const ssize_t n = ::recv(fd, into + got, size - got, 0);
      if (n == 0) throw std::runtime_error("the server closed an idle connection before replying");
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("read the PING's reply");
      }
      got += static_cast<std::size_t>(n);
    }
  };
  read_exactly(header, sizeof header);
  const std::uint32_t length = (std::uint32_t(header[0]) << 24) | (std::uint32_t(header[1]) << 16) |
                               (std::uint32_t(header[2]) << 8) | std::uint32_t(header[3]);
  if (length < 2 || length > 4096) throw std::runtime_error("a reply frame of " + std::to_string(length) + " bytes");
  std::vector<std::uint8_t> rest(length + 1);  // payload and '\n'
  read_exactly(rest.data(), rest.size());
  if (header[4] != 0 || rest[0] != kTuple3 || rest[1] != kMsgReply) {
    throw std::runtime_error("the PING's answer is not a plain reply");
  }
}

/// Polls the server's count() until it equals expected; returns how long that took.
double wait_for_count(netref::Proxy& count, std::int64_t expected, std::chrono::seconds limit) {
  const auto start = Clock::now();
  std::int64_t seen = -1;
  while ((seen = count->call().as<std::int64_t>()) != expected) {
    if (Clock::now() - start > limit) {
      throw std::runtime_error("the server counts " + std::to_string(seen) + " connections, expected " +
                               std::to_string(expected));
    }
    std::this_thread::sleep_for(10ms);
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Figures {
  std::size_t connections = 0;
  std::size_t calls = 0;
  std::size_t rounds = 0;
  std::int64_t threads_before = 0, threads_with_idle = 0;
  std::int64_t rss_before_kib = 0, rss_with_idle_kib = 0, rss_after_close_kib = 0;
  std::int64_t heap_before = 0, heap_with_idle = 0, heap_after_close = 0;  // bytes
  double open_seconds = 0, counted_seconds = 0, closed_seconds = 0;
  Latency before, with_idle;

  double rss_per_connection_kib() const {
    return static_cast<double>(rss_with_idle_kib - rss_before_kib) / static_cast<double>(connections);
  }
  double heap_per_connection_kib() const {
    return static_cast<double>(heap_with_idle - heap_before) / 1024.0 / static_cast<double>(connections);
  }
};

void print_table(const Figures& f) {
  auto mib = [](std::int64_t kib) { return static_cast<double>(kib) / 1024.0; };
  auto bytes_mib = [](std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); };
  std::printf("ThreadPoolServer, %zu idle connections + 1 active client (%zu rounds of %zu sync add() calls;\n"
              "median and p99: the median of the rounds' figures)\n",
              f.connections, f.rounds, f.calls);
  std::printf("  %-34s %12s %12s\n", "", "before", "with idle");
  std::printf("  %-34s %12d %12zu\n", "connections", 1, f.connections + 1);
  std::printf("  %-34s %12lld %12lld\n", "server threads", static_cast<long long>(f.threads_before),
              static_cast<long long>(f.threads_with_idle));
  std::printf("  %-34s %12.1f %12.1f\n", "server RSS (MiB)", mib(f.rss_before_kib), mib(f.rss_with_idle_kib));
  std::printf("  %-34s %12.1f %12.1f\n", "server heap in use (MiB)", bytes_mib(f.heap_before),
              bytes_mib(f.heap_with_idle));
  std::printf("  %-34s %12.1f %12.1f   ratio %.2f\n", "active client median (us)", f.before.median_us,
              f.with_idle.median_us, f.with_idle.median_us / f.before.median_us);
  std::printf("  %-34s %12.1f %12.1f   ratio %.2f\n", "active client p99 (us)", f.before.p99_us, f.with_idle.p99_us,
              f.with_idle.p99_us / f.before.p99_us);
  std::printf("  %-34s %12.1f %12.1f\n", "active client max (us)", f.before.max_us, f.with_idle.max_us);
  std::printf("  %-34s %25.2f\n", "server RSS per idle connection (KiB)", f.rss_per_connection_kib());
  std::printf("  %-34s %25.2f\n", "heap in use per idle connection (KiB)", f.heap_per_connection_kib());
  std::printf("  %-34s %25.2f\n", "opening them took (s)", f.open_seconds);
  std::printf("  %-34s %25.2f\n", "then the server counted them in (s)", f.counted_seconds);
  std::printf("  %-34s %25.2f\n", "closing them, back to 1 in (s)", f.closed_seconds);
  std::printf("  %-34s %25.1f\n", "server RSS after closing (MiB)", mib(f.rss_after_close_kib));
  std::printf("  %-34s %25.1f\n", "server heap in use after closing (MiB)", bytes_mib(f.heap_after_close));
}

void write_json(const Figures& f, const std::string& path) {
  std::ofstream out(path);
  out << "{\n"
      << "  \"server\": \"ThreadPoolServer\",\n"
      << "  \"connections\": " << f.connections << ",\n"
      << "  \"calls_per_round\": " << f.calls << ",\n"
      << "  \"rounds\": " << f.rounds << ",\n"
      << "  \"server_threads_before\": " << f.threads_before << ",\n"
      << "  \"server_threads_with_idle\": " << f.threads_with_idle << ",\n"
      << "  \"server_rss_kib_before\": " << f.rss_before_kib << ",\n"
      << "  \"server_rss_kib_with_idle\": " << f.rss_with_idle_kib << ",\n"
      << "  \"server_rss_kib_after_close\": " << f.rss_after_close_kib << ",\n"
      << "  \"rss_kib_per_idle_connection\": " << f.rss_per_connection_kib() << ",\n"
      << "  \"server_heap_bytes_before\": " << f.heap_before << ",\n"
      << "  \"server_heap_bytes_with_idle\": " << f.heap_with_idle << ",\n"
      << "  \"server_heap_bytes_after_close\": " << f.heap_after_close << ",\n"
      << "  \"heap_kib_per_idle_connection\": " << f.heap_per_connection_kib() << ",\n"
      << "  \"active_median_us_before\": " << f.before.median_us << ",\n"
      << "  \"active_p99_us_before\": " << f.before.p99_us << ",\n"
      << "  \"active_max_us_before\": " << f.before.max_us << ",\n"
      << "  \"active_median_us_with_idle\": " << f.with_idle.median_us << ",\n"
      << "  \"active_p99_us_with_idle\": " << f.with_idle.p99_us << ",\n"
      << "  \"active_max_us_with_idle\": " << f.with_idle.max_us << ",\n"
      << "  \"median_ratio\": " << f.with_idle.median_us / f.before.median_us << ",\n"
      << "  \"p99_ratio\": " << f.with_idle.p99_us / f.before.p99_us << ",\n"
      << "  \"open_seconds\": " << f.open_seconds << ",\n"
      << "  \"counted_seconds\": " << f.counted_seconds << ",\n"
      << "  \"closed_seconds\": " << f.closed_seconds << "\n"
      << "}\n";
  if (!out) throw std::runtime_error("cannot write " + path);
}

int run(std::size_t connections, std::size_t calls, std::size_t rounds, const std::string& json_path) {
  const rlim_t fd_limit = raise_fd_limit();
  if (connections + 64 > fd_limit) {
    std::cerr << "idle_connections: " << connections << " connections need more descriptors than the limit of "
              << fd_limit << " (ulimit -Hn)\n";
    return 2;
  }
  ServerProcess server(connections);
  Figures f;
  f.connections = connections;
  f.calls = calls;
  f.rounds = rounds;

  auto client = netref::connect("127.0.0.1", server.port);
  auto root = client->root();
  auto add = root->attr("add");
  auto count = root->attr("count");
  auto heap_in_use = root->attr("heap_in_use");
  wait_for_count(count, 1, 10s);

  f.before = measure(add, calls, rounds);
  f.threads_before = server.status_field("Threads");
  f.rss_before_kib = server.status_field("VmRSS");
  f.heap_before = heap_in_use->call().as<std::int64_t>();

  std::vector<int> idle;
  idle.reserve(connections);
  const auto open_start = Clock::now();
  try {
    for (std::size_t i = 0; i < connections; ++i) idle.push_back(open_idle(server.port));
    for (int fd : idle) read_reply(fd);
  } catch (...) {
    std::cerr << "idle_connections: failed after opening " << idle.size() << " idle connections\n";
    for (int fd : idle) ::close(fd);
    throw;
  }
  f.open_seconds = std::chrono::duration<double>(Clock::now() - open_start).count();
  f.counted_seconds = wait_for_count(count, static_cast<std::int64_t>(connections) + 1, 60s);

  f.with_idle = measure(add, calls, rounds);
  f.threads_with_idle = server.status_field("Threads");
  f.rss_with_idle_kib = server.status_field("VmRSS");
  f.heap_with_idle = heap_in_use->call().as<std::int64_t>();
  // Still all there after the measurement: nothing dropped an idle one.
  wait_for_count(count, static_cast<std::int64_t>(connections) + 1, 1s);

  const auto close_start = Clock::now();
  for (int fd : idle) ::close(fd);
  wait_for_count(count, 1, 60s);
  f.closed_seconds = std::chrono::duration<double>(Clock::now() - close_start).count();
  f.rss_after_close_kib = server.status_field("VmRSS");
  f.heap_after_close = heap_in_use->call().as<std::int64_t>();

  print_table(f);
  if (!json_path.empty()) write_json(f, json_path);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t connections = 10000;
  std::size_t calls = 2000;
  std::size_t rounds = 5;
  bool calls_given = false, rounds_given = false;
  bool quick = false;
  std::string json_path, port_file;
  bool serving = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    if (a == "--connections") {
      connections = std::stoul(value());
    } else if (a == "--calls") {
      calls = std::stoul(value());
      calls_given = true;
    } else if (a == "--rounds") {
      rounds = std::stoul(value());
      rounds_given = true;
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--json") {
      json_path = value();
    } else if (a == "--serve") {
      serving = true;
      port_file = value();
    } else {
      std::cerr << "usage: idle_connections [--connections N] [--calls C] [--rounds R] [--quick] [--json FILE]\n";
      return 2;
    }
  }
  try {
    if (serving) return serve(port_file, connections);
    if (quick) {
      connections = 200;
      if (!calls_given) calls = 200;
      if (!rounds_given) rounds = 3;
    }
    if (connections == 0 || calls == 0 || rounds == 0) {
      throw std::invalid_argument("--connections, --calls and --rounds must be positive");
    }
    return run(connections, calls, rounds, json_path);
  } catch (const std::exception& e) {
    std::cerr << "idle_connections: " << e.what() << '\n';
    return 1;
  }
}
