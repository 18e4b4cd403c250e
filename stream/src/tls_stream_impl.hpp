#pragma once
// What tls_context.cpp and tls_stream.cpp share: the context's state and OpenSSL error text.
// Private to stream/src: OpenSSL never leaks into public headers.
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "netref/stream/tls.hpp"

namespace netref {

/// The state behind a TlsContext: an SSL_CTX configured once by TlsContext::client or
/// ::server, then only read (SSL_new on a shared SSL_CTX is thread-safe).
struct TlsContext::Impl {
  struct Free {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
  };

  Impl(SSL_CTX* ctx, bool server_side) : context(ctx), server(server_side) {}

  const std::unique_ptr<SSL_CTX, Free> context;
  const bool server;
  /// Client only: the name to verify and send as SNI instead of the host connected to.
  std::string server_name;
  /// Client only: false when TlsClientOptions::insecure_skip_verification was set.
  bool verify_server = true;
};

namespace detail {

/// The reason text of one OpenSSL error code ("certificate verify failed"); never empty.
std::string openssl_reason(unsigned long error);

}  // namespace detail
}  // namespace netref
