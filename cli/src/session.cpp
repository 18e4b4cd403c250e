#include "session.hpp"

#include "netref/service/connect.hpp"

namespace netref::cli {
namespace {

ClientConfig client_config(const Options& options) {
  ClientConfig config;
  config.connection.generation = options.generation;  // unset: found out at connect
  if (options.timeout) {
    config.connect_timeout = *options.timeout;
    config.connection.sync_request_timeout = *options.timeout;
  }
  if (options.tls.enabled) {
    TlsClientOptions tls;
    if (!options.tls.ca_file.empty()) tls.ca = Pem::file(options.tls.ca_file);
    if (!options.tls.cert_file.empty()) tls.certificate = Pem::file(options.tls.cert_file);
    if (!options.tls.key_file.empty()) tls.private_key = Pem::file(options.tls.key_file);
    tls.server_name = options.tls.server_name;
    tls.insecure_skip_verification = options.tls.insecure;
    try {
      config.tls = TlsContext::client(tls);
    } catch (const Error& e) {  // a file that is missing or not PEM: the command line's fault
      throw UsageError(e.what());
    }
  }
  return config;
}

}  // namespace

Session open_session(const Options& options) {
  // Unset: the library finds out which generation the server speaks (rpyc 5.3 answers a 6.x
  // message in 5.x and hangs up; connecting then speaks 5.x).
  Session session;
  session.connection = open_connection(options.address.host, options.address.port, client_config(options));
  session.root = session.connection->root();
  return session;
}

std::string describe_peer(const Connection& connection) {
  return std::string(connection.peer_is_netref() ? "netref" : "rpyc") + " server, rpyc " +
         (connection.generation() == Generation::v5 ? "5" : "6") + " messages";
}

}  // namespace netref::cli
