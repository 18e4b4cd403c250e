// The in-memory stream pair: round trips and the close semantics the layers above rely on.
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "netref/stream/memory_stream.hpp"
#include "stream/stream_text.hpp"

using namespace netref;
using namespace std::chrono_literals;

namespace {

using netref::test::bytes_of;
using netref::test::read_string;

}  // namespace

TEST_CASE("bytes written on a memory pair arrive in order in both directions") {
  auto [a, b] = make_memory_pair();
  const auto one = bytes_of("hello, ");
  const auto two = bytes_of("world");
  const std::span<const std::uint8_t> pieces[2] = {one, two};
  a->write_all(std::span<const std::span<const std::uint8_t>>(pieces));
  a->write_all(bytes_of("!"));
  CHECK(read_string(*b, 5) == "hello");
  CHECK(read_string(*b, 8) == ", world!");
  b->write_all(bytes_of("back"));
  CHECK(read_string(*a, 4) == "back");
  CHECK(a->peer_name() == "memory");
  CHECK(a->native_handle() == -1);
}

TEST_CASE("a read on a memory pair collects bytes from many small writes") {
  auto [a, b] = make_memory_pair();
  std::string expected;
  for (int i = 0; i < 5000; ++i) expected += static_cast<char>('a' + i % 26);
  auto writer = std::async(std::launch::async, [&, &out = *a] {
    for (const char c : expected) {
      const std::uint8_t byte = static_cast<std::uint8_t>(c);
      out.write_all(std::span<const std::uint8_t>(&byte, 1));
    }
  });
  CHECK(read_string(*b, expected.size()) == expected);
  writer.get();
}

TEST_CASE("closing one end of a memory pair lets the other drain buffered bytes, then EOF") {
  auto [a, b] = make_memory_pair();
  a->write_all(bytes_of("abc"));
  a->close();
  CHECK(a->closed());
  CHECK_FALSE(b->closed());
  CHECK(b->poll(0ms));  // buffered bytes
  CHECK(read_string(*b, 3) == "abc");
  CHECK(b->poll(0ms));  // EOF is readable too
  try {
    read_string(*b, 1);
    FAIL("read_exact did not throw");
  } catch (const ConnectionClosed& error) {
    CHECK(std::string(error.what()).find("closed by peer") != std::string::npos);
  }
  CHECK_THROWS_AS(b->write_all(bytes_of("x")), ConnectionClosed);
  CHECK_THROWS_AS(a->write_all(bytes_of("x")), ConnectionClosed);
  CHECK_THROWS_AS(read_string(*a, 1), ConnectionClosed);
  CHECK_THROWS_AS(a->poll(0ms), ConnectionClosed);
  a->close();  // idempotent
}

TEST_CASE("a partial frame before the peer closes a memory pair is ConnectionClosed") {
  auto [a, b] = make_memory_pair();
  a->write_all(bytes_of("ab"));
  a.reset();  // destroying an end closes it
  CHECK_THROWS_AS(read_string(*b, 3), ConnectionClosed);
}

TEST_CASE("poll on an idle memory pair honours its timeout") {
  auto [a, b] = make_memory_pair();
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(b->poll(30ms));
  CHECK(std::chrono::steady_clock::now() - start >= 30ms);
  a->write_all(bytes_of("x"));
  CHECK(b->poll(-1ms));
}

TEST_CASE("close wakes a reader blocked on a memory pair in another thread") {
  auto [a, b] = make_memory_pair();
  auto reader = std::async(std::launch::async, [&, &in = *b] { read_string(in, 1); });
  REQUIRE(reader.wait_for(50ms) == std::future_status::timeout);
  b->close();
  CHECK_THROWS_AS(reader.get(), ConnectionClosed);
}

TEST_CASE("closing the far end wakes a poller blocked on a memory pair") {
  auto [a, b] = make_memory_pair();
  auto poller = std::async(std::launch::async, [&, &in = *b] { return in.poll(-1ms); });
  REQUIRE(poller.wait_for(50ms) == std::future_status::timeout);
  a->close();
  CHECK(poller.get());
}
