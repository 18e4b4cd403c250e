#include "netref/discovery/registry_server.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include "netref/discovery/detail/registry_wire.hpp"
#include "netref/discovery/detail/service_table.hpp"
#include "registry_socket.hpp"

namespace netref {

using detail::WireBytes;
using detail::Fd;
using Clock = detail::ServiceTable::Clock;

namespace {

// One TCP client: it sends one request, gets one reply, and is closed (rpyc's framing).
struct TcpClient {
  Fd fd;
  std::string host;              // the peer's address: the host a REGISTER records
  WireBytes request;                 // what arrived so far (at most max_packet_bytes)
  WireBytes reply;                   // set once the request is served; sent, then the socket closes
  std::size_t sent = 0;          // bytes of reply written
  bool replying = false;         // the request was served; only the reply is left to send
  Clock::time_point deadline;    // closed when reached (tcp_timeout from accept)
};

int poll_timeout(Clock::time_point until) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1000));
}

}  // namespace

struct RegistryServer::Impl {
  RegistryServerConfig config;
  Fd socket;
  Fd wake{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  std::uint16_t bound_port = 0;
  std::atomic<bool> stopping{false};
  std::thread thread;
  std::mutex start_mutex;  // start() and stop() against each other

  mutable std::mutex mutex;  // guards table and stats (the loop writes, stats() reads)
  detail::ServiceTable table;
  RegistryServerStats counts;
  std::vector<TcpClient> clients;  // the loop thread's alone

  explicit Impl(RegistryServerConfig c)
      : config(std::move(c)),
        table({.max_names = config.max_names, .max_entries = config.max_entries, .max_name_bytes = config.max_name_bytes},
              config.prune_timeout) {
    const bool udp = config.transport == RegistryTransport::udp;
    const std::string where = (udp ? "udp://" : "tcp://") + config.host + ":" + std::to_string(config.port);
    if (wake.get() < 0) throw Error("registry " + where + ": cannot create an eventfd: " + std::strerror(errno));
    sockaddr_in address{};
    try {
      address = detail::resolve_ipv4(config.host, config.port);
    } catch (const Error& e) {
      throw Error("registry cannot listen on " + where + ": " + e.what());
    }
    socket = Fd(::socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    const int on = 1;
    if (!udp) ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (socket.get() < 0 || ::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        (!udp && ::listen(socket.get(), 64) != 0)) {
      throw Error("registry cannot listen on " + where + ": " + std::strerror(errno));
    }
    socklen_t size = sizeof address;
    ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &size);
    bound_port = ntohs(address.sin_port);
  }

  void log(const std::string& message) const noexcept {
    try {
      if (config.log) config.log(message);
    } catch (...) {
      // a failing log must not take the registry down
    }
  }

  // Serves one request from host; the reply to send, or nothing (dropped).
  std::optional<WireBytes> serve(std::span<const std::uint8_t> data, const std::string& host) {
    const auto request = detail::parse_registry_request(data);
    std::lock_guard lk(mutex);
    if (!request) {
      ++counts.garbage;
      return std::nullopt;
    }
    ++counts.requests;
    const auto now = Clock::now();
    switch (request->command) {
      case detail::RegistryCommand::register_service:
        if (!table.add(request->names, {host, request->port}, now)) {
          // Unacknowledged: the server retries as if the registry were away. Logged at the
          // 1st, 2nd, 4th, 8th... refusal, so a flood cannot flood the log.
          if (std::has_single_bit(++counts.refused_registrations)) {
            log("refused a registration from " + host + ":" + std::to_string(request->port) + " (" +
                std::to_string(counts.refused_registrations) + " so far): a name is empty or past " +
                std::to_string(config.max_name_bytes) + " bytes, or the registry holds its maximum of " +
                std::to_string(config.max_names) + " names or " + std::to_string(config.max_entries) + " entries");
          }
          return std::nullopt;
        }
        return detail::encode_ok_reply();
      case detail::RegistryCommand::unregister_service:
        table.remove({host, request->port});  // only the sender's own entries: no spoofing from afar
        return detail::encode_ok_reply();
      case detail::RegistryCommand::query:
        return detail::encode_query_reply(table.query(request->names.front(), now), config.max_packet_bytes);
      case detail::RegistryCommand::list:
        if (!config.allow_listing) return detail::encode_none_reply();
        return detail::encode_list_reply(table.names(request->filter_host), config.max_packet_bytes);
    }
    return std::nullopt;
  }

  Clock::time_point prune_if_due(Clock::time_point next_prune) {
    const auto now = Clock::now();
    if (now < next_prune) return next_prune;
    std::lock_guard lk(mutex);
    counts.pruned += table.prune(now);
    const auto interval = std::clamp<std::chrono::milliseconds>(config.prune_timeout / 4, std::chrono::milliseconds(10),
                                                                std::chrono::seconds(1));
    return now + interval;
  }

  void run() {
    auto next_prune = Clock::now();
    while (!stopping.load(std::memory_order_acquire)) {
      next_prune = prune_if_due(next_prune);
      if (config.transport == RegistryTransport::udp) {
        serve_udp_once(next_prune);
      } else {
        serve_tcp_once(next_prune);
      }
    }
    clients.clear();
  }

  // --- UDP: one datagram in, at most one out.
  void serve_udp_once(Clock::time_point until) {
    pollfd fds[2] = {{socket.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
    if (::poll(fds, 2, poll_timeout(until)) <= 0 || !(fds[0].revents & POLLIN)) return;
    WireBytes buffer(config.max_packet_bytes + 1);
    for (int i = 0; i < 64 && !stopping.load(std::memory_order_relaxed); ++i) {  // a burst, then check the clock
      sockaddr_in from{};
      socklen_t from_size = sizeof from;
      // MSG_TRUNC: the datagram's real length, so an oversized one is seen as such.
      const ssize_t n = ::recvfrom(socket.get(), buffer.data(), buffer.size(), MSG_TRUNC,
                                   reinterpret_cast<sockaddr*>(&from), &from_size);
      if (n < 0) return;  // EAGAIN: drained
      if (static_cast<std::size_t>(n) > config.max_packet_bytes) {
        std::lock_guard lk(mutex);
        ++counts.oversized;
        continue;
      }
      const auto reply = serve({buffer.data(), static_cast<std::size_t>(n)}, detail::ipv4_text(from));
      if (reply) {
        ::sendto(socket.get(), reply->data(), reply->size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&from),
                 from_size);
      }
    }
  }

  // --- TCP: one request per connection, the reply, then close.
  void serve_tcp_once(Clock::time_point until) {
    std::vector<pollfd> fds{{socket.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
    for (const auto& c : clients) {
      fds.push_back({c.fd.get(), static_cast<short>(c.replying ? POLLOUT : POLLIN), 0});
      until = std::min(until, c.deadline);
    }
    if (::poll(fds.data(), fds.size(), poll_timeout(until)) < 0) return;
    const auto now = Clock::now();
    std::vector<bool> done(clients.size(), false);
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (fds[i + 2].revents) {
        done[i] = clients[i].replying ? write_reply(clients[i]) : read_request(clients[i]);
      }
      if (!done[i] && now >= clients[i].deadline) {
        done[i] = true;
        std::lock_guard lk(mutex);
        ++counts.tcp_timeouts;
      }
    }
    std::size_t keep = 0;
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (!done[i]) clients[keep++] = std::move(clients[i]);
    }
    clients.resize(keep);
    if (fds[0].revents & POLLIN) accept_clients();
  }

  void accept_clients() {
    for (;;) {
      sockaddr_in from{};
      socklen_t from_size = sizeof from;
      Fd fd(::accept4(socket.get(), reinterpret_cast<sockaddr*>(&from), &from_size, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (fd.get() < 0) return;
      if (clients.size() >= config.max_tcp_clients) {
        std::lock_guard lk(mutex);
        ++counts.refused_tcp_clients;
        continue;  // closed as fd leaves scope
      }
      clients.push_back({.fd = std::move(fd), .host = detail::ipv4_text(from),
                         .deadline = Clock::now() + config.tcp_timeout});
    }
  }

  // True when the client is finished with (closed).
  bool read_request(TcpClient& c) {
    std::uint8_t buffer[2048];
    const ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n < 0) return errno != EAGAIN && errno != EINTR;
    if (n == 0) {  // closed before a whole request arrived
      std::lock_guard lk(mutex);
      ++counts.garbage;
      return true;
    }
    c.request.insert(c.request.end(), buffer, buffer + n);
    if (c.request.size() > config.max_packet_bytes) {
      std::lock_guard lk(mutex);
      ++counts.oversized;
      return true;
    }
    if (!detail::holds_one_value(c.request)) return false;  // more may be on the way
    auto reply = serve(c.request, c.host);
    if (!reply) return true;
    c.reply = std::move(*reply);
    c.replying = true;
    return write_reply(c);
  }

  bool write_reply(TcpClient& c) {
    while (c.sent < c.reply.size()) {
      const ssize_t n = ::send(c.fd.get(), c.reply.data() + c.sent, c.reply.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0) return errno != EAGAIN && errno != EINTR;
      c.sent += static_cast<std::size_t>(n);
    }
    return true;  // all sent: closing ends the reply, as rpyc's registry does
  }
};

RegistryServer::RegistryServer(RegistryServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

RegistryServer::~RegistryServer() { stop(); }

void RegistryServer::start() {
  std::lock_guard lk(impl_->start_mutex);
  if (impl_->thread.joinable() || impl_->stopping) return;
  impl_->thread = std::thread([this] { impl_->run(); });
}

void RegistryServer::serve_forever() { impl_->run(); }

void RegistryServer::stop() {
  std::lock_guard lk(impl_->start_mutex);
  impl_->stopping.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto ignored = ::write(impl_->wake.get(), &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::uint16_t RegistryServer::port() const noexcept { return impl_->bound_port; }

RegistryServerStats RegistryServer::stats() const {
  std::lock_guard lk(impl_->mutex);
  RegistryServerStats s = impl_->counts;
  s.names = impl_->table.name_count();
  s.entries = impl_->table.entry_count();
  return s;
}

}  // namespace netref
