#pragma once
/// TLS over TCP (OpenSSL): contexts, a client connect, and server-side
/// wrapping of accepted sockets whose handshake a reactor can drive without blocking.
/// TLS 1.2 is the minimum; renegotiation is refused; clients verify the server's chain and
/// host name unless told otherwise by an option whose name says insecure.
#include "netref/export.hpp"
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "netref/stream/stream.hpp"

namespace netref {

/// Where a certificate, key or CA bundle comes from: a PEM file, or PEM text in memory.
struct NETREF_API Pem {
  std::string path;  ///< a PEM file; used when text is empty
  std::string text;  ///< PEM content ("-----BEGIN CERTIFICATE-----...")

  static Pem file(std::string file_path) { return Pem{std::move(file_path), {}}; }
  static Pem memory(std::string pem_text) { return Pem{{}, std::move(pem_text)}; }
  bool empty() const noexcept { return path.empty() && text.empty(); }
};

/// The client's side of TLS: whom it trusts and, for mutual TLS, who it is.
struct NETREF_API TlsClientOptions {
  Pem ca;                      ///< trusted CAs; empty: the system's default store
  Pem certificate;             ///< our certificate, for servers that require one
  Pem private_key;             ///< its key
  /// The name the server's certificate must carry, also sent as SNI; empty: the host
  /// passed to connect_tls.
  std::string server_name;
  /// Accept any server certificate, unverified. For tests against throwaway servers only:
  /// it gives up all protection against a man in the middle.
  bool insecure_skip_verification = false;
};

/// The server's side of TLS: its identity and, for mutual TLS, whom it lets in.
struct NETREF_API TlsServerOptions {
  Pem certificate;                         ///< required (a chain: leaf first)
  Pem private_key;                         ///< required
  Pem client_ca;                           ///< CAs that sign acceptable client certificates
  bool require_client_certificate = false; ///< mutual TLS: refuse clients without one
};

/// A configured TLS context. Immutable once made; copies share it and are cheap. Making one
/// throws Error naming the file or PEM block that could not be loaded.
class NETREF_API TlsContext {
 public:
  static TlsContext client(const TlsClientOptions& options);
  static TlsContext server(const TlsServerOptions& options);
  bool is_server() const noexcept;

  struct Impl;
  const std::shared_ptr<Impl>& impl() const noexcept { return impl_; }

 private:
  explicit TlsContext(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

/// Progress of a handshake driven without blocking.
enum class HandshakeStep {
  done,        ///< the stream is ready for frames
  want_read,   ///< call again when the socket is readable
  want_write,  ///< call again when the socket is writable
};

/// A TLS stream. The Stream contract holds: one reader and one writer at a time may run
/// concurrently, and close() from any thread wakes them. peer_certificate_subject() gives
/// the verified client certificate's subject on the server side.
class NETREF_API TlsStream : public Stream {
 public:
  /// Advances the handshake without blocking. Throws ConnectionClosed whose message says
  /// why it failed ("TLS handshake failed: certificate verify failed (certificate has
  /// expired)", "... wrong version number" for plaintext on a TLS port).
  virtual HandshakeStep handshake_step() = 0;
  /// Runs the handshake to its end, waiting at most timeout. Throws Timeout when it stalls,
  /// ConnectionClosed as handshake_step.
  virtual void handshake(std::chrono::milliseconds timeout) = 0;
  /// The negotiated protocol ("TLSv1.3"); empty before the handshake ends.
  virtual std::string protocol_version() const = 0;
};

/// Connects over TCP and completes the handshake, verifying the server unless the context
/// says insecure, all within timeout. Throws ConnectError naming host:port: refused,
/// timed out, or "TLS handshake failed: <reason>" (wrong CA, expired, name mismatch, ...).
NETREF_API StreamPtr connect_tls(const std::string& host, std::uint16_t port, const TlsContext& context,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Server side: wraps an accepted socket stream (from Listener::accept) in TLS. Nothing is
/// read yet: drive the handshake with handshake_step() or handshake(timeout).
NETREF_API std::unique_ptr<TlsStream> accept_tls(StreamPtr accepted, const TlsContext& context);

}  // namespace netref
