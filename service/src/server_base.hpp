#pragma once
// What every server shares: its config and listener, the gate that refuses new requests
// while it stops, its counters, and opening a connection on an accepted stream (TLS,
// authenticator, protocol, on_connect).
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "netref/service/server.hpp"
#include "netref/service/service.hpp"
#include "netref/stream/socket_stream.hpp"

namespace netref::detail {

class ServerBase {
 public:
  ServerBase(Service service, ServerConfig config);

  Service& service() noexcept { return service_; }
  const ServerConfig& config() const noexcept { return config_; }
  Listener& listener() noexcept { return *listener_; }

  /// Reports a refusal or failure (warning) through config().log, or the process-wide handler.
  void log(std::string_view message, LogLevel level = LogLevel::warning,
           ConnectionId connection = ConnectionId::none) const noexcept;

  /// From now on every new request is answered with "the server is shutting down".
  void refuse_requests() noexcept { refusing_->store(true, std::memory_order_release); }

  /// Counts an accepted stream; false (and logged, and counted) when the server is full.
  bool admit(std::size_t open_now, const Stream& stream);

  /// Blocking TLS handshake of an accepted stream (when the server has TLS), within the
  /// handshake timeout. Throws (logged and counted) on failure.
  StreamPtr secure(StreamPtr accepted);

  /// Runs the authenticator (if any) and on_connect around a new connection on stream.
  /// Returns null when the client was turned away (logged and counted).
  ConnectionPtr open(StreamPtr stream);

  /// Waits until running() reports no request in flight, or until grace has passed.
  static void drain(std::chrono::milliseconds grace, const std::function<std::size_t()>& running);

  /// Fills the counters the base keeps into stats.
  void fill(ServerStats& stats) const;

  /// Tells config().registrar and metrics_exporter (if any) that serving started; once,
  /// whoever calls. read gives the exporter the server's metrics.
  void announce_started(std::function<ServerMetrics()> read);
  /// Tells config().registrar that the server stops; once, and only after a start.
  void announce_stopping() noexcept;

  void count_handshake_failure() noexcept { handshake_failures_.fetch_add(1, std::memory_order_relaxed); }

  /// How long a client refused at the TLS handshake keeps its socket: TLS 1.3 ends the
  /// client's side of the handshake first, so its first request may still be on the way.
  /// Closed with that request unread, the socket would answer with a reset, which can
  /// overtake the alert that tells the client why. The shorter of 250 ms and the handshake
  /// timeout.
  std::chrono::milliseconds refusal_linger() const noexcept;

  /// Reads and drops what a refused client sent, without waiting: false once it closed (or
  /// the socket failed), true while it may send more.
  static bool drop_from_refused(int fd) noexcept;

  /// A connection leaves the server's books: its traffic joins the closed connections'.
  /// Called under the lock that guards the server's set of connections, which the caller
  /// of add_traffic also holds, so no snapshot counts a connection twice or not at all.
  void retire_traffic(const Connection& connection) noexcept;
  /// Adds the closed connections' traffic and that of connection (an open one) to stats.
  void add_traffic(ServerStats& stats) const noexcept;
  void add_traffic(ServerStats& stats, const Connection& connection) const noexcept;

  /// The calls by method, when metrics are on; null otherwise.
  const std::shared_ptr<CallMetrics>& served_metrics() const noexcept { return served_metrics_; }

 private:
  // secure()'s refusal: waits out refusal_linger() on this thread, dropping what comes.
  void linger_refused(int fd) const noexcept;

  Service service_;  // a handle: the server shares the service, which may go first
  ServerConfig config_;
  std::unique_ptr<Listener> listener_;
  std::shared_ptr<std::atomic<bool>> refusing_ = std::make_shared<std::atomic<bool>>(false);
  ConnectionConfig connection_config_;  // config_.connection with the gate in front
  // The registrar's state: told nothing yet, told started, told stopping (final). Under
  // announce_mutex_, so a stop racing a start tells the registrar in order, or not at all.
  enum class Announced { not_yet, started, stopped };
  std::mutex announce_mutex_;
  Announced announced_ = Announced::not_yet;
  std::atomic<std::uint64_t> accepted_{0}, refused_{0}, handshake_failures_{0}, rejected_{0};
  // Closes by Connection::close_reason(). Shared with every connection's close handler:
  // a handler may still be running on another thread (the timer thread's) after the
  // server that counted on it is gone.
  struct CloseCounts {
    std::mutex mutex;
    std::map<CloseReason, std::uint64_t> by_reason;
  };
  std::shared_ptr<CloseCounts> closes_ = std::make_shared<CloseCounts>();
  std::shared_ptr<CallMetrics> served_metrics_;  // null unless config_.metrics
  Connection::Traffic closed_traffic_;           // guarded by the server's connections lock
};

}  // namespace netref::detail
