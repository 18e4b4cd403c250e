// TCP and Unix-domain socket streams: round trips, errors that name the address, close
// semantics across threads.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "netref/stream/socket_stream.hpp"
#include "stream/stream_text.hpp"

using namespace netref;
using namespace std::chrono_literals;

namespace {

using netref::test::bytes_of;
using netref::test::read_string;

// A connected TCP pair on 127.0.0.1: {client side, server side}.
std::pair<StreamPtr, StreamPtr> tcp_pair() {
  auto listener = listen_tcp("127.0.0.1", 0);
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  auto client = connect_tcp("127.0.0.1", listener->port());
  auto server = accepted.get();
  REQUIRE(server != nullptr);
  return {std::move(client), std::move(server)};
}

// A fresh directory for Unix socket files, removed with its contents at the end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char pattern[] = "/tmp/netref-stream-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// Both directions, with a gathered write of several pieces.
void check_round_trip(Stream& a, Stream& b) {
  const auto head = bytes_of("head-");
  const auto body = bytes_of(std::string(100000, 'x'));
  const auto tail = bytes_of("-tail");
  const std::span<const std::uint8_t> pieces[3] = {head, body, tail};
  auto reader = std::async(std::launch::async, [&] { return read_string(b, 100010); });
  a.write_all(std::span<const std::span<const std::uint8_t>>(pieces));
  CHECK(reader.get() == "head-" + std::string(100000, 'x') + "-tail");

  b.write_all(bytes_of("pong"));
  CHECK(read_string(a, 4) == "pong");
}

}  // namespace

TEST_CASE("bytes written on a TCP connection arrive in order in both directions") {
  auto [client, server] = tcp_pair();
  check_round_trip(*client, *server);
  check_round_trip(*server, *client);
  CHECK(client->peer_name() == "tcp 127.0.0.1:" + std::to_string(
      [&] { sockaddr_in a{}; socklen_t n = sizeof a;
            ::getsockname(server->native_handle(), reinterpret_cast<sockaddr*>(&a), &n);
            return ntohs(a.sin_port); }()));
  CHECK(server->peer_name().rfind("tcp 127.0.0.1:", 0) == 0);
}

TEST_CASE("a TCP connection can be made to an IPv6 literal") {
  std::unique_ptr<Listener> listener;
  try {
    listener = listen_tcp("::1", 0);
  } catch (const ConnectError&) {
    return;  // no IPv6 loopback on this machine: nothing to test
  }
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  auto client = connect_tcp("::1", listener->port());
  auto server = accepted.get();
  REQUIRE(server != nullptr);
  check_round_trip(*client, *server);
  CHECK(client->peer_name() == "tcp [::1]:" + std::to_string(listener->port()));
}

TEST_CASE("bytes written on a Unix socket arrive in order in both directions") {
  TempDir dir;
  const std::string path = (dir.path / "s.sock").string();
  auto listener = listen_unix(path);
  CHECK(listener->port() == 0);
  CHECK(listener->local_name() == "unix " + path);
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  auto client = connect_unix(path);
  auto server = accepted.get();
  REQUIRE(server != nullptr);
  check_round_trip(*client, *server);
  check_round_trip(*server, *client);
  CHECK(client->peer_name() == "unix " + path);
}

TEST_CASE("listening on a Unix path replaces a stale socket file but not a regular file") {
  TempDir dir;
  const std::string path = (dir.path / "stale.sock").string();
  listen_unix(path).reset();  // leaves the socket file behind, as a crashed server would
  REQUIRE(std::filesystem::is_socket(path));
  auto listener = listen_unix(path);
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  auto client = connect_unix(path);
  CHECK(accepted.get() != nullptr);

  const std::string file = (dir.path / "regular").string();
  { std::FILE* f = std::fopen(file.c_str(), "w"); REQUIRE(f); std::fclose(f); }
  CHECK_THROWS_AS(listen_unix(file), ConnectError);
  CHECK(std::filesystem::is_regular_file(file));
}

TEST_CASE("connecting to a closed port is refused and the error names the address") {
  std::uint16_t port = 0;
  {
    auto listener = listen_tcp("127.0.0.1", 0);
    port = listener->port();
  }
  try {
    connect_tcp("127.0.0.1", port);
    FAIL("connect_tcp did not throw");
  } catch (const ConnectError& error) {
    const std::string message = error.what();
    CHECK(message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(message.find("connection refused") != std::string::npos);
  }
}

TEST_CASE("connecting to a Unix path with no listener names the path") {
  TempDir dir;
  const std::string path = (dir.path / "nobody.sock").string();
  try {
    connect_unix(path);
    FAIL("connect_unix did not throw");
  } catch (const ConnectError& error) {
    CHECK(std::string(error.what()).find(path) != std::string::npos);
  }
}

TEST_CASE("a host name that does not resolve fails with a message naming the host") {
  try {
    connect_tcp("no-such-host.invalid", 18861);
    FAIL("connect_tcp did not throw");
  } catch (const ConnectError& error) {
    const std::string message = error.what();
    CHECK(message.find("no-such-host.invalid:18861") != std::string::npos);
    CHECK(message.find("name resolution failed") != std::string::npos);
  }
}

TEST_CASE("a connect to a listener whose backlog is full times out") {
  auto listener = listen_tcp("127.0.0.1", 0, 0);
  std::vector<StreamPtr> queued;  // never accepted: they fill the backlog
  bool timed_out = false;
  for (int i = 0; i < 16 && !timed_out; ++i) {
    try {
      queued.push_back(connect_tcp("127.0.0.1", listener->port(), 200ms));
    } catch (const ConnectError& error) {
      const std::string message = error.what();
      CHECK(message.find("127.0.0.1:" + std::to_string(listener->port())) != std::string::npos);
      CHECK(message.find("timed out") != std::string::npos);
      timed_out = true;
    }
  }
  CHECK(timed_out);
}

TEST_CASE("TCP_NODELAY is on for connected and accepted sockets") {
  auto [client, server] = tcp_pair();
  for (Stream* stream : {client.get(), server.get()}) {
    int value = 0;
    socklen_t length = sizeof value;
    REQUIRE(::getsockopt(stream->native_handle(), IPPROTO_TCP, TCP_NODELAY, &value, &length) == 0);
    CHECK(value != 0);
  }
}

TEST_CASE("acknowledge_now puts a TCP socket in quick-ack mode, and is harmless on a Unix socket") {
  auto [client, server] = tcp_pair();
  const int fd = server->native_handle();
  auto quickack = [fd] {
    int value = -1;
    socklen_t length = sizeof value;
    REQUIRE(::getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &value, &length) == 0);
    return value;
  };
  const int off = 0;
  REQUIRE(::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &off, sizeof off) == 0);
  REQUIRE(quickack() == 0);  // delayed ACKs, as after interactive traffic
  server->acknowledge_now();
  CHECK(quickack() == 1);

  TempDir dir;
  auto listener = listen_unix((dir.path / "ack.sock").string());
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  auto unix_client = connect_unix((dir.path / "ack.sock").string());
  auto unix_server = accepted.get();
  unix_server->acknowledge_now();
  client->write_all(bytes_of("still works"));
  unix_client->write_all(bytes_of("both"));
  CHECK(read_string(*server, 11) == "still works");
  CHECK(read_string(*unix_server, 4) == "both");
}

TEST_CASE("poll on an idle socket times out and reports data once it arrives") {
  auto [client, server] = tcp_pair();
  CHECK_FALSE(server->poll(20ms));
  CHECK_FALSE(server->poll(0ms));
  client->write_all(bytes_of("x"));
  CHECK(server->poll(-1ms));
  CHECK(read_string(*server, 1) == "x");
}

TEST_CASE("the peer closing its socket makes a read throw ConnectionClosed") {
  auto [client, server] = tcp_pair();
  client->write_all(bytes_of("abc"));
  client.reset();
  try {
    read_string(*server, 5);  // 3 bytes are there, then EOF
    FAIL("read_exact did not throw");
  } catch (const ConnectionClosed& error) {
    CHECK(std::string(error.what()).find("closed by peer") != std::string::npos);
    CHECK(std::string(error.what()).find("tcp 127.0.0.1:") != std::string::npos);
  }
}

TEST_CASE("writing to a peer that has gone throws ConnectionClosed instead of raising SIGPIPE") {
  auto [client, server] = tcp_pair();
  server.reset();
  const std::vector<std::uint8_t> chunk(65536, 7);
  CHECK_THROWS_AS(
      [&] {
        for (int i = 0; i < 1000; ++i) client->write_all(chunk);
      }(),
      ConnectionClosed);
}

TEST_CASE("close wakes a reader blocked in read_exact in another thread") {
  auto [client, server] = tcp_pair();
  auto reader = std::async(std::launch::async, [&] { read_string(*server, 4); });
  REQUIRE(reader.wait_for(50ms) == std::future_status::timeout);  // it is blocked
  server->close();
  CHECK_THROWS_AS(reader.get(), ConnectionClosed);
  CHECK(server->closed());
  server->close();  // idempotent
  CHECK_THROWS_AS(server->write_all(bytes_of("x")), ConnectionClosed);
  CHECK_THROWS_AS(server->poll(0ms), ConnectionClosed);
}

TEST_CASE("close wakes a thread blocked in poll on a Unix socket") {
  TempDir dir;
  const std::string path = (dir.path / "p.sock").string();
  auto listener = listen_unix(path);
  auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
  auto client = connect_unix(path);
  auto server = accepted.get();
  REQUIRE(server != nullptr);
  auto poller = std::async(std::launch::async, [&] { return server->poll(-1ms); });
  REQUIRE(poller.wait_for(50ms) == std::future_status::timeout);
  server->close();
  CHECK_THROWS_AS(poller.get(), ConnectionClosed);
}

TEST_CASE("Listener::close wakes a thread blocked in accept") {
  SUBCASE("tcp") {
    auto listener = listen_tcp("127.0.0.1", 0);
    CHECK(listener->local_name() == "tcp 127.0.0.1:" + std::to_string(listener->port()));
    auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
    REQUIRE(accepted.wait_for(50ms) == std::future_status::timeout);
    listener->close();
    CHECK(accepted.get() == nullptr);
    CHECK(listener->accept() == nullptr);
  }
  SUBCASE("unix") {
    TempDir dir;
    auto listener = listen_unix((dir.path / "a.sock").string());
    auto accepted = std::async(std::launch::async, [&] { return listener->accept(); });
    REQUIRE(accepted.wait_for(50ms) == std::future_status::timeout);
    listener->close();
    listener->close();
    CHECK(accepted.get() == nullptr);
  }
}

TEST_CASE("listening on a port already in use names the address") {
  auto first = listen_tcp("127.0.0.1", 0);
  try {
    listen_tcp("127.0.0.1", first->port());
    FAIL("listen_tcp did not throw");
  } catch (const ConnectError& error) {
    CHECK(std::string(error.what()).find("127.0.0.1:" + std::to_string(first->port())) !=
          std::string::npos);
  }
}

TEST_CASE("read_some on a socket waits at most its timeout, returns what came, and close() wakes it") {
  auto [client, server] = tcp_pair();
  std::uint8_t buffer[64];
  // Nothing sent: 0 once the wait is over (SO_RCVTIMEO may end it early, never late).
  const auto start = std::chrono::steady_clock::now();
  CHECK(server->read_some(buffer, 100ms) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  // Bytes that came: returned at once, with a bounded or an unbounded wait alike.
  client->write_all(bytes_of("abc"));
  CHECK(server->read_some(buffer, 5s) == 3);
  client->write_all(bytes_of("de"));
  CHECK(server->read_some(buffer, -1ms) == 2);
  // A reader blocked without a limit is woken by close() from another thread.
  auto blocked = std::async(std::launch::async, [&] {
    try {
      server->read_some(buffer, -1ms);
    } catch (const ConnectionClosed& e) {
      return std::string(e.what());
    }
    return std::string("returned");
  });
  // Closing before the reader blocks is as good: its recv sees the shutdown either way.
  server->close();
  REQUIRE(blocked.wait_for(5s) == std::future_status::ready);
  CHECK(blocked.get().find("closed locally") != std::string::npos);
  // The peer's EOF ends a bounded wait with ConnectionClosed, not a 0.
  auto [a, b] = tcp_pair();
  a->close();
  CHECK_THROWS_AS(b->read_some(buffer, 1s), ConnectionClosed);
}

TEST_CASE("a Unix path that is empty or too long for a socket address is refused with its length, both ways") {
  const std::string too_long(200, 'p');
  CHECK_THROWS_WITH_AS(listen_unix(too_long), doctest::Contains("cannot listen on unix"), ConnectError);
  CHECK_THROWS_WITH_AS(connect_unix(too_long), doctest::Contains("path of 200 bytes does not fit"), ConnectError);
  CHECK_THROWS_WITH_AS(connect_unix(""), doctest::Contains("cannot connect to unix"), ConnectError);
}
