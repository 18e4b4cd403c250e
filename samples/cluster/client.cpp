// A client of a clustered service: finds its instances by name (an RPyC registry or etcd),
// calls whoami() and add() N times through a ReconnectingClient, and prints each call's
// instance and every reconnect. A server killed under it costs one failed call at most.
//
//   cluster_client --name NAME (--registry udp://HOST:PORT | tcp://HOST:PORT | --etcd http://HOST:PORT)
//                  [--policy pick_first|round_robin] [--calls N] [--interval MS] [--keepalive MS]
//
// Exits 0 when the last call succeeded.
#include <netref/etcd/etcd.hpp>
#include <netref/netref.hpp>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "cluster_args.hpp"

namespace {

int usage() {
  std::cerr << "usage: cluster_client --name NAME (--registry udp://HOST:PORT | tcp://HOST:PORT | "
               "--etcd http://HOST:PORT) [--policy pick_first|round_robin] [--calls N] [--interval MS] "
               "[--keepalive MS]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  cluster::Args args(argc, argv);
  const std::string name = args.value("--name");
  const std::string registry = args.value("--registry");
  const std::string etcd = args.value("--etcd");
  const std::string policy = args.value("--policy", "pick_first");
  int calls = 0, interval = 0, keepalive = 0;
  try {
    calls = std::stoi(args.value("--calls", "20"));
    interval = std::stoi(args.value("--interval", "100"));
    keepalive = std::stoi(args.value("--keepalive", "0"));
  } catch (const std::exception&) {
    return usage();
  }
  if (!args.ok() || name.empty() || registry.empty() == etcd.empty() || calls <= 0 || interval < 0 ||
      (policy != "pick_first" && policy != "round_robin")) {
    return usage();
  }

  netref::ReconnectConfig config;
  config.balancer.policy = policy == "round_robin" ? netref::BalancePolicy::round_robin : netref::BalancePolicy::pick_first;
  config.balancer.client.connect_timeout = std::chrono::seconds(2);
  if (keepalive > 0) {  // notices an instance that vanished without closing (a machine lost)
    config.balancer.client.connection.keepalive_interval = std::chrono::milliseconds(keepalive);
    config.balancer.client.connection.keepalive_timeout = std::chrono::milliseconds(keepalive);
  }
  config.on_disconnect = [](const std::string& why) { std::cout << "disconnected: " << why << std::endl; };
  config.on_reconnect = [](netref::Proxy root) {
    std::cout << "reconnected to " << root->attr("whoami")->call().as<std::string>() << std::endl;
  };

  std::shared_ptr<netref::EtcdServiceWatcher> watcher;  // etcd: the list kept current by a watch
  netref::InstanceSource source;
  try {
    if (!registry.empty()) {
      source = netref::registry_instances(name, cluster::registry_config(registry));
    } else {
      watcher = std::make_shared<netref::EtcdServiceWatcher>(name, netref::EtcdConfig{.endpoints = {etcd}});
      watcher->wait_until([](const auto& list) { return !list.empty(); }, std::chrono::seconds(5));
      source = netref::etcd_instances(watcher);
    }
  } catch (const std::exception& e) {
    std::cerr << "cluster_client: " << e.what() << '\n';
    return 2;
  }

  std::unique_ptr<netref::ReconnectingClient> client;
  try {
    client = std::make_unique<netref::ReconnectingClient>(source, config);
  } catch (const std::exception& e) {
    std::cerr << "cluster_client: cannot reach " << name << ": " << e.what() << '\n';
    return 1;
  }
  bool last_ok = false;
  int ok = 0, failed = 0;
  for (int i = 1; i <= calls; ++i) {
    try {
      // whoami() is a read: safe to send again if the connection drops under it.
      const auto who = client->call_idempotent([](netref::Proxy root) { return root->attr("whoami")->call().as<std::string>(); });
      // add() is sent at most once: a drop fails it, and the next call goes to the next connection.
      const auto sum = client->root()->attr("add")->call(i, 1000).as<std::int64_t>();
      std::cout << "call " << i << ": " << who << " add(" << i << ", 1000) = " << sum << std::endl;
      last_ok = true;
      ++ok;
    } catch (const netref::Error& e) {
      std::cout << "call " << i << " failed: " << e.what() << std::endl;
      last_ok = false;
      ++failed;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(interval));  // pacing for the demo
  }
  std::cout << "done: " << ok << " calls answered, " << failed << " failed, " << (client->epoch() - 1)
            << " reconnect(s)" << std::endl;
  client->close();
  return last_ok ? 0 : 1;
}
