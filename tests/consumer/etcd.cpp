// Links netref::etcd from an install: builds an etcd registrar and names a key (no etcd is
// needed); exit 0 when the key is the documented one.
#include <netref/etcd/etcd.hpp>

#include <iostream>

int main() {
  const auto registrar = netref::etcd_registrar({.names = {"adder"}});
  const auto key = netref::etcd_service_key("adder", "127.0.0.1:18861");
  std::cout << "consumer_etcd: " << key << "\n";
  return registrar && key == "netref/services/ADDER/127.0.0.1:18861" ? 0 : 1;
}
