// The raw TCP baseline server (see raw_wire.hpp): a thread per connection, like netref's
// ThreadedServer, answering add and echo in batches. Binds 127.0.0.1 on a free port, prints
// "port <n>", and serves until SIGTERM or SIGINT.
// Usage: raw_bench_server

#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>

#include "raw_wire.hpp"
#include "stop_signals.hpp"

namespace {

// Answers every whole request that has arrived, then writes the replies at once: a pipelining
// client's requests cost one recv and one write per batch, not per request. A large echo is
// sent straight from the input buffer it arrived in, after the replies queued before it.
void serve(int fd) {
  try {
    bench::raw::Conn conn(fd);
    bench::raw::Message request;
    while (conn.wait_message()) {
      while (conn.next(request)) {
        if (request.op == bench::raw::kAdd && request.size == 16) {
          std::int64_t a, b;
          std::memcpy(&a, request.body, 8);
          std::memcpy(&b, request.body + 8, 8);
          const std::int64_t sum = a + b;
          conn.queue(bench::raw::kAdd, &sum, sizeof sum);
        } else if (request.op == bench::raw::kEcho && request.size > bench::raw::kReadAhead) {
          conn.send(bench::raw::kEcho, request.body, request.size);
        } else if (request.op == bench::raw::kEcho) {
          conn.queue(bench::raw::kEcho, request.body, request.size);
        } else {
          return;  // a bad message ends this client only
        }
      }
      conn.flush();
    }
  } catch (const std::exception&) {
    // the client went away
  }
}

}  // namespace

int main() {
  const bench::StopSignals stop_signals;  // before any thread starts

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) bench::raw::fail("socket");
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t addr_size = sizeof addr;
  if (::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) bench::raw::fail("bind");
  if (::listen(listener, 4096) != 0) bench::raw::fail("listen");
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &addr_size) != 0) bench::raw::fail("getsockname");
  std::printf("port %u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
  std::fflush(stdout);

  std::thread([listener] {
    for (;;) {
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;
      }
      bench::raw::set_nodelay(fd);
      std::thread(serve, fd).detach();
    }
  }).detach();

  stop_signals.wait();
  return 0;  // the detached threads end with the process
}
