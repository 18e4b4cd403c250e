// The mutual-TLS client: trusts our CA, proves it is alice.
// Usage: tls_client <certs-dir> [port]
#include <netref/netref.hpp>

#include <cstdlib>
#include <iostream>
#include <string_view>
#include <string>

int main(int argc, char** argv) {
  // netref prints nothing by default; this program sends its events to standard error.
  netref::set_log_handler([](netref::LogLevel level, std::string_view message, netref::ConnectionId) {
    std::cerr << "netref " << netref::to_string(level) << ": " << message << '\n';
  });
  if (argc < 2) {
    std::cerr << "usage: tls_client <certs-dir> [port]\n";
    return 2;
  }
  const std::string certs = argv[1];
  const auto port = static_cast<std::uint16_t>(argc > 2 ? std::atoi(argv[2]) : 18862);

  netref::TlsClientOptions tls;
  tls.ca = netref::Pem::file(certs + "/ca.crt");             // whom we trust
  tls.certificate = netref::Pem::file(certs + "/alice.crt");  // who we are
  tls.private_key = netref::Pem::file(certs + "/alice.key");

  netref::ClientConfig cfg;
  cfg.tls = netref::TlsContext::client(tls);
  auto client = netref::connect("localhost", port, cfg);
  auto root = client->root();
  std::cout << "the server sees us as: " << root->attr("whoami")->call().as<std::string>() << std::endl;
  std::cout << "add(2, 40) = " << root->attr("add")->call(2, 40).as<std::int64_t>() << std::endl;
}
