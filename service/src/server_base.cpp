// The parts every server shares: admission, TLS, authentication, the shutdown gate.
#include "server_base.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace netref::detail {
namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<Listener> listen_on(const ServerConfig& config) {
  return config.unix_path.empty() ? listen_tcp(config.host, config.port, config.backlog)
                                  : listen_unix(config.unix_path, config.backlog);
}

}  // namespace

ServerBase::ServerBase(Service service, ServerConfig config)
    : service_(std::move(service)), config_(std::move(config)), listener_(listen_on(config_)) {
  if (config_.tls && !config_.tls->is_server()) {
    throw Error("ServerConfig::tls needs a server context (TlsContext::server)");
  }
  connection_config_ = config_.connection;
  if (config_.metrics || config_.metrics_exporter) {
    served_metrics_ = std::make_shared<CallMetrics>(service_.names());
    connection_config_.served_metrics = served_metrics_;
  }
  if (!connection_config_.log) connection_config_.log = config_.log;
  connection_config_.detect_generation = true;
  connection_config_.first_frame_timeout = config_.first_frame_timeout;
  if (!connection_config_.exceptions) connection_config_.exceptions = service_.registry().exceptions();
  // The gate runs before the user's interceptor: a stopping server refuses everything new.
  connection_config_.interceptor = [refusing = refusing_, user = config_.connection.interceptor](const RequestInfo& info) {
    if (refusing->load(std::memory_order_acquire)) {
      throw RemoteError("ConnectionRefusedError", "the server is shutting down: no new requests");
    }
    if (user) user(info);
  };
}

void ServerBase::log(std::string_view message, LogLevel level, ConnectionId connection) const noexcept {
  detail::log(config_.log, level, message, connection);  // never throws
}

void ServerBase::announce_started(std::function<ServerMetrics()> read) {
  std::lock_guard lk(announce_mutex_);
  if (announced_ != Announced::not_yet) return;
  announced_ = Announced::started;
  if (config_.metrics_exporter) config_.metrics_exporter->server_started(std::move(read));
  if (!config_.registrar) return;
  ServerEndpoint endpoint{config_.host, listener_->port(), [this](std::string_view m) { log(m); }};
  config_.registrar->server_started(endpoint);
}

void ServerBase::announce_stopping() noexcept {
  std::lock_guard lk(announce_mutex_);
  const bool was_started = announced_ == Announced::started;
  announced_ = Announced::stopped;
  if (was_started && config_.registrar) config_.registrar->server_stopping();
  if (was_started && config_.metrics_exporter) config_.metrics_exporter->server_stopping();
}

void ServerBase::retire_traffic(const Connection& connection) noexcept {
  const auto t = connection.traffic();
  closed_traffic_.frames_in += t.frames_in;
  closed_traffic_.frames_out += t.frames_out;
  closed_traffic_.bytes_in += t.bytes_in;
  closed_traffic_.bytes_out += t.bytes_out;
}

void ServerBase::add_traffic(ServerStats& stats) const noexcept {
  stats.frames_in += closed_traffic_.frames_in;
  stats.frames_out += closed_traffic_.frames_out;
  stats.bytes_in += closed_traffic_.bytes_in;
  stats.bytes_out += closed_traffic_.bytes_out;
}

void ServerBase::add_traffic(ServerStats& stats, const Connection& connection) const noexcept {
  const auto t = connection.traffic();
  stats.frames_in += t.frames_in;
  stats.frames_out += t.frames_out;
  stats.bytes_in += t.bytes_in;
  stats.bytes_out += t.bytes_out;
}

bool ServerBase::admit(std::size_t open_now, const Stream& stream) {
  accepted_.fetch_add(1, std::memory_order_relaxed);
  if (open_now < config_.max_connections) return true;
  refused_.fetch_add(1, std::memory_order_relaxed);
  log("refused " + stream.peer_name() + ": " + std::to_string(open_now) +
      " connections open, the limit (max_connections)");
  return false;
}

StreamPtr ServerBase::secure(StreamPtr accepted) {
  if (!config_.tls) return accepted;
  std::unique_ptr<TlsStream> tls;
  try {
    tls = accept_tls(std::move(accepted), *config_.tls);
    tls->handshake(config_.handshake_timeout);
    return tls;
  } catch (const std::exception& e) {
    count_handshake_failure();  // counted and logged before the client can see the close
    log(e.what());
    if (tls) linger_refused(tls->native_handle());
    throw;
  }
}

std::chrono::milliseconds ServerBase::refusal_linger() const noexcept {
  constexpr std::chrono::milliseconds kLinger(250);
  const auto handshake = config_.handshake_timeout;
  return handshake.count() > 0 ? std::min(kLinger, handshake) : kLinger;
}

bool ServerBase::drop_from_refused(int fd) noexcept {
  std::uint8_t sink[4096];
  for (int i = 0; i < 16; ++i) {  // a flooding client gets no more than 64 KiB a look
    const ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
  return true;
}

// On the connection's own thread (a ThreadedServer's, a OneShotServer's caller): wait out the
// linger, dropping what comes, until the client closes.
void ServerBase::linger_refused(int fd) const noexcept {
  if (fd < 0) return;
  const auto end = std::chrono::steady_clock::now() + refusal_linger();
  while (drop_from_refused(fd)) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
  }
}

ConnectionPtr ServerBase::open(StreamPtr stream) {
  std::string identity = stream->peer_certificate_subject();
  const std::string peer = stream->peer_name();
  if (config_.authenticator) {
    try {
      identity = config_.authenticator(*stream);
    } catch (const std::exception& e) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
      log("authenticator turned away " + peer + ": " + e.what(), LogLevel::warning);
      stream->close();
      return nullptr;
    }
  }
  auto channel = std::make_unique<Channel>(std::move(stream), config_.channel);
  auto conn = Connection::create(std::move(channel), service_.root_object(), connection_config_);
  conn->set_peer_identity(std::move(identity));
  conn->set_close_handler([closes = closes_, service = service_](Connection& c) {
    {
      std::lock_guard lk(closes->mutex);
      ++closes->by_reason[c.close_reason().value_or(CloseReason::error)];
    }
    service.handle_disconnect(c);  // shared: it may run after the server is gone
  });
  try {
    service_.handle_connect(*conn);
  } catch (const std::exception& e) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    log("on_connect turned away " + peer + ": " + e.what(), LogLevel::warning, conn->id());
    conn->close();
    return nullptr;
  }
  return conn;
}

void ServerBase::drain(std::chrono::milliseconds grace, const std::function<std::size_t()>& running) {
  const auto deadline = Clock::now() + grace;
  // Handlers are user code that cannot be interrupted; a short poll is the whole cost of
  // a stop, and keeps the serving path free of any stop bookkeeping.
  while (running() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void ServerBase::fill(ServerStats& stats) const {
  stats.accepted = accepted_.load(std::memory_order_relaxed);
  stats.refused = refused_.load(std::memory_order_relaxed);
  stats.handshake_failures = handshake_failures_.load(std::memory_order_relaxed);
  stats.rejected = rejected_.load(std::memory_order_relaxed);
  std::lock_guard lk(closes_->mutex);
  stats.closed = closes_->by_reason;
}

}  // namespace netref::detail
