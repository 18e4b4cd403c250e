// One instance of a clustered service: the counter service of samples/counter plus whoami(),
// which answers this instance's host:port, registered under a name with an RPyC registry
// and/or etcd while it serves. Runs until SIGINT or SIGTERM.
//
//   cluster_server --port P --name NAME [--host 127.0.0.1]
//                  [--registry udp://HOST:PORT | tcp://HOST:PORT] [--etcd http://HOST:PORT]
//                  [--ttl SECONDS]
#include <netref/etcd/etcd.hpp>
#include <netref/netref.hpp>

#include <csignal>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_args.hpp"

namespace {

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

// Both registrars at once: an RPyC registry for the machine, etcd for the cluster.
class Registrars : public netref::ServerRegistrar {
 public:
  explicit Registrars(std::vector<std::shared_ptr<netref::ServerRegistrar>> all) : all_(std::move(all)) {}
  void server_started(const netref::ServerEndpoint& endpoint) override {
    for (auto& r : all_) r->server_started(endpoint);
  }
  void server_stopping() noexcept override {
    for (auto& r : all_) r->server_stopping();
  }

 private:
  std::vector<std::shared_ptr<netref::ServerRegistrar>> all_;
};

int usage() {
  std::cerr << "usage: cluster_server --port P --name NAME [--host HOST] [--registry udp://HOST:PORT | "
               "tcp://HOST:PORT] [--etcd http://HOST:PORT] [--ttl SECONDS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  netref::set_log_handler([](netref::LogLevel level, std::string_view message, netref::ConnectionId) {
    if (level >= netref::LogLevel::warning) std::cerr << "netref " << netref::to_string(level) << ": " << message << '\n';
  });
  cluster::Args args(argc, argv);
  const std::string name = args.value("--name");
  const std::string host = args.value("--host", "127.0.0.1");
  const std::string registry = args.value("--registry");
  const std::string etcd = args.value("--etcd");
  int port = 0, ttl = 0;
  try {
    port = std::stoi(args.value("--port", "0"));
    ttl = std::stoi(args.value("--ttl", "10"));
  } catch (const std::exception&) {
    return usage();
  }
  if (!args.ok() || name.empty() || port <= 0 || port > 65535 || ttl <= 0) return usage();

  netref::Registry types;
  types.expose<Counter>("Counter").def("add", &Counter::add).def_readwrite("value", &Counter::value);
  netref::Service service(types);
  const std::string me = host + ":" + std::to_string(port);
  service.def("whoami", [me] { return me; });
  service.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  service.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
  service.def("apply", [](netref::Proxy fn, std::int64_t x) { return fn->call(x); });  // calls back

  netref::ServerConfig config;
  config.host = host;
  config.port = static_cast<std::uint16_t>(port);
  std::vector<std::shared_ptr<netref::ServerRegistrar>> registrars;
  try {
    if (!registry.empty()) {
      netref::RegistrarConfig r{.aliases = {name}};
      r.registry = cluster::registry_config(registry);
      registrars.push_back(netref::registry_registrar(r));
    }
    if (!etcd.empty()) {
      registrars.push_back(netref::etcd_registrar(
          {.names = {name}, .etcd = {.endpoints = {etcd}}, .ttl = std::chrono::seconds(ttl)}));
    }
  } catch (const std::exception& e) {
    std::cerr << "cluster_server: " << e.what() << '\n';
    return 2;
  }
  if (!registrars.empty()) config.registrar = std::make_shared<Registrars>(std::move(registrars));

  sigset_t stop_signals;  // blocked before the server's threads start; taken by sigwait below
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  netref::ThreadPoolServer server(service, config);
  try {
    server.start();
  } catch (const std::exception& e) {
    std::cerr << "cluster_server: " << e.what() << '\n';
    return 1;
  }
  std::cout << "cluster_server " << name << " serving on " << me << std::endl;
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server.stop(std::chrono::seconds(2));  // unregisters first
  std::cout << "cluster_server " << me << " stopped" << std::endl;
}
