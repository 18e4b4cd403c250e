// The log hook: one (level, message, connection id) callback for clients and servers; by
// default nothing is printed.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/metrics_lab.hpp"

using namespace netref;
using namespace netref::test;
using namespace std::chrono_literals;

namespace {

struct Event {
  LogLevel level;
  std::string message;
  ConnectionId connection;
};

// Collects events from any thread; waits for one that matches.
class Collector {
 public:
  LogHandler handler() {
    return [this](LogLevel level, std::string_view message, ConnectionId connection) {
      {
        std::lock_guard lk(mutex_);
        events_.push_back({level, std::string(message), connection});
      }
      cv_.notify_all();
    };
  }
  /// The first event whose message contains needle, waiting up to 5 s for it.
  std::optional<Event> wait_for(std::string_view needle) {
    std::unique_lock lk(mutex_);
    std::optional<Event> found;
    cv_.wait_for(lk, 5s, [&] {
      for (const auto& e : events_) {
        if (e.message.find(needle) != std::string::npos) {
          found = e;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::size_t size() {
    std::lock_guard lk(mutex_);
    return events_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

// Standard error goes to a temporary file while one lives; text() is what was written.
class CapturedStderr {
 public:
  CapturedStderr() {
    std::fflush(stderr);
    file_ = std::tmpfile();
    REQUIRE(file_ != nullptr);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(::fileno(file_), STDERR_FILENO);
  }
  ~CapturedStderr() { restore(); if (file_) std::fclose(file_); }
  std::string text() {
    restore();
    std::string out;
    std::rewind(file_);
    int c;
    while ((c = std::fgetc(file_)) != EOF) out.push_back(static_cast<char>(c));
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

template <class F>
bool within_5s(F done) {
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

TEST_CASE("a connection's events reach its log hook with its id, on the server and the client") {
  Collector server_log, client_log;
  std::promise<ConnectionId> server_side;
  Service service = metrics_service();
  service.on_connect([&](Connection& c) { server_side.set_value(c.id()); });
  ServerConfig cfg = metrics_server_config();
  cfg.log = server_log.handler();
  ThreadPoolServer server(service, cfg);
  server.start();

  ClientConfig client_cfg;
  client_cfg.connection.log = client_log.handler();
  auto conn = connect("127.0.0.1", server.port(), client_cfg);
  const ConnectionId server_id = server_side.get_future().get();
  const ConnectionId client_id = conn->connection().id();
  CHECK(server_id != ConnectionId::none);
  CHECK(server_id != client_id);
  CHECK(conn->connection().name() == "conn" + std::to_string(static_cast<std::uint64_t>(client_id)));

  CHECK_THROWS_AS(conn->root()->attr("fail")->call(1), ValueError);
  const auto raised = server_log.wait_for("raised ValueError: fail was asked to fail");
  REQUIRE(raised);
  CHECK(raised->level == LogLevel::debug);
  CHECK(raised->connection == server_id);

  conn->close();
  const auto closed_here = client_log.wait_for("closed (local)");
  REQUIRE(closed_here);
  CHECK(closed_here->level == LogLevel::info);
  CHECK(closed_here->connection == client_id);
  const auto closed_there = server_log.wait_for("closed (peer)");
  REQUIRE(closed_there);
  CHECK(closed_there->level == LogLevel::info);
  CHECK(closed_there->connection == server_id);
  server.stop();
}

TEST_CASE("a peer that breaks the protocol is logged as a warning on its connection, and a refusal on none") {
  Collector log;
  ServerConfig cfg = metrics_server_config();
  cfg.log = log.handler();
  cfg.max_connections = 1;
  ThreadedServer server(metrics_service(), cfg);
  server.start();
  auto garbage = connect_tcp("127.0.0.1", server.port());
  const std::string bytes = "GET / HTTP/1.1\r\n\r\n";
  const std::span<const std::uint8_t> piece(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  garbage->write_all(std::span<const std::span<const std::uint8_t>>(&piece, 1));
  const auto broken = log.wait_for("closed (frame)");
  REQUIRE(broken);
  CHECK(broken->level == LogLevel::warning);
  CHECK(broken->connection != ConnectionId::none);
  // Its place is free once the server has let it go (the log comes a moment before).
  REQUIRE(within_5s([&] { return server.stats().open_connections == 0; }));

  auto first = connect("127.0.0.1", server.port());
  CHECK(first->root()->attr("add")->call(1, 1).as<std::int64_t>() == 2);
  auto second = connect_tcp("127.0.0.1", server.port());  // one too many
  const auto refused = log.wait_for("max_connections");
  REQUIRE(refused);
  CHECK(refused->level == LogLevel::warning);
  CHECK(refused->connection == ConnectionId::none);
  first->close();
  server.stop();
}

TEST_CASE("nothing is printed by default, whatever goes wrong") {
  CapturedStderr captured;
  {
    ServerConfig cfg = metrics_server_config();
    cfg.max_connections = 2;
    ThreadPoolServer server(metrics_service(), cfg);
    server.start();
    auto conn = connect("127.0.0.1", server.port());
    CHECK_THROWS_AS(conn->root()->attr("fail")->call(1), ValueError);
    auto garbage = connect_tcp("127.0.0.1", server.port());
    const std::string bytes = "GET / HTTP/1.1\r\n\r\n";
    const std::span<const std::uint8_t> piece(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    garbage->write_all(std::span<const std::span<const std::uint8_t>>(&piece, 1));
    CHECK(within_5s([&] { return server.stats().closed[CloseReason::frame] == 1; }));
    REQUIRE(within_5s([&] { return server.stats().open_connections == 1; }));
    auto extra = connect_tcp("127.0.0.1", server.port());
    auto refused = connect_tcp("127.0.0.1", server.port());  // the third: refused at accept
    CHECK(within_5s([&] { return server.stats().refused >= 1; }));
    conn->close();
    server.stop();
  }
  CHECK(captured.text().empty());
}

TEST_CASE("the process-wide handler takes the events of connections without a hook of their own") {
  Collector global;
  set_log_handler(global.handler());
  struct Reset {
    ~Reset() { set_log_handler(nullptr); }
  } reset;
  ThreadPoolServer server(metrics_service(), metrics_server_config());
  server.start();
  auto conn = connect("127.0.0.1", server.port());
  const ConnectionId client_id = conn->connection().id();
  conn->close();
  const auto closed = global.wait_for("conn" + std::to_string(static_cast<std::uint64_t>(client_id)) + " closed (local)");
  REQUIRE(closed);
  CHECK(closed->connection == client_id);
  set_log_handler(nullptr);
  const auto before = global.size();
  auto again = connect("127.0.0.1", server.port());
  again->close();  // logs synchronously, had it anywhere to go
  CHECK(global.size() == before);
  server.stop();
}
