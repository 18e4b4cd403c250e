#pragma once
// What the fault tests share: a Lab served on loopback with a canary beside it, the close
// reasons of the server's connections, process counters from /proc, and a scale for the
// sanitizer builds (the rows run there too, with fewer iterations).
#include <dirent.h>
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fault/rawpeer.hpp"
#include "server/lab.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NETREF_FAULT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NETREF_FAULT_SANITIZED 1
#endif
#endif

namespace netref::test {

#ifdef NETREF_FAULT_SANITIZED
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

/// n in a release build, n / divisor (at least 1) under a sanitizer.
inline int scaled(int n, int divisor = 4) { return kSanitized ? std::max(1, n / divisor) : n; }

/// The slowest canary call a hostile row may cause: docs/FAULTS.md's 250 ms in a release
/// build; under sanitizers, whose instrumented threads run many times slower on two shared
/// cores (next to another test under ctest -j2), only a stall of seconds counts.
inline constexpr auto kCanaryBound = kSanitized ? std::chrono::milliseconds(2000) : std::chrono::milliseconds(250);

/// Open descriptors of this process.
inline int fd_count() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;  // the directory stream itself
}

/// A "Vm...:" field of /proc/self/status in KiB ("VmRSS", "VmHWM").
inline long status_kib(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long value = -1;
  const std::size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      std::sscanf(line + n + 1, "%ld", &value);
      break;
    }
  }
  std::fclose(f);
  return value;
}

/// The message of an exception_ptr ("" for none).
inline std::string what_of(const std::exception_ptr& error) {
  if (!error) return {};
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

/// The server side of each connection a service serves (from on_connect) and why each one
/// closed (from on_disconnect). Install before the server starts.
class Watcher {
 public:
  void install(Service& service) {
    service.on_connect([this](Connection& c) {
      std::lock_guard lk(mutex_);
      connections_.push_back(c.shared_from_this());
    });
    service.on_disconnect([this](Connection& c) {
      {
        std::lock_guard lk(mutex_);
        reasons_.push_back(what_of(c.close_error()));
      }
      cv_.notify_all();
    });
  }
  /// Waits until a connection closed for a reason containing needle.
  bool wait_reason(const std::string& needle, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lk(mutex_);
    return cv_.wait_for(lk, timeout, [&] {
      for (const auto& r : reasons_) {
        if (r.find(needle) != std::string::npos) return true;
      }
      return false;
    });
  }
  /// Waits until n connections closed.
  bool wait_closed(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lk(mutex_);
    return cv_.wait_for(lk, timeout, [&] { return reasons_.size() >= n; });
  }
  std::vector<std::string> reasons() {
    std::lock_guard lk(mutex_);
    return reasons_;
  }
  std::size_t closed_count() {
    std::lock_guard lk(mutex_);
    return reasons_.size();
  }
  /// The server side of the i-th connection opened (nullptr once it is freed).
  std::shared_ptr<Connection> connection(std::size_t i) {
    std::lock_guard lk(mutex_);
    return i < connections_.size() ? connections_[i].lock() : nullptr;
  }
  /// Waits until n connections were opened.
  bool wait_opened(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return eventually(
        [&] {
          std::lock_guard lk(mutex_);
          return connections_.size() >= n;
        },
        timeout);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::weak_ptr<Connection>> connections_;
  std::vector<std::string> reasons_;
};

/// The Lab served on a free loopback port, its connections watched, and (unless told not
/// to) a canary calling ping() beside whatever the test does.
template <class Server = ThreadPoolServer>
struct Served {
  Lab lab;
  LogSink log;
  Watcher watch;
  std::unique_ptr<Server> server;
  std::unique_ptr<Canary> canary;

  /// tweak adjusts the server's config; define adds to the Lab's service before it serves.
  explicit Served(const std::function<void(ServerConfig&)>& tweak = {}, bool with_canary = true,
                  const std::function<void(Lab&)>& define = {}) {
    watch.install(lab.service);
    if (define) define(lab);
    auto cfg = loopback_config(&log);
    if (tweak) tweak(cfg);
    server = std::make_unique<Server>(lab.service, cfg);
    server->start();
    if (with_canary) {
      canary = std::make_unique<Canary>(server->port());
      REQUIRE(canary->wait_calls(1));
    }
  }
  ~Served() {
    if (canary) canary->stop();
    if (server) server->stop();
  }
  std::uint16_t port() const { return server->port(); }

  /// The canary is alive now, never failed, and no call of it was slower than bound (a test
  /// whose hostile peers keep both cores busy on purpose allows for that).
  void check_canary(std::chrono::milliseconds bound = kCanaryBound) {
    REQUIRE(canary);
    CHECK(canary->wait_calls(3));
    CHECK(canary->failure() == "");
    CHECK(canary->slowest() < bound);
  }

  /// Checks the canary, stops it, then whether the server is left running no handler at all.
  /// The canary calls without pause, so only once it stops can "no handler" hold.
  bool idle_after_canary() {
    check_canary();
    canary->stop();
    return eventually([&] { return server->stats().running_handlers == 0; });
  }
};

/// A plain client (no extensions unless asked) for tests that want the protocol handle.
inline ConnectionPtr plain_client(std::uint16_t port, ClientConfig cfg = {}) { return open_connection("127.0.0.1", port, cfg); }

/// GETROOT over a raw peer: the id of the root object the server lent it.
inline IdPack root_of(RawPeer& peer, std::uint32_t seq = 0) {
  peer.send_frame(wire::request(seq, Handler::getroot, {}));
  auto m = peer.read_reply_to(seq);
  REQUIRE(m.type == MsgType::reply);
  return m.lent_id();
}

}  // namespace netref::test
