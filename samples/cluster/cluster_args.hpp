#pragma once
// The cluster sample's command line: --flag value pairs, and a registry URL
// (udp://HOST:PORT or tcp://HOST:PORT) as a RegistryConfig.
#include <netref/netref.hpp>

#include <map>
#include <stdexcept>
#include <string>

namespace cluster {

class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; i += 2) {
      const std::string flag = argv[i];
      if (flag.rfind("--", 0) != 0 || i + 1 >= argc) {
        ok_ = false;
        return;
      }
      values_[flag] = argv[i + 1];
    }
  }
  bool ok() const { return ok_; }
  std::string value(const std::string& flag, const std::string& otherwise = "") const {
    auto it = values_.find(flag);
    return it == values_.end() ? otherwise : it->second;
  }

 private:
  std::map<std::string, std::string> values_;
  bool ok_ = true;
};

/// "udp://127.0.0.1:18811" -> a RegistryConfig; throws std::invalid_argument otherwise.
inline netref::RegistryConfig registry_config(const std::string& url) {
  netref::RegistryConfig config;
  std::string rest;
  if (url.rfind("udp://", 0) == 0) {
    config.transport = netref::RegistryTransport::udp;
    rest = url.substr(6);
  } else if (url.rfind("tcp://", 0) == 0) {
    config.transport = netref::RegistryTransport::tcp;
    rest = url.substr(6);
  } else {
    throw std::invalid_argument("a registry URL is udp://HOST:PORT or tcp://HOST:PORT, not " + url);
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::invalid_argument("no HOST:PORT in " + url);
  config.host = rest.substr(0, colon);
  const int port = std::stoi(rest.substr(colon + 1));
  if (port <= 0 || port > 65535) throw std::invalid_argument("bad port in " + url);
  config.port = static_cast<std::uint16_t>(port);
  return config;
}

}  // namespace cluster
