// Discovery's costs (issue 13 point 7), on loopback:
//   D1 connect_by_service through netref_registry, Python's rpyc registry (the classes
//      /usr/bin/rpyc_registry runs) and etcd: discovery alone, and discovery plus connect;
//   D2 failover: from killing the instance a ReconnectingClient is on (SIGKILL: the kernel
//      closes its sockets; SIGSTOP: a frozen machine, noticed by keepalive) to the client's
//      first answered call from another instance;
//   D3 watch delay: from a server's start (etcd_registrar grants a lease and puts its key) to
//      an EtcdServiceWatcher listing it.
// Starts what it needs (netref_registry, python3, etcd, cluster_server) as children on free
// loopback ports and stops them by PID. Usage: bench_discovery [rounds]   (default 200/10)
#include <netref/etcd/etcd.hpp>
#include <netref/netref.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "interop/child_process.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using netref::test::ChildProcess;

namespace {

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

void report(const std::string& what, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(ms.size())))]; };
  std::printf("%-58s n=%-4zu median %8.3f ms   p90 %8.3f ms   max %8.3f ms\n", what.c_str(), ms.size(), at(0.5),
              at(0.9), ms.back());
  std::fflush(stdout);
}

std::vector<double> repeat(int n, const std::function<void()>& fn) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    fn();
    ms.push_back(ms_since(start));
  }
  return ms;
}

std::uint16_t free_port() {
  auto listener = netref::listen_tcp("127.0.0.1", 0);
  return listener->port();
}

// The port in a child's "... PORT" readiness line (the last ':' or ' ' before it).
std::uint16_t ready_port(ChildProcess& child, const std::string& prefix) {
  std::string line;
  while (child.read_line(line)) {
    if (line.rfind(prefix, 0) == 0) {
      const auto cut = line.find_last_of(": ");
      return static_cast<std::uint16_t>(std::stoi(line.substr(cut + 1)));
    }
  }
  throw std::runtime_error("a child ended before it was ready: " + line);
}

// A server answering whoami() with its host:port.
std::unique_ptr<netref::ThreadedServer> whoami_server(netref::ServerConfig config = {}, std::uint16_t port = 0) {
  netref::Service svc;
  auto me = std::make_shared<std::string>();
  svc.def("whoami", [me] { return *me; });
  config.host = "127.0.0.1";
  config.port = port;
  auto server = std::make_unique<netref::ThreadedServer>(svc, config);
  server->start();
  *me = "127.0.0.1:" + std::to_string(server->port());
  return server;
}

void d1_registry(const std::string& label, const netref::RegistryConfig& where, std::uint16_t server_port, int n) {
  netref::RegistryClient(where).register_service({"BENCH"}, server_port);
  report("D1 " + label + ": discover()", repeat(n, [&] { netref::discover("BENCH", where); }));
  report("D1 " + label + ": connect_by_service() + first call", repeat(n, [&] {
           auto client = netref::connect_by_service("BENCH", where);
           client->root()->attr("whoami")->call();
           client.close();
         }));
}

struct Etcd {
  std::string dir;
  std::string url;
  std::unique_ptr<ChildProcess> process;
  Etcd() {
    char pattern[] = "/tmp/bench-discovery-etcd-XXXXXX";
    dir = ::mkdtemp(pattern);
    const auto client_port = free_port(), peer_port = free_port();
    url = "http://127.0.0.1:" + std::to_string(client_port);
    const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port);
    process = std::make_unique<ChildProcess>(std::vector<std::string>{
        "/usr/bin/etcd", "--name", "bench", "--data-dir", dir + "/data", "--listen-client-urls", url,
        "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", "bench=" + peer, "--logger", "zap", "--log-outputs", "stderr", "--log-level", "error"});
    netref::EtcdClient client({.endpoints = {url}});
    for (int i = 0;; ++i) {
      try {
        client.range("probe");
        return;
      } catch (const netref::Error&) {
        if (i > 200) throw;
        std::this_thread::sleep_for(50ms);  // etcd starting: polled, bounded
      }
    }
  }
  ~Etcd() {
    ::kill(process->pid(), SIGTERM);
    process->wait();
    std::filesystem::remove_all(dir);
  }
};

void d1_etcd(const Etcd& etcd, int n) {
  netref::ServerConfig config;
  config.registrar = netref::etcd_registrar({.names = {"BENCH"}, .etcd = {.endpoints = {etcd.url}}});
  auto server = whoami_server(config);
  const netref::EtcdConfig where{.endpoints = {etcd.url}};
  for (int i = 0; i < 200; ++i) {  // registered on the registrar's thread: polled, bounded
    try {
      netref::etcd_discover("BENCH", where);
      break;
    } catch (const netref::ServiceNotFound&) {
      std::this_thread::sleep_for(10ms);
    }
  }
  report("D1 etcd: etcd_discover()", repeat(n, [&] { netref::etcd_discover("BENCH", where); }));
  report("D1 etcd: etcd_connect_by_service() + first call", repeat(n, [&] {
           auto client = netref::etcd_connect_by_service("BENCH", where);
           client->root()->attr("whoami")->call();
           client.close();
         }));
  netref::EtcdServiceWatcher watcher("BENCH", where);
  watcher.wait_until([](const auto& list) { return !list.empty(); }, 5s);
  report("D1 etcd: a watcher's list (etcd_instances) + connect + first call", repeat(n, [&] {
           netref::Balancer balancer([&] { return watcher.instances(); });
           auto client = balancer.connect();
           client->root()->attr("whoami")->call();
           client.close();
         }));
}

void d2_failover(const std::string& cluster_server, int signal, const std::string& label, int rounds) {
  auto other = whoami_server();
  const std::string other_name = "127.0.0.1:" + std::to_string(other->port());
  std::vector<double> ms;
  for (int round = 0; round < rounds; ++round) {
    const std::uint16_t port = free_port();
    ChildProcess victim({cluster_server, "--port", std::to_string(port), "--name", "BENCH"});
    ready_port(victim, "cluster_server");
    netref::ReconnectConfig config;
    config.balancer.policy = netref::BalancePolicy::round_robin;  // a reconnect goes to the next instance
    config.balancer.client.connection.keepalive_interval = 200ms;
    config.balancer.client.connection.keepalive_timeout = 300ms;
    netref::ReconnectingClient client(
        [&] { return std::vector<netref::ServiceAddress>{{"127.0.0.1", port}, {"127.0.0.1", other->port()}}; }, config);
    auto whoami = [&] { return client.root()->attr("whoami")->call().as<std::string>(); };
    if (whoami() != "127.0.0.1:" + std::to_string(port)) throw std::runtime_error("the client is not on the victim");
    const auto start = Clock::now();
    ::kill(victim.pid(), signal);
    for (;;) {
      try {
        if (whoami() == other_name) break;
      } catch (const netref::ConnectionClosed&) {
        // the call in flight when it died: not sent again; the next goes to the new connection
      }
    }
    ms.push_back(ms_since(start));
    if (signal != SIGKILL) ::kill(victim.pid(), SIGKILL);
    victim.wait();
  }
  report("D2 failover, " + label, ms);
}

void d3_watch(const Etcd& etcd, int rounds) {
  const netref::EtcdConfig where{.endpoints = {etcd.url}};
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<netref::ServiceAddress> seen;
  Clock::time_point seen_at;
  netref::EtcdServiceWatcher watcher("WATCHED", where, [&](const std::vector<netref::ServiceAddress>& list) {
    const auto now = Clock::now();
    std::lock_guard lk(mutex);
    seen = list;
    seen_at = now;
    changed.notify_all();
  });
  std::vector<double> ms;
  for (int round = 0; round < rounds; ++round) {
    netref::ServerConfig config;
    const std::uint16_t port = free_port();
    config.registrar = netref::etcd_registrar({.names = {"WATCHED"}, .etcd = where});
    const netref::ServiceAddress address{"127.0.0.1", port};
    const auto start = Clock::now();
    auto server = whoami_server(config, port);
    {
      std::unique_lock lk(mutex);
      if (!changed.wait_for(lk, 10s, [&] { return std::find(seen.begin(), seen.end(), address) != seen.end(); })) {
        throw std::runtime_error("the watcher never saw the new server");
      }
      ms.push_back(std::chrono::duration<double, std::milli>(seen_at - start).count());
    }
    server->stop();  // revokes its lease: the watcher sees it go before the next round
    std::unique_lock lk(mutex);
    changed.wait_for(lk, 10s, [&] { return std::find(seen.begin(), seen.end(), address) == seen.end(); });
  }
  report("D3 watch delay: server start -> watcher lists it", ms);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::max(1, std::atoi(argv[1])) : 200;
  const int rounds = std::max(3, n / 20);
  auto server = whoami_server();

  {
    ChildProcess registry({NETREF_REGISTRY_PROGRAM, "--host", "127.0.0.1", "--port", "0"});
    const auto port = ready_port(registry, "netref_registry: serving");
    d1_registry("netref_registry (UDP)", {.transport = netref::RegistryTransport::udp, .host = "127.0.0.1", .port = port},
                server->port(), n);
  }
  {
    ChildProcess registry({"/usr/bin/env", "-u", "PYTHONPATH", "/usr/bin/python3",
                           NETREF_SOURCE_DIR "/tests/discovery/py_discovery.py", "registry", "UDP"});
    const auto port = ready_port(registry, "ready");
    d1_registry("rpyc 5.3 registry (UDP)", {.transport = netref::RegistryTransport::udp, .host = "127.0.0.1", .port = port},
                server->port(), n);
  }
  struct stat info {};
  if (::stat("/usr/bin/etcd", &info) == 0) {
    Etcd etcd;
    d1_etcd(etcd, n);
    d3_watch(etcd, rounds);
  } else {
    std::printf("D1/D3 etcd: skipped (no /usr/bin/etcd)\n");
  }
  d2_failover(NETREF_CLUSTER_SERVER, SIGKILL, "SIGKILL (the kernel closes the socket)", rounds);
  d2_failover(NETREF_CLUSTER_SERVER, SIGSTOP, "SIGSTOP (frozen; keepalive 200 ms + 300 ms)", rounds);
}
