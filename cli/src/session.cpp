#include "session.hpp"

#include "netref/service/connect.hpp"

namespace netref::cli {
namespace {

ClientConfig client_config(const Options& options, Generation generation) {
  ClientConfig config;
  config.connection.generation = generation;
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

Session connect_speaking(const Options& options, Generation generation) {
  Session session;
  session.connection = open_connection(options.address.host, options.address.port, client_config(options, generation));
  session.root = session.connection->root();  // the first request a plain rpyc server answers (hello may be refused)
  return session;
}

}  // namespace

Session open_session(const Options& options) {
  if (options.generation) return connect_speaking(options, *options.generation);
  try {
    return connect_speaking(options, Generation::v6);
  } catch (const ConnectError&) {
    throw;  // nobody there: asking again in 5.x would not help
  } catch (const ConnectionClosed&) {
  } catch (const ProtocolError&) {
  }
  // rpyc 5.3 answers a 6.x message with a 5.x one and hangs up: speak 5.x.
  return connect_speaking(options, Generation::v5);
}

std::string describe_peer(const Connection& connection) {
  return std::string(connection.peer_is_netref() ? "netref" : "rpyc") + " server, rpyc " +
         (connection.generation() == Generation::v5 ? "5" : "6") + " messages";
}

}  // namespace netref::cli
