// What the way a reader waits for bytes costs: a 30-byte ping-pong over loopback TCP, both
// ends waiting the same way, 20,000 round trips, median. The evidence behind RESULTS.md's
// proposal 2 (netref's client waits as in "poll with a timeout", its server as in "recv, poll,
// recv"; the raw baseline as in "blocking recv").
// Usage: bench_wait_patterns
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

enum class Wait { blocking_recv, poll_then_recv, recv_poll_recv, poll_timeout_then_recv };

const char* name_of(Wait w) {
  switch (w) {
    case Wait::blocking_recv: return "blocking recv (the raw baseline)";
    case Wait::poll_then_recv: return "poll(-1), then recv";
    case Wait::recv_poll_recv: return "recv (EAGAIN), poll(-1), recv (netref's server)";
    case Wait::poll_timeout_then_recv: return "poll(30000), then recv (netref's client)";
  }
  return "";
}

// Waits for the peer's message as `how` says and reads it (30 bytes fit one read).
bool receive(int fd, Wait how, char* buffer, std::size_t size) {
  if (how == Wait::blocking_recv) return ::recv(fd, buffer, size, 0) > 0;
  if (how == Wait::recv_poll_recv && ::recv(fd, buffer, size, MSG_DONTWAIT) > 0) return true;
  pollfd entry{fd, POLLIN, 0};
  ::poll(&entry, 1, how == Wait::poll_timeout_then_recv ? 30000 : -1);
  return ::recv(fd, buffer, size, MSG_DONTWAIT) > 0;
}

void set_nodelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

double median_round_trip(Wait how) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof addr;
  ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(listener, 1);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &size);
  std::thread echo([listener, how] {
    const int fd = ::accept(listener, nullptr, nullptr);
    set_nodelay(fd);
    char buffer[64];
    while (receive(fd, how, buffer, sizeof buffer)) ::send(fd, buffer, 30, MSG_NOSIGNAL);
    ::close(fd);
  });
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  set_nodelay(fd);
  char buffer[64] = {};
  std::vector<double> micros;
  for (int i = 0; i < 21000; ++i) {
    const auto start = std::chrono::steady_clock::now();
    ::send(fd, buffer, 30, MSG_NOSIGNAL);
    receive(fd, how, buffer, sizeof buffer);
    if (i >= 1000) micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  ::close(fd);
  echo.join();
  ::close(listener);
  std::sort(micros.begin(), micros.end());
  return micros[micros.size() / 2];
}

}  // namespace

int main() {
  for (Wait how : {Wait::blocking_recv, Wait::poll_then_recv, Wait::recv_poll_recv, Wait::poll_timeout_then_recv}) {
    std::printf("%-50s %6.2f us\n", name_of(how), median_round_trip(how));
  }
}
