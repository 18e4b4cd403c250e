// TlsContext: an SSL_CTX configured through asio::ssl::context from the client's or the
// server's options, with the defaults of docs/FAULTS.md section J: TLS 1.2 at least, no
// renegotiation, no compression, the peer verified unless the options say insecure.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509err.h>

#include <asio/buffer.hpp>
#include <asio/ssl/context.hpp>
#include <asio/ssl/error.hpp>
#include <cctype>
#include <memory>
#include <string>

#include "tls_stream_impl.hpp"

namespace netref {
namespace detail {

std::string openssl_reason(unsigned long error) {
  if (error == 0) return "unknown TLS error";
  if (const char* reason = ERR_reason_error_string(error)) return reason;
  char text[256];
  ERR_error_string_n(error, text, sizeof text);
  return text;
}

}  // namespace detail

namespace {

// "file /etc/x.pem" or "PEM text (-----BEGIN CERTIFICATE-----)": which input failed.
std::string describe(const Pem& pem) {
  if (pem.text.empty()) return "file " + pem.path;
  const auto begin = pem.text.find("-----BEGIN");
  if (begin == std::string::npos) return "PEM text (no -----BEGIN line)";
  const auto end = pem.text.find_first_of("\r\n", begin);
  return "PEM text (" + pem.text.substr(begin, end - begin) + ")";
}

[[noreturn]] void throw_load_error(const char* what, const Pem& pem, const std::string& reason) {
  ERR_clear_error();  // asio takes one entry off the queue; drop the rest with it
  throw Error("cannot load the TLS " + std::string(what) + " from " + describe(pem) + ": " +
              reason);
}

// "no start line (PEM routines)", or for a file that cannot be opened "no such file or
// directory".
std::string reason_of(const asio::error_code& ec) {
  std::string reason = ec.message();
  if (ec.category() != asio::error::get_ssl_category() && !reason.empty()) {
    reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
  }
  return reason;
}

struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* certificate) const noexcept { X509_free(certificate); }
};

std::unique_ptr<BIO, BioFree> open_pem(const Pem& pem) {
  BIO* bio = pem.text.empty() ? BIO_new_file(pem.path.c_str(), "r")
                              : BIO_new_mem_buf(pem.text.data(), static_cast<int>(pem.text.size()));
  return std::unique_ptr<BIO, BioFree>(bio);
}

std::shared_ptr<TlsContext::Impl> make_impl(asio::ssl::context::method method, bool server) {
  std::shared_ptr<TlsContext::Impl> impl;
  try {
    impl = std::make_shared<TlsContext::Impl>(method, server);
  } catch (const asio::system_error& error) {
    throw Error(std::string("cannot create a TLS context: ") + error.code().message());
  }
  SSL_CTX* ctx = impl->context.native_handle();
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    const std::string reason = detail::openssl_reason(ERR_get_error());
    ERR_clear_error();
    throw Error("cannot require TLS 1.2 or later: " + reason);
  }
  // Renegotiation has a history of DoS and injection bugs and nothing here needs it (TLS 1.3
  // has none); compression invites CRIME. OpenSSL 3 leaves compression off already: say so.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // Partial writes let a writer wait for room and retry without re-encrypting; the moving
  // buffer lets the retry pass the same bytes from wherever the caller now holds them.
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return impl;
}

void load_certificate_chain(asio::ssl::context& context, const Pem& pem) {
  asio::error_code ec;
  if (pem.text.empty()) {
    context.use_certificate_chain_file(pem.path, ec);
  } else {
    context.use_certificate_chain(asio::buffer(pem.text), ec);
  }
  if (ec) throw_load_error("certificate", pem, reason_of(ec));
}

void load_private_key(asio::ssl::context& context, const Pem& pem) {
  asio::error_code ec;
  if (pem.text.empty()) {
    context.use_private_key_file(pem.path, asio::ssl::context::pem, ec);
  } else {
    context.use_private_key(asio::buffer(pem.text), asio::ssl::context::pem, ec);
  }
  if (ec && ec.category() == asio::error::get_ssl_category() &&
      ERR_GET_LIB(static_cast<unsigned long>(ec.value())) == ERR_LIB_X509 &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH) {
    throw_load_error("private key", pem, "it does not match the certificate (key values mismatch)");
  }
  if (ec) throw_load_error("private key", pem, reason_of(ec));
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    ERR_clear_error();
    throw_load_error("private key", pem, "it does not match the certificate");
  }
}

// The CAs of pem become trusted. A server also names them in its certificate request, so a
// client holding several certificates can pick the one this server accepts.
void load_authorities(asio::ssl::context& context, const Pem& pem, bool name_in_requests) {
  asio::error_code ec;
  if (pem.text.empty()) {
    context.load_verify_file(pem.path, ec);
  } else {
    context.add_certificate_authority(asio::buffer(pem.text), ec);
  }
  if (ec) throw_load_error("CA certificates", pem, reason_of(ec));
  if (!name_in_requests) return;
  auto bio = open_pem(pem);
  if (!bio) throw_load_error("CA certificates", pem, "cannot open it");
  for (;;) {
    std::unique_ptr<X509, X509Free> certificate(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!certificate) break;  // the end (the store above already rejected a broken bundle)
    if (SSL_CTX_add_client_CA(context.native_handle(), certificate.get()) != 1) {
      const std::string reason = detail::openssl_reason(ERR_get_error());
      ERR_clear_error();
      throw_load_error("CA certificates", pem, reason);
    }
  }
  ERR_clear_error();  // the PEM "no start line" that ends the loop
}

}  // namespace

TlsContext TlsContext::client(const TlsClientOptions& options) {
  auto impl = make_impl(asio::ssl::context::tls_client, false);
  asio::ssl::context& context = impl->context;
  if (options.ca.empty()) {
    asio::error_code ec;
    context.set_default_verify_paths(ec);
    if (ec) throw Error("cannot load the system's trusted CAs: " + reason_of(ec));
  } else {
    load_authorities(context, options.ca, false);
  }
  if (options.certificate.empty() != options.private_key.empty()) {
    throw Error("TLS client options need both a certificate and its private key, or neither");
  }
  if (!options.certificate.empty()) {
    load_certificate_chain(context, options.certificate);
    load_private_key(context, options.private_key);
  }
  impl->server_name = options.server_name;
  impl->verify_server = !options.insecure_skip_verification;
  // The host name is checked per connection (tls_stream.cpp): it depends on the host.
  SSL_CTX_set_verify(context.native_handle(),
                     impl->verify_server ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  ERR_clear_error();
  return TlsContext(std::move(impl));
}

TlsContext TlsContext::server(const TlsServerOptions& options) {
  if (options.certificate.empty() || options.private_key.empty()) {
    throw Error("TLS server options need a certificate and its private key");
  }
  if (options.require_client_certificate && options.client_ca.empty()) {
    throw Error(
        "TLS server options require a client certificate but name no client_ca to verify it");
  }
  auto impl = make_impl(asio::ssl::context::tls_server, true);
  asio::ssl::context& context = impl->context;
  SSL_CTX* ctx = context.native_handle();
  load_certificate_chain(context, options.certificate);
  load_private_key(context, options.private_key);
  int mode = SSL_VERIFY_NONE;
  if (!options.client_ca.empty()) {
    load_authorities(context, options.client_ca, true);
    mode = SSL_VERIFY_PEER;
    if (options.require_client_certificate) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  SSL_CTX_set_verify(ctx, mode, nullptr);
  // Sessions resumed from tickets must carry the same verification: without an id context
  // OpenSSL refuses to resume them when client certificates are verified.
  static const unsigned char kSessionContext[] = "netref";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  ERR_clear_error();
  return TlsContext(std::move(impl));
}

bool TlsContext::is_server() const noexcept { return impl_ && impl_->server; }

}  // namespace netref
