// The fault-injecting proxy: an accept loop and two pumps per connection, all waiting in
// ppoll() on their socket plus the stop descriptor (and their own wake descriptor, written
// when a fault is armed or the link must end).
#include "fault/faultproxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

namespace netref::test {
namespace {

using Clock = std::chrono::steady_clock;

int index_of(Direction d) { return d == Direction::upstream ? 0 : 1; }

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void signal_fd(int fd) {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto ignored = ::write(fd, &one, sizeof one);
}

void drain_fd(int fd) {
  std::uint64_t value;
  [[maybe_unused]] auto ignored = ::read(fd, &value, sizeof value);
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Kinds of armed faults (FaultProxy::arm).
enum Kind { kTruncate, kReset, kStall, kHalfClose, kFlip };

}  // namespace

struct FaultProxy::Link {
  enum class End { open, fin, rst };
  int fds[2] = {-1, -1};   // [0] the client's side, [1] the target's side
  int wake[2] = {-1, -1};  // eventfds, one per pump: re-read the plan, or end
  // Guarded by FaultProxy::mutex_.
  FaultPlan plan[2];
  std::uint64_t count[2] = {0, 0};
  End end = End::open;     // set once, by a fault or an error: both pumps leave
  bool stalled[2] = {false, false};
  int pumps_left = 2;
  std::thread threads[2];
};

FaultProxy::FaultProxy(std::uint16_t target_port, FaultPlan upstream, FaultPlan downstream)
    : target_port_(target_port) {
  plans_[0] = std::move(upstream);
  plans_[1] = std::move(downstream);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (listen_fd_ < 0 || stop_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 128) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    if (listen_fd_ >= 0) ::close(listen_fd_);
    if (stop_fd_ >= 0) ::close(stop_fd_);
    throw std::runtime_error("faultproxy: cannot listen: " + why);
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() { stop(); }

void FaultProxy::stop() noexcept {
  {
    std::lock_guard lk(mutex_);
    if (stopped_) return;
    stopped_ = true;
  }
  signal_fd(stop_fd_);
  if (acceptor_.joinable()) acceptor_.join();
  // No link is added once the acceptor is gone: the list is ours to walk.
  for (auto& link : links_) {
    for (auto& t : link->threads) {
      if (t.joinable()) t.join();
    }
    for (int fd : link->wake) ::close(fd);
  }
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void FaultProxy::set_plan(Direction direction, FaultPlan plan) {
  std::lock_guard lk(mutex_);
  plans_[index_of(direction)] = std::move(plan);
}

void FaultProxy::truncate_in(Direction direction, std::uint64_t n) { arm(direction, n, kTruncate); }
void FaultProxy::reset_in(Direction direction, std::uint64_t n) { arm(direction, n, kReset); }
void FaultProxy::stall_in(Direction direction, std::uint64_t n) { arm(direction, n, kStall); }
void FaultProxy::half_close_in(Direction direction, std::uint64_t n) { arm(direction, n, kHalfClose); }
void FaultProxy::flip_in(Direction direction, std::uint64_t n) { arm(direction, n, kFlip); }

void FaultProxy::arm(Direction direction, std::uint64_t n, int kind) {
  const int d = index_of(direction);
  std::lock_guard lk(mutex_);
  for (auto& link : links_) {
    if (link->end != Link::End::open || link->pumps_left == 0) continue;
    FaultPlan& plan = link->plan[d];
    const std::uint64_t at = link->count[d] + n;
    switch (kind) {
      case kTruncate: plan.truncate_after = at; break;
      case kReset: plan.reset_after = at; break;
      case kStall: plan.stall_after = at; break;
      case kHalfClose: plan.half_close_after = at; break;
      case kFlip: plan.flip_at = at; break;
      default: break;
    }
    signal_fd(link->wake[d]);
  }
}

int FaultProxy::accepted() const {
  std::lock_guard lk(mutex_);
  return accepted_;
}
int FaultProxy::finished() const {
  std::lock_guard lk(mutex_);
  return finished_;
}
std::uint64_t FaultProxy::forwarded(Direction direction) const {
  std::lock_guard lk(mutex_);
  return forwarded_[index_of(direction)];
}
int FaultProxy::faults_fired() const {
  std::lock_guard lk(mutex_);
  return faults_;
}
bool FaultProxy::wait_forwarded(Direction direction, std::uint64_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mutex_);
  return changed_.wait_for(lk, timeout, [&] { return forwarded_[index_of(direction)] >= n; });
}
bool FaultProxy::wait_faults(int n, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mutex_);
  return changed_.wait_for(lk, timeout, [&] { return faults_ >= n; });
}
bool FaultProxy::wait_finished(int n, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mutex_);
  return changed_.wait_for(lk, timeout, [&] { return finished_ >= n; });
}

void FaultProxy::notify() { changed_.notify_all(); }

void FaultProxy::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback(target_port_);
    if (target < 0 || ::connect(target, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (target >= 0) ::close(target);
      ::close(client);  // the target is down: so is the proxied connection
      continue;
    }
    for (int fd : {client, target}) {
      set_nonblocking(fd);
      set_nodelay(fd);
    }
    auto link = std::make_unique<Link>();
    link->fds[0] = client;
    link->fds[1] = target;
    link->wake[0] = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    link->wake[1] = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    std::lock_guard lk(mutex_);
    link->plan[0] = plans_[0];
    link->plan[1] = plans_[1];
    Link& l = *link;
    links_.push_back(std::move(link));
    ++accepted_;
    l.threads[0] = std::thread([this, &l] { pump(l, Direction::upstream); });
    l.threads[1] = std::thread([this, &l] { pump(l, Direction::downstream); });
    notify();
  }
}

void FaultProxy::pump(Link& link, Direction direction) {
  const int d = index_of(direction);
  const int src = link.fds[d];
  const int dst = link.fds[1 - d];
  std::minstd_rand rng(static_cast<unsigned>(d * 7919 + link.fds[0]));
  Clock::time_point last_release{};
  std::uint8_t buffer[16 * 1024];

  // Ends the link for both pumps (the first reason wins).
  auto end_link = [&](Link::End how) {
    std::lock_guard lk(mutex_);
    if (link.end == Link::End::open) link.end = how;
    signal_fd(link.wake[0]);
    signal_fd(link.wake[1]);
  };
  auto ended = [&] {
    std::lock_guard lk(mutex_);
    return link.end != Link::End::open;
  };
  // Waits for events on fd (or only for stop and wake-ups when fd < 0) until deadline:
  // ready (fd is), woken (a fault was armed: re-read the plan), timeout, or over (the link
  // ended or the proxy stopped).
  enum class Wait { ready, woken, timeout, over };
  auto wait = [&](int fd, short events, Clock::time_point deadline) {
    for (;;) {
      pollfd fds[3] = {{stop_fd_, POLLIN, 0}, {link.wake[d], POLLIN, 0}, {fd, events, 0}};
      timespec ts{};
      timespec* tsp = nullptr;
      if (deadline != Clock::time_point::max()) {
        const auto left = std::max(deadline - Clock::now(), Clock::duration::zero());
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        ts.tv_sec = static_cast<time_t>(ns / 1000000000);
        ts.tv_nsec = static_cast<long>(ns % 1000000000);
        tsp = &ts;
      }
      const int n = ::ppoll(fds, fd >= 0 ? 3 : 2, tsp, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Wait::over;
      }
      if (fds[0].revents != 0) return Wait::over;
      if (fds[1].revents != 0) {
        drain_fd(link.wake[d]);
        return ended() ? Wait::over : Wait::woken;
      }
      if (n == 0) return Wait::timeout;
      return Wait::ready;
    }
  };
  // Writes all of data to dst (1 byte per send when splitting); false when the link ended.
  auto send_all = [&](const std::uint8_t* data, std::size_t size, bool split, std::chrono::microseconds gap) {
    std::size_t sent = 0;
    while (sent < size) {
      const std::size_t piece = split ? 1 : size - sent;
      const ssize_t n = ::send(dst, data + sent, piece, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        if (split && sent < size && gap.count() > 0) {
          const auto until = Clock::now() + gap;
          Wait w;
          while ((w = wait(-1, 0, until)) == Wait::woken) {
          }
          if (w == Wait::over) return false;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (wait(dst, POLLOUT, Clock::time_point::max()) == Wait::over) return false;
        continue;
      }
      end_link(Link::End::rst);  // the receiver is gone: tell the sender the same way
      return false;
    }
    return true;
  };

  for (;;) {
    // How far we may read before the next planned fault in this direction.
    FaultPlan plan;
    std::uint64_t count;
    {
      std::lock_guard lk(mutex_);
      if (link.end != Link::End::open) break;
      plan = link.plan[d];
      count = link.count[d];
    }
    std::uint64_t room = sizeof buffer;
    int due = -1;  // the fault whose byte count is reached
    const std::pair<const std::optional<std::uint64_t>*, int> boundaries[] = {
        {&plan.truncate_after, kTruncate}, {&plan.reset_after, kReset},
        {&plan.stall_after, kStall}, {&plan.half_close_after, kHalfClose}};
    for (auto [at, kind] : boundaries) {
      if (!*at) continue;
      const std::uint64_t left = **at > count ? **at - count : 0;
      if (left == 0) {
        due = kind;
        break;
      }
      room = std::min(room, left);
    }
    if (due == kTruncate || due == kReset) {
      {
        std::lock_guard lk(mutex_);
        ++faults_;
        notify();
      }
      end_link(due == kTruncate ? Link::End::fin : Link::End::rst);
      break;
    }
    if (due == kHalfClose) {
      ::shutdown(dst, SHUT_WR);
      std::lock_guard lk(mutex_);
      link.plan[d].half_close_after.reset();
      ++faults_;
      notify();
      break;  // this direction is over; the other goes on
    }
    if (due == kStall) {
      {
        std::lock_guard lk(mutex_);
        link.stalled[d] = true;
        ++faults_;
        notify();
      }
      while (wait(-1, 0, Clock::time_point::max()) == Wait::woken) {
      }
      break;
    }

    const Wait w = wait(src, POLLIN, Clock::time_point::max());
    if (w == Wait::over) break;
    if (w != Wait::ready) continue;  // re-read the plan
    const ssize_t n = ::recv(src, buffer, static_cast<std::size_t>(room), 0);
    if (n == 0) {
      ::shutdown(dst, SHUT_WR);  // pass the FIN on; the other direction goes on
      break;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      end_link(Link::End::rst);  // reset by the peer: pass the reset on
      break;
    }
    const auto size = static_cast<std::uint64_t>(n);
    {
      // The plan as it is now: a flip armed while this thread waited must hit these bytes.
      std::lock_guard lk(mutex_);
      auto& flip_at = link.plan[d].flip_at;
      if (flip_at && *flip_at >= count && *flip_at < count + size) {
        buffer[*flip_at - count] ^= 0xFF;
        flip_at.reset();
      }
      // Counted as received, not as forwarded: a fault armed "n bytes from now" once the
      // peer answered these bytes must not land on them.
      link.count[d] += size;
    }
    if (plan.delay.count() > 0 || plan.jitter.count() > 0) {
      auto hold = std::chrono::duration_cast<Clock::duration>(plan.delay);
      if (plan.jitter.count() > 0) {
        const auto j = plan.jitter.count();
        hold += std::chrono::milliseconds(std::uniform_int_distribution<long long>(-j, j)(rng));
      }
      const auto release = std::max(last_release, Clock::now() + std::max(hold, Clock::duration::zero()));
      last_release = release;
      Wait held;
      while ((held = wait(-1, 0, release)) == Wait::woken) {
      }
      if (held == Wait::over) break;
    }
    if (!send_all(buffer, static_cast<std::size_t>(size), plan.split, plan.split_gap)) break;
    std::lock_guard lk(mutex_);
    forwarded_[d] += size;
    notify();
  }

  // The last pump out closes both sockets; a stalled sibling is told to leave with us.
  std::lock_guard lk(mutex_);
  if (--link.pumps_left == 1) {
    if (link.stalled[1 - d]) {
      if (link.end == Link::End::open) link.end = Link::End::fin;
      signal_fd(link.wake[1 - d]);
    }
    return;
  }
  if (link.end == Link::End::rst) {
    const linger abort_now{1, 0};
    for (int fd : link.fds) ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_now, sizeof abort_now);
  }
  for (int& fd : link.fds) {
    ::close(fd);
    fd = -1;
  }
  ++finished_;
  notify();
}

}  // namespace netref::test
