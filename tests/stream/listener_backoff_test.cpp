// accept() when the process is out of file descriptors: back off and retry, never throw.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <vector>

#include "netref/stream/socket_stream.hpp"

using namespace netref;
using namespace std::chrono_literals;

TEST_CASE("accept out of file descriptors retries after a back-off instead of throwing") {
  auto listener = listen_tcp("127.0.0.1", 0);
  auto client = connect_tcp("127.0.0.1", listener->port());  // waits in the backlog
  // A thread for accept() before the descriptors run out.
  std::promise<void> go;
  auto accepted = std::async(std::launch::async, [&, started = go.get_future()]() mutable {
    started.wait();
    return listener->accept();
  });

  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit lowered = saved;
  lowered.rlim_cur = 512;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  std::vector<int> hogs;
  for (;;) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) break;
    hogs.push_back(fd);
  }
  go.set_value();
  // accept() hits EMFILE, so it neither returns nor throws while the descriptors are gone.
  const bool waited = accepted.wait_for(100ms) == std::future_status::timeout;
  for (const int fd : hogs) ::close(fd);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  CHECK(waited);
  CHECK(accepted.get() != nullptr);
}
