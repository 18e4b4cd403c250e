#pragma once
/// Servers: accept connections and serve them. Which one to pick:
/// - ThreadPoolServer: a fixed pool of workers takes turns waiting on every connection at
///   once (epoll) and serves the ones with a frame ready. Thousands of mostly idle clients on a
///   bounded number of threads. The default choice for a service facing many clients.
/// - ThreadedServer: a thread per connection (rpyc's ThreadedServer). Simplest; fine for a
///   few dozen clients, and a handler may block as long as it likes without holding a
///   shared worker.
/// - OneShotServer: serves one connection on the calling thread, then returns.
/// All of them never die of one bad client, take TLS and an authenticator, and stop
/// gracefully: stop(grace) refuses new requests, lets running ones finish up to grace, then
/// closes every connection.
#include "netref/export.hpp"
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "netref/channel/channel.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/stream/tls.hpp"

namespace netref {

class Service;

/// Where a server listens, as told to its registrar when it starts.
struct NETREF_API ServerEndpoint {
  std::string host;         ///< the bound address (ServerConfig::host)
  std::uint16_t port = 0;   ///< the bound TCP port (the one port 0 picked)
  /// The server's log, at warning level (ServerConfig::log, or the process-wide handler):
  /// a registrar reports its failures here.
  std::function<void(std::string_view)> log;
};

/// Announces a running server somewhere others look for it (a service registry). The
/// service layer only calls these two hooks; the registrars themselves live above it
/// (netref/discovery/registrar.hpp registers with an RPyC registry), so a server gains
/// discovery without this layer depending on the one that provides it.
class NETREF_API ServerRegistrar {
 public:
  virtual ~ServerRegistrar() = default;
  /// Called once when the server starts serving (start() or serve_forever()), on the
  /// thread that starts it. Must return promptly: do the network work on a thread of its own.
  virtual void server_started(const ServerEndpoint& endpoint) = 0;
  /// Called once from stop() (or the destructor), before the listener closes: withdraw the
  /// announcement. Must not throw; should not block for longer than a short timeout.
  virtual void server_stopping() noexcept = 0;
};

struct ServerMetrics;

/// Serves a server's metrics somewhere a monitoring system reads them. The service layer only
/// calls these two hooks; netref::metrics::HttpEndpoint (target netref::metrics) serves them
/// to Prometheus over HTTP, so a server gains an endpoint without this layer depending on an
/// HTTP library.
class NETREF_API MetricsExporter {
 public:
  virtual ~MetricsExporter() = default;
  /// Called once when the server starts serving, on the thread that starts it; must return
  /// promptly. read() takes a snapshot (ThreadPoolServer::metrics()); it may be called from
  /// any thread until server_stopping() has returned, and never after.
  virtual void server_started(std::function<ServerMetrics()> read) = 0;
  /// Called once from stop() (or the destructor): stop calling read() before returning.
  virtual void server_stopping() noexcept = 0;
};

/// Decides who may connect (rpyc's authenticator). Called once per accepted connection,
/// after the TLS handshake and before any frame is read, with the connection's stream.
/// Returns the peer's identity (Connection::peer_identity(), seen by interceptors and
/// on_connect); throws to turn the client away (the server logs the message and closes).
using Authenticator = std::function<std::string(Stream& stream)>;

/// Where and how a server listens, what each connection gets, and the server's limits.
struct NETREF_API ServerConfig {
  std::string host = "127.0.0.1";   ///< TCP address to bind (loopback by default)
  std::uint16_t port = 18861;        ///< 0 picks a free port; ask port()
  std::string unix_path;             ///< when set, listen on this Unix socket instead of TCP
  int backlog = 4096;
  ChannelConfig channel;             ///< framing limits, frame and write-stall timeouts
  /// Protocol limits per connection (the generation is detected). interceptor sees every
  /// request; keepalive_interval and idle_timeout apply to every connection.
  ConnectionConfig connection;

  /// Serve TLS with this context (TlsContext::server); the peer's verified certificate
  /// subject becomes its identity unless an authenticator says otherwise.
  std::optional<TlsContext> tls;
  /// Runs for each accepted connection before any frame is read; null lets everyone in.
  Authenticator authenticator;

  /// Connections open at once; one more is closed at accept, and the server logs why.
  std::size_t max_connections = 4096;
  /// The TLS handshake must end within this (a client that stalls it is closed).
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
  /// A client must send its first request within this of connecting (rpyc clients send
  /// their first request when the program first uses the connection). Zero: no limit.
  std::chrono::milliseconds first_frame_timeout = std::chrono::seconds(30);
  /// ThreadPoolServer's workers; 0: one per core, at least 2. Workers never wait on a
  /// peer (the pool grows for a handler that does, up to max_threads); raise it for handlers
  /// that block on something else (a disk, a database, a lock held long).
  std::size_t worker_threads = 0;
  /// ThreadPoolServer: a handler that waits on its own peer (a callback into the client, a
  /// forwarded attribute, a nested call) gives its worker's place to a new thread, so silent
  /// clients cannot starve the others. The pool never holds more threads than this (workers
  /// included); the handlers waiting at once are at most max_threads - worker_threads.
  std::size_t max_threads = 128;
  /// ThreadPoolServer: handlers of one connection that may wait on peers at once. One more
  /// fails at once (the handler sees an Error, its caller an exception reply).
  std::size_t max_waiting_handlers_per_connection = 4;
  /// Where the server's events go: what it refused and why (a rejected handshake, a full
  /// server, an authenticator's refusal), registrar failures, and its connections' events
  /// (closes and why, handler errors) unless connection.log is set. Null: the process-wide
  /// handler (set_log_handler), which by default logs nothing.
  LogHandler log;
  /// Told when serving starts and stops (ThreadedServer and ThreadPoolServer; a one-shot
  /// server never registers): netref::registry_registrar(...) registers the service with an
  /// RPyC registry. Null: the server announces itself nowhere.
  std::shared_ptr<ServerRegistrar> registrar;
  /// Count calls per method (the service's names, plus "other"), their errors by class and
  /// latency; read with metrics(). Off (the default): requests are not timed at all.
  bool metrics = false;
  /// Serves the metrics for scraping (netref::metrics::HttpEndpoint: Prometheus's text
  /// format at /metrics, on loopback by default); setting it turns metrics on.
  std::shared_ptr<MetricsExporter> metrics_exporter;
};

/// What a server has done; a snapshot for monitoring and leak tests.
struct NETREF_API ServerStats {
  std::size_t open_connections = 0;
  std::uint64_t accepted = 0;          ///< connections accepted in all
  std::uint64_t refused = 0;           ///< closed at accept: max_connections reached
  std::uint64_t handshake_failures = 0;  ///< TLS handshakes that failed or timed out
  std::uint64_t rejected = 0;          ///< turned away by the authenticator or on_connect
  std::size_t running_handlers = 0;    ///< requests being served right now
  std::size_t waiting_handlers = 0;    ///< handlers waiting on a peer (ThreadPoolServer)
  std::uint64_t refused_waits = 0;     ///< waits refused: the pool's bounds were reached
  std::size_t lent_objects = 0;        ///< objects lent, over every open connection
  std::size_t netrefs_held = 0;        ///< the clients' objects held, over every open connection
  std::size_t queued_bytes = 0;        ///< bytes queued for clients, over every open connection
  /// Frames and message bytes received and sent, over every connection the server has had.
  std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  /// Connections closed so far, by Connection::close_reason() (to_string gives the word).
  /// Protocol errors by kind are the frame, message and reference entries; budget counts
  /// frames the process buffer budget refused, pings peers cut off for flooding PINGs.
  std::map<CloseReason, std::uint64_t> closed;
};

/// What ServerConfig::metrics counts: the server's counters and its calls by method.
struct NETREF_API ServerMetrics {
  ServerStats stats;
  CallMetricsSnapshot calls;  ///< empty when metrics are off
};

namespace detail {
struct ServerCore;
}

/// A thread per connection, like rpyc's ThreadedServer. The listening socket is bound by the
/// constructor (so port() is known before serving).
class NETREF_API ThreadedServer {
 public:
  /// Shares service (a handle: it may be destroyed before the server).
  ThreadedServer(Service service, ServerConfig config = {});
  /// stop(0).
  ~ThreadedServer();
  ThreadedServer(const ThreadedServer&) = delete;
  ThreadedServer& operator=(const ThreadedServer&) = delete;

  /// Accepts and serves on this thread until stop() is called from another thread.
  void serve_forever();
  /// Runs serve_forever on a background thread and returns at once.
  void start();
  /// Stops accepting at once, answers new requests with "the server is shutting down",
  /// lets running requests finish for up to grace, then closes every connection (clients
  /// see ConnectionClosed) and joins the threads: a handler that outlives grace is waited
  /// for, its reply discarded. Idempotent; not from a handler of this server.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  /// The bound TCP port (0 for a Unix socket).
  std::uint16_t port() const noexcept;
  /// Connections open right now.
  std::size_t connection_count() const;
  ServerStats stats() const;
  /// stats() and the calls by method (ServerConfig::metrics). Any thread.
  ServerMetrics metrics() const;

 private:
  std::unique_ptr<detail::ServerCore> core_;
};

/// A fixed pool of workers takes turns waiting on every connection at once (one epoll set);
/// the worker that sees a connection ready serves it itself, one frame at a time per
/// connection (so a connection's requests run in order), and hands it back. Reads never block a worker: a slow or silent client
/// costs a buffer, not a thread. A handler that calls back into its client waits on its
/// worker only.
class NETREF_API ThreadPoolServer {
 public:
  /// Shares service (a handle: it may be destroyed before the server).
  ThreadPoolServer(Service service, ServerConfig config = {});
  /// stop(0).
  ~ThreadPoolServer();
  ThreadPoolServer(const ThreadPoolServer&) = delete;
  ThreadPoolServer& operator=(const ThreadPoolServer&) = delete;

  /// Serves until stop() is called from another thread.
  void serve_forever();
  /// Starts serving in the background and returns at once.
  void start();
  /// As ThreadedServer::stop.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

  std::uint16_t port() const noexcept;
  std::size_t connection_count() const;
  ServerStats stats() const;
  /// stats() and the calls by method (ServerConfig::metrics). Any thread.
  ServerMetrics metrics() const;
  /// Threads the server runs now (the acceptor and the workers, including those grown for
  /// handlers that wait on peers): at most max_threads + 1, whatever the load.
  std::size_t thread_count() const noexcept;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared: connections that outlive the server may look it up
};

/// Serves a single connection, then returns (rpyc's OneShotServer): for tests, inetd-style
/// use, and handing one client a private server.
class NETREF_API OneShotServer {
 public:
  OneShotServer(Service service, ServerConfig config = {});
  ~OneShotServer();
  OneShotServer(const OneShotServer&) = delete;
  OneShotServer& operator=(const OneShotServer&) = delete;

  /// Accepts one connection and serves it on this thread until it closes. Returns at once
  /// if stop() was called.
  void serve();
  /// Closes the listener and the connection, if any; serve() returns. Any thread.
  void stop();
  std::uint16_t port() const noexcept;

 private:
  std::unique_ptr<detail::ServerCore> core_;
};

/// Serves one connection on the calling thread until it closes, then returns.
NETREF_API void serve_connection(const Service& service, StreamPtr stream, const ServerConfig& config = {});

}  // namespace netref
