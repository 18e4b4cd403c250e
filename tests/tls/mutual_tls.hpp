#pragma once
// Mutual TLS between a test server and its clients, with the certificates of
// tests/tls/make_certs.sh: server-a's certificate, clients of ca-a required.
#include <chrono>
#include <string>

#include "netref/netref.hpp"
#include "tls/certs.hpp"

namespace netref::test {

/// The server side: server-a's certificate; a client certificate of ca-a required unless
/// require_client_certificate is false.
inline TlsContext mutual_tls_server(bool require_client_certificate = true) {
  TlsServerOptions tls;
  tls.certificate = cert("server-a");
  tls.private_key = key("server-a");
  tls.client_ca = cert("ca-a");
  tls.require_client_certificate = require_client_certificate;
  return TlsContext::server(tls);
}

/// A client as who ("client-alice"; empty: no certificate), trusting trusted_ca, within
/// connect_timeout.
inline ClientConfig tls_client_as(const std::string& who, std::chrono::milliseconds connect_timeout,
                                  const std::string& trusted_ca = "ca-a") {
  TlsClientOptions tls;
  tls.ca = cert(trusted_ca);
  if (!who.empty()) {
    tls.certificate = cert(who);
    tls.private_key = key(who);
  }
  ClientConfig cfg;
  cfg.tls = TlsContext::client(tls);
  cfg.connect_timeout = connect_timeout;
  return cfg;
}

/// Alice, with a generous connect timeout: two cores are shared with the other tests.
inline ClientConfig alice() { return tls_client_as("client-alice", std::chrono::seconds(30)); }

}  // namespace netref::test
