// A mutual-TLS service: only clients with a certificate from our CA get in, and each call
// knows who is calling. Usage: tls_server <certs-dir> [port]   (make certs with make-certs.sh)
#include <netref/netref.hpp>

#include <csignal>
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
    std::cerr << "usage: tls_server <certs-dir> [port]\n";
    return 2;
  }
  const std::string certs = argv[1];
  const auto port = static_cast<std::uint16_t>(argc > 2 ? std::atoi(argv[2]) : 18862);

  netref::Registry types;
  netref::Service greeter(types);
  greeter.def("whoami", [] { return netref::Connection::current()->peer_identity(); });
  greeter.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
  greeter.on_connect([](netref::Connection& c) { std::cout << "connected: " << c.peer_identity() << std::endl; });

  netref::TlsServerOptions tls;
  tls.certificate = netref::Pem::file(certs + "/server.crt");
  tls.private_key = netref::Pem::file(certs + "/server.key");
  tls.client_ca = netref::Pem::file(certs + "/ca.crt");
  tls.require_client_certificate = true;

  netref::ServerConfig cfg;
  cfg.port = port;
  cfg.tls = netref::TlsContext::server(tls);

  // Stop gracefully on Ctrl-C or SIGTERM: running calls get 5 s to finish.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before any thread starts

  netref::ThreadPoolServer server(greeter, cfg);
  server.start();
  std::cout << "TLS server listening on 127.0.0.1:" << server.port() << std::endl;
  int received = 0;
  sigwait(&stop_signals, &received);
  server.stop(std::chrono::seconds(5));
  std::cout << "stopped" << std::endl;
}
