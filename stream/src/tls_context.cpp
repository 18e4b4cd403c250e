// TlsContext: an SSL_CTX configured with OpenSSL's own calls from the client's or the
// server's options, with the defaults of docs/FAULTS.md section J: TLS 1.2 at least, no
// renegotiation, no compression, the peer verified unless the options say insecure.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509err.h>

#include <cctype>
#include <cstring>
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
  ERR_clear_error();  // the first entry said why; the rest are its consequences
  throw Error("cannot load the TLS " + std::string(what) + " from " + describe(pem) + ": " +
              reason);
}

// The text of one queued OpenSSL error: "no start line (PEM routines)", or for a file that
// cannot be opened "no such file or directory".
std::string reason_of(unsigned long error) {
  if (error == 0) return "unknown TLS error";
  if (ERR_GET_LIB(error) == ERR_LIB_SYS) {
    char buffer[256];
    std::string text = ::strerror_r(ERR_GET_REASON(error), buffer, sizeof buffer);  // GNU form
    if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
  }
  std::string text = detail::openssl_reason(error);
  if (const char* library = ERR_lib_error_string(error)) text += std::string(" (") + library + ")";
  return text;
}

// The first error OpenSSL queued: the cause, where the later ones are its consequences.
std::string first_reason() { return reason_of(ERR_peek_error()); }

// PEM's "no start line" ends every read of a bundle: the end of the input, not a failure.
bool only_end_of_pem() {
  const unsigned long last = ERR_peek_last_error();
  return last == 0 || (ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE);
}

struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* certificate) const noexcept { X509_free(certificate); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioFree> open_pem(const Pem& pem) {
  BIO* bio = pem.text.empty() ? BIO_new_file(pem.path.c_str(), "r")
                              : BIO_new_mem_buf(pem.text.data(), static_cast<int>(pem.text.size()));
  return std::unique_ptr<BIO, BioFree>(bio);
}

std::shared_ptr<TlsContext::Impl> make_impl(bool server) {
  ERR_clear_error();
  SSL_CTX* raw = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (raw == nullptr) {
    const std::string reason = first_reason();
    ERR_clear_error();
    throw Error("cannot create a TLS context: " + reason);
  }
  auto impl = std::make_shared<TlsContext::Impl>(raw, server);
  SSL_CTX* ctx = impl->context.get();
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

// The certificate, then the chain that follows it in the same PEM.
void load_certificate_chain(SSL_CTX* ctx, const Pem& pem) {
  ERR_clear_error();
  if (pem.text.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, pem.path.c_str()) != 1) {
      throw_load_error("certificate", pem, first_reason());
    }
    return;
  }
  auto bio = open_pem(pem);
  if (!bio) throw_load_error("certificate", pem, first_reason());
  std::unique_ptr<X509, X509Free> certificate(PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr));
  if (!certificate) throw_load_error("certificate", pem, first_reason());
  if (SSL_CTX_use_certificate(ctx, certificate.get()) != 1) throw_load_error("certificate", pem, first_reason());
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* link = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, link) != 1) {  // takes link only when it succeeds
      X509_free(link);
      throw_load_error("certificate", pem, first_reason());
    }
  }
  if (!only_end_of_pem()) throw_load_error("certificate", pem, first_reason());
  ERR_clear_error();
}

void load_private_key(SSL_CTX* ctx, const Pem& pem) {
  ERR_clear_error();
  bool loaded;
  if (pem.text.empty()) {
    loaded = SSL_CTX_use_PrivateKey_file(ctx, pem.path.c_str(), SSL_FILETYPE_PEM) == 1;
  } else {
    auto bio = open_pem(pem);
    std::unique_ptr<EVP_PKEY, KeyFree> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)
                                               : nullptr);
    loaded = key && SSL_CTX_use_PrivateKey(ctx, key.get()) == 1;
  }
  if (!loaded) {
    const unsigned long error = ERR_peek_error();
    if (ERR_GET_LIB(error) == ERR_LIB_X509 && ERR_GET_REASON(error) == X509_R_KEY_VALUES_MISMATCH) {
      throw_load_error("private key", pem, "it does not match the certificate (key values mismatch)");
    }
    throw_load_error("private key", pem, reason_of(error));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    throw_load_error("private key", pem, "it does not match the certificate");
  }
}

// The CAs of pem become trusted. A server also names them in its certificate request, so a
// client holding several certificates can pick the one this server accepts.
void load_authorities(SSL_CTX* ctx, const Pem& pem, bool name_in_requests) {
  ERR_clear_error();
  if (pem.text.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, pem.path.c_str(), nullptr) != 1) {
      throw_load_error("CA certificates", pem, first_reason());
    }
  } else {
    auto bio = open_pem(pem);
    if (!bio) throw_load_error("CA certificates", pem, first_reason());
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    for (bool added = false;; added = true) {
      std::unique_ptr<X509, X509Free> certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
      if (!certificate) {
        if (added && only_end_of_pem()) break;  // at least one, then the end
        throw_load_error("CA certificates", pem, first_reason());
      }
      if (X509_STORE_add_cert(store, certificate.get()) != 1) throw_load_error("CA certificates", pem, first_reason());
    }
    ERR_clear_error();
  }
  if (!name_in_requests) return;
  auto bio = open_pem(pem);
  if (!bio) throw_load_error("CA certificates", pem, "cannot open it");
  for (;;) {
    std::unique_ptr<X509, X509Free> certificate(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!certificate) break;  // the end (the store above already rejected a broken bundle)
    if (SSL_CTX_add_client_CA(ctx, certificate.get()) != 1) {
      const std::string reason = detail::openssl_reason(ERR_get_error());
      ERR_clear_error();
      throw_load_error("CA certificates", pem, reason);
    }
  }
  ERR_clear_error();  // the PEM "no start line" that ends the loop
}

}  // namespace

TlsContext TlsContext::client(const TlsClientOptions& options) {
  auto impl = make_impl(false);
  SSL_CTX* ctx = impl->context.get();
  if (options.ca.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      const std::string reason = first_reason();
      ERR_clear_error();
      throw Error("cannot load the system's trusted CAs: " + reason);
    }
  } else {
    load_authorities(ctx, options.ca, false);
  }
  if (options.certificate.empty() != options.private_key.empty()) {
    throw Error("TLS client options need both a certificate and its private key, or neither");
  }
  if (!options.certificate.empty()) {
    load_certificate_chain(ctx, options.certificate);
    load_private_key(ctx, options.private_key);
  }
  impl->server_name = options.server_name;
  impl->verify_server = !options.insecure_skip_verification;
  // The host name is checked per connection (tls_stream.cpp): it depends on the host.
  SSL_CTX_set_verify(ctx, impl->verify_server ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
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
  auto impl = make_impl(true);
  SSL_CTX* ctx = impl->context.get();
  load_certificate_chain(ctx, options.certificate);
  load_private_key(ctx, options.private_key);
  int mode = SSL_VERIFY_NONE;
  if (!options.client_ca.empty()) {
    load_authorities(ctx, options.client_ca, true);
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
