// Name resolution within a connect timeout: IP literals never wait for a lookup, a lookup that
// hangs ends the resolution at the timeout (and finishes on its own thread later), a failed
// lookup says why, and localhost resolves and connects for real (loopback only).
#include "resolver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "netref/stream/socket_stream.hpp"

using netref::detail::lookups_running;
using netref::detail::resolve_tcp;
using namespace std::chrono_literals;

namespace {

std::atomic<int> lookups_called{0};

int counting_lookup(const char* host, const char* service, const addrinfo* hints, addrinfo** result) {
  lookups_called.fetch_add(1);
  return ::getaddrinfo(host, service, hints, result);
}

int failing_lookup(const char*, const char*, const addrinfo*, addrinfo**) { return EAI_NONAME; }

// A lookup that hangs until released, then answers 127.0.0.1 (allocated: its thread must free it).
struct Hang {
  std::mutex mutex;
  std::condition_variable changed;
  bool entered = false;
  bool released = false;
};
Hang hang;

int hanging_lookup(const char*, const char* service, const addrinfo* hints, addrinfo** result) {
  std::unique_lock lk(hang.mutex);
  hang.entered = true;
  hang.changed.notify_all();
  hang.changed.wait(lk, [] { return hang.released; });
  return ::getaddrinfo("127.0.0.1", service, hints, result);
}

std::string address_text(const netref::detail::SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = "";
  if (address.family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr, text, sizeof text);
  } else {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr, text, sizeof text);
  }
  return text;
}

// Waits for the lookup threads to end: the event itself, polled, with a bound against a hang.
bool lookup_threads_end() {
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (lookups_running() != 0) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

TEST_CASE("an IP literal is converted at once, without a lookup") {
  lookups_called = 0;
  const auto v4 = resolve_tcp("127.0.0.1", 8080, 1s, false, counting_lookup);
  REQUIRE(v4.failure.empty());
  REQUIRE(v4.addresses.size() == 1);
  CHECK(address_text(v4.addresses[0]) == "127.0.0.1");
  CHECK(netref::detail::describe(v4.addresses[0]) == "tcp 127.0.0.1:8080");
  const auto v6 = resolve_tcp("::1", 8080, 1s, false, counting_lookup);
  REQUIRE(v6.failure.empty());
  REQUIRE(v6.addresses.size() == 1);
  CHECK(netref::detail::describe(v6.addresses[0]) == "tcp [::1]:8080");
  CHECK(lookups_called == 0);
}

TEST_CASE("a name is looked up, and localhost gives a loopback address") {
  lookups_called = 0;
  const auto resolution = resolve_tcp("localhost", 8080, 5s, false, counting_lookup);
  INFO(resolution.failure);
  REQUIRE(resolution.failure.empty());
  CHECK(lookups_called == 1);
  bool loopback = false;
  for (const auto& address : resolution.addresses) {
    const auto text = address_text(address);
    loopback = loopback || text == "127.0.0.1" || text == "::1";
  }
  CHECK(loopback);
  CHECK(lookup_threads_end());
}

TEST_CASE("a lookup that fails says why") {
  const auto resolution = resolve_tcp("nothing.invalid", 80, 5s, false, failing_lookup);
  CHECK(resolution.addresses.empty());
  CHECK(resolution.failure == "name resolution failed (name or service not known)");
  CHECK(lookup_threads_end());
}

TEST_CASE("a lookup that hangs ends the resolution at the timeout, and its answer is freed when it comes") {
  const auto start = std::chrono::steady_clock::now();
  const auto resolution = resolve_tcp("hangs.invalid", 80, 100ms, false, hanging_lookup);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(resolution.addresses.empty());
  CHECK(resolution.failure == "name resolution timed out after 100 ms");
  CHECK(took >= 100ms);
  {
    // The lookup cannot have returned: only this thread releases it. The timeout ended the wait.
    std::unique_lock lk(hang.mutex);
    REQUIRE(hang.changed.wait_for(lk, 10s, [] { return hang.entered; }));
    CHECK(lookups_running() == 1);
    hang.released = true;
  }
  hang.changed.notify_all();
  CHECK(lookup_threads_end());  // the late answer was freed by its thread (ASan would see a leak)
}

TEST_CASE("connect_tcp reaches a listener by the name localhost within its timeout") {
  auto listener = netref::listen_tcp("127.0.0.1", 0);
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  std::string peer;
  try {
    peer = netref::connect_tcp("localhost", listener->port(), 5s)->peer_name();
  } catch (const std::exception& error) {
    FAIL_CHECK(error.what());
  }
  listener->close();  // ends the accept, whatever became of the connect
  (void)accepted.get();
  CHECK(peer == "tcp 127.0.0.1:" + std::to_string(listener->port()));
}
