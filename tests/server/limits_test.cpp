// The limits that keep a server healthy in front of hostile or dead clients: each one trips
// with a clear reason, the offending connection alone pays, and a canary keeps its answers.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>

#include <future>

#include "server/lab.hpp"

using namespace netref;
using namespace netref::test;

namespace {

/// A frame header announcing `length` payload bytes.
std::vector<std::uint8_t> frame_header(std::uint32_t length) {
  return {static_cast<std::uint8_t>(length >> 24), static_cast<std::uint8_t>(length >> 16),
          static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length), 0};
}

}  // namespace

TEST_CASE_TEMPLATE("past max_connections a client is closed at accept with a logged reason", Server, ThreadedServer,
                   ThreadPoolServer) {
  Lab lab;
  LogSink log;
  auto cfg = loopback_config(&log);
  cfg.max_connections = 3;
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  std::vector<Client> admitted;
  for (int i = 0; i < 3; ++i) admitted.push_back(connect("127.0.0.1", port));
  auto extra = connect_tcp("127.0.0.1", port);
  CHECK(closed_by_peer_within(*extra, 5s));
  CHECK(log.contains("max_connections"));
  CHECK(server.stats().refused == 1);
  for (auto& c : admitted) CHECK(c->root()->attr("add")->call(2, 3).as<std::int64_t>() == 5);
  admitted.pop_back();  // a slot frees when a client leaves
  const auto end = Clock::now() + 5s;
  while (server.connection_count() > 2 && Clock::now() < end) std::this_thread::yield();
  CHECK(connect("127.0.0.1", port)->root()->attr("ping")->call().as<std::string>() == "pong");
}

TEST_CASE_TEMPLATE("a client that connects and sends nothing is closed at the first-frame timeout", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  auto cfg = loopback_config();
  cfg.first_frame_timeout = 200ms;
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port);
  auto silent = connect_tcp("127.0.0.1", port);
  const auto start = Clock::now();
  CHECK(closed_by_peer_within(*silent, 5s));
  CHECK(Clock::now() - start >= 150ms);
  CHECK(canary.wait_calls(3));
}

TEST_CASE_TEMPLATE("a frame that trickles in slower than the frame timeout closes its connection only", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  auto cfg = loopback_config();
  cfg.channel.frame_timeout = 300ms;
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port);
  std::vector<StreamPtr> slow;
  for (int i = 0; i < 10; ++i) {
    slow.push_back(connect_tcp("127.0.0.1", port));
    slow.back()->write_all(frame_header(100));  // a header, then nothing of the payload
  }
  for (auto& s : slow) CHECK(closed_by_peer_within(*s, 5s));
  CHECK(canary.wait_calls(3));
  CHECK(canary.failure().empty());
}

TEST_CASE_TEMPLATE("a client that stops reading its replies is closed at the write-stall timeout", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  auto cfg = loopback_config();
  cfg.channel.write_timeout = 300ms;
  cfg.channel.compress = false;
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port);
  // Requests for 256 KiB echoes, never reading a reply: the server's socket buffer fills.
  auto greedy = connect("127.0.0.1", port);
  auto echo = greedy->root()->attr("echo");
  const std::string big(256 << 10, 'x');
  std::vector<AsyncCall> calls;
  try {
    for (int i = 0; i < 64; ++i) calls.push_back(echo->async_call(big));  // nobody serves greedy's side
  } catch (const ConnectionClosed&) {
    // the server gave up on us while we were still sending: the outcome under test
  }
  const auto end = Clock::now() + 10s;
  while (server.connection_count() > 1 && Clock::now() < end) std::this_thread::sleep_for(10ms);
  CHECK(server.connection_count() == 1);  // only the canary is left
  CHECK(canary.wait_calls(3));
  CHECK(canary.failure().empty());
}

TEST_CASE_TEMPLATE("an idle connection is closed at the idle timeout, a busy one is not", Server, ThreadedServer,
                   ThreadPoolServer) {
  Lab lab;
  auto cfg = loopback_config();
  cfg.connection.idle_timeout = 300ms;
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  auto idle = connect("127.0.0.1", port);
  auto busy = connect("127.0.0.1", port);
  auto running = busy->root()->attr("block")->async_call();  // a handler runs longer than idle_timeout
  REQUIRE(lab.blocked.wait_for(1));
  const auto end = Clock::now() + 5s;
  while (!idle->closed() && Clock::now() < end) idle->serve(50ms);  // the close arrives as EOF
  CHECK(idle->closed());
  lab.gate.open();
  REQUIRE(running.wait(5s));
  CHECK(running.value().as<std::string>() == "released");
}

TEST_CASE("a client's keepalive notices a server that stopped answering, and fails its calls") {
  // A "server" that accepts and then never reads or writes: a vanished peer, minus the FIN.
  auto listener = listen_tcp("127.0.0.1", 0);
  std::promise<StreamPtr> accepted;
  std::thread acceptor([&] { accepted.set_value(listener->accept()); });
  ClientConfig cfg;
  cfg.negotiate_extensions = false;  // the hello would hang: the peer never answers
  cfg.connection.keepalive_interval = 100ms;
  cfg.connection.keepalive_timeout = 200ms;
  cfg.connection.sync_request_timeout = std::chrono::minutes(1);
  auto conn = open_connection("127.0.0.1", listener->port(), cfg);
  auto held = accepted.get_future().get();
  acceptor.join();
  const auto start = Clock::now();
  CHECK_THROWS_WITH_AS(conn->sync_request(Handler::getroot, {}), doctest::Contains("keepalive"), ConnectionClosed);
  CHECK(Clock::now() - start < 5s);  // bounded by interval + timeout + a tick, not the call's minute
}

TEST_CASE("the thread pool holds hundreds of idle clients on a fixed number of threads") {
  Lab lab;
  auto cfg = loopback_config();
  cfg.worker_threads = 3;
  ThreadPoolServer server(lab.service, cfg);
  server.start();
  std::vector<Client> clients;
  clients.push_back(connect("127.0.0.1", server.port()));  // arms the process's timer thread
  const int before = thread_count();
  for (int i = 1; i < 300; ++i) clients.push_back(connect("127.0.0.1", server.port()));
  CHECK(server.connection_count() == 300);
  CHECK(thread_count() == before);  // no thread per connection
  CHECK(server.thread_count() == 4);  // the acceptor and 3 workers
  for (int i = 0; i < 300; i += 37) CHECK(clients[i]->root()->attr("add")->call(i, 1).as<std::int64_t>() == i + 1);
}

TEST_CASE_TEMPLATE("accept survives running out of descriptors and recovers", Server, ThreadedServer,
                   ThreadPoolServer) {
  Lab lab;
  Server server(lab.service, loopback_config());
  server.start();
  const std::uint16_t port = server.port();
  auto first = connect("127.0.0.1", port);
  {
    // UBSan verifies a type's vptr through a pipe the first time it meets it, which fails
    // once descriptors run out: walk the paths used below now (a call, a refused connect).
    CHECK(first->root()->attr("ping")->call().as<std::string>() == "pong");
    std::uint16_t closed_port = listen_tcp("127.0.0.1", 0)->port();
    CHECK(connect_fails(closed_port));
    connect_tcp("127.0.0.1", port).reset();  // a connection the server sees close
    const auto end = Clock::now() + 5s;
    while ((server.stats().accepted < 2 || server.connection_count() > 1) && Clock::now() < end) {
      std::this_thread::sleep_for(5ms);
    }
  }
  rlimit original{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &original) == 0);
  std::vector<StreamPtr> hogs;
  {
    // Leave a handful of descriptors, then connect until someone (client or server) runs out.
    rlimit tight = original;
    int open_now = 0;
    for (int fd = 0; fd < 4096; ++fd) open_now += ::fcntl(fd, F_GETFD) != -1 ? 1 : 0;
    tight.rlim_cur = static_cast<rlim_t>(open_now + 24);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    for (int i = 0; i < 40; ++i) {
      try {
        hogs.push_back(connect_tcp("127.0.0.1", port, 1s));
      } catch (const ConnectError&) {
        break;  // the client side ran out too
      }
    }
    CHECK(first->root()->attr("ping")->call().as<std::string>() == "pong");  // open connections work
    hogs.clear();
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &original) == 0);
  }
  auto later = connect("127.0.0.1", port);
  CHECK(later->root()->attr("add")->call(20, 22).as<std::int64_t>() == 42);
}

TEST_CASE_TEMPLATE("a client that floods requests without reading replies is held back by the server", Server,
                   ThreadedServer, ThreadPoolServer) {
  Lab lab;
  auto server_cfg = loopback_config();
  server_cfg.channel.compress = false;  // echoes as large on the wire as the requests
  server_cfg.connection.max_pings_per_second = 0;  // pings stand for any request here (the cap has its own tests)
  Server server(lab.service, server_cfg);
  server.start();
  const std::uint16_t port = server.port();
  Canary canary(port);
  // The flooder's own writes give up once they stall: the proof that the server stopped
  // reading it (one request at a time per connection, its replies unread).
  ClientConfig cfg;
  cfg.channel.write_timeout = 300ms;
  cfg.channel.compress = false;
  auto flooder = open_connection("127.0.0.1", port, cfg);
  const std::string payload(64 << 10, 'p');
  int sent = 0;
  try {
    for (; sent < 100000; ++sent) flooder->async_request(Handler::ping, {Value(payload)});
  } catch (const ConnectionClosed& e) {
    CHECK(std::string(e.what()).find("write stalled") != std::string::npos);
  }
  CHECK(sent < 100000);
  CHECK(server.stats().running_handlers <= 2);  // one at a time per connection: the flooder's and the canary's
  CHECK(canary.wait_calls(3));
  CHECK(canary.failure().empty());
}

TEST_CASE_TEMPLATE("a server's keepalive closes a client that never answers", Server, ThreadedServer,
                   ThreadPoolServer) {
  Lab lab;
  auto cfg = loopback_config();
  cfg.first_frame_timeout = 0ms;
  cfg.connection.keepalive_interval = 100ms;
  cfg.connection.keepalive_timeout = 200ms;
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  auto mute = connect_tcp("127.0.0.1", port);  // reads what comes, answers nothing
  CHECK(closed_by_peer_within(*mute, 5s));
  auto live = connect("127.0.0.1", port);      // a client that serves is never taken for dead
  BgServingThread serving(live.connection_ptr());
  CHECK(live->root()->attr("ping")->call().as<std::string>() == "pong");
  const auto pings_answered = live->connection().stats().requests_served;
  const auto end = Clock::now() + 5s;
  while (live->connection().stats().requests_served < pings_answered + 3 && Clock::now() < end) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(live->connection().stats().requests_served >= pings_answered + 3);  // it answered pings
  CHECK_FALSE(live->closed());
}

TEST_CASE_TEMPLATE("a server counts why its connections closed", Server, ThreadedServer, ThreadPoolServer) {
  Lab lab;
  auto cfg = loopback_config();
  cfg.channel.frame_timeout = 200ms;
  Server server(lab.service, cfg);
  server.start();
  const std::uint16_t port = server.port();
  auto oversized = connect_tcp("127.0.0.1", port);
  oversized->write_all(frame_header(0xFFFFFFF0u));  // past max_frame_bytes
  auto trickle = connect_tcp("127.0.0.1", port);
  trickle->write_all(frame_header(10));              // and then nothing
  connect("127.0.0.1", port).close();                // a polite client
  CHECK(closed_by_peer_within(*oversized, 5s));
  CHECK(closed_by_peer_within(*trickle, 5s));
  const auto count = [&](CloseReason reason) {
    auto closed = server.stats().closed;
    return closed.count(reason) != 0 ? closed[reason] : 0;
  };
  const auto end = Clock::now() + 5s;  // the count lands just after the socket closes
  while ((count(CloseReason::frame) < 1 || count(CloseReason::frame_timeout) < 1 || count(CloseReason::peer) < 1) && Clock::now() < end) {
    std::this_thread::sleep_for(5ms);
  }
  CHECK(count(CloseReason::frame) == 1);
  CHECK(count(CloseReason::frame_timeout) == 1);
  CHECK(count(CloseReason::peer) == 1);
}
