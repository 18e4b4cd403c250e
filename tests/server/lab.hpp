#pragma once
// A test service and the pieces server tests share: gates a test opens, a canary client
// that keeps calling while a hostile peer does its worst, raw sockets, and a log sink.
#include <netref/netref.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace netref::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

/// Checks cond every 2 ms until it holds (true) or timeout passes (false). For counters the
/// library updates without an event a test could wait on (a connection's tables emptied by
/// another thread, a descriptor closed).
template <class F>
bool eventually(F cond, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto end = Clock::now() + timeout;
  while (!cond()) {
    if (Clock::now() >= end) return cond();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

/// A latch a handler waits on until the test opens it.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lk(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  /// Waits until open (true) or timeout (false).
  bool wait(std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mutex_);
    return cv_.wait_for(lk, timeout, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

/// Counts handlers that entered a blocking call, so a test can wait for them.
class Arrivals {
 public:
  void arrive() {
    {
      std::lock_guard lk(mutex_);
      ++count_;
    }
    cv_.notify_all();
  }
  bool wait_for(int n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mutex_);
    return cv_.wait_for(lk, timeout, [&] { return count_ >= n; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int count_ = 0;
};

struct Counter {
  std::int64_t value = 0;
  std::int64_t add(std::int64_t n) { return value += n; }
};

/// The service every server test runs: plain calls, a blocking call, callbacks, identity.
struct Lab {
  Registry types;
  Service service{types};
  Gate gate;
  Arrivals blocked;
  std::mutex mutex;
  std::vector<std::int64_t> log;  // what append() received, in order
  std::function<std::int64_t(std::int64_t)> stored;

  Lab() {
    types.expose<Counter>("Counter").def("add", &Counter::add);
    service.def("ping", [] { return std::string("pong"); });
    service.def("add", [](std::int64_t a, std::int64_t b) { return a + b; });
    service.def("make_counter", [](std::int64_t start) { return std::make_shared<Counter>(Counter{start}); });
    service.def("block", [this] {
      blocked.arrive();
      return gate.wait() ? std::string("released") : std::string("timed out");
    });
    service.def("apply", [](const std::function<std::int64_t(std::int64_t)>& fn, std::int64_t x) { return fn(x); });
    service.def("append", [this](std::int64_t x) {
      std::lock_guard lk(mutex);
      log.push_back(x);
    });
    service.def("appended", [this] {
      std::lock_guard lk(mutex);
      return log;
    });
    service.def("store", [this](std::function<std::int64_t(std::int64_t)> fn) {
      std::lock_guard lk(mutex);
      stored = std::move(fn);
    });
    service.def("fire", [this](std::int64_t x) {
      std::function<std::int64_t(std::int64_t)> fn;
      {
        std::lock_guard lk(mutex);
        fn = stored;
      }
      return fn(x);
    });
    service.def("whoami", [] { return Connection::current()->peer_identity(); });
    service.def("secret", [] { return std::string("classified"); });
    service.def("echo", [](const std::string& s) { return s; });
    service.def("size_of", [](const std::string& s) { return static_cast<std::int64_t>(s.size()); });
  }
};

/// Server config on a free loopback port, with a log the test can read.
struct LogSink {
  std::mutex mutex;
  std::vector<std::string> lines;
  /// The server's own events (refusals, failed handshakes); its connections' events
  /// (closes and why) are not kept.
  LogHandler writer() {
    return [this](LogLevel, std::string_view line, ConnectionId connection) {
      if (connection != ConnectionId::none) return;
      std::lock_guard lk(mutex);
      lines.emplace_back(line);
    };
  }
  bool contains(std::string_view needle) {
    std::lock_guard lk(mutex);
    for (const auto& l : lines) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

inline ServerConfig loopback_config(LogSink* sink = nullptr) {
  ServerConfig cfg;
  cfg.port = 0;
  cfg.worker_threads = 4;
  if (sink != nullptr) cfg.log = sink->writer();
  return cfg;
}

/// A well-behaved client calling ping() every 20 ms on its own thread while a test runs;
/// what docs/FAULTS.md calls the canary. check() asserts it never failed and stayed fast.
class Canary {
 public:
  explicit Canary(std::uint16_t port, const ClientConfig& config = {}, const std::string& host = "127.0.0.1")
      : client_(connect(host, port, config)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Canary() { stop(); }

  void stop() {
    {
      std::lock_guard lk(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  /// Calls made, failures seen, and the slowest call.
  int calls() const { return calls_.load(); }
  std::string failure() {
    std::lock_guard lk(mutex_);
    return failure_;
  }
  std::chrono::microseconds slowest() const { return std::chrono::microseconds(slowest_us_.load()); }

  /// Waits until at least n more calls succeeded (the canary is alive right now).
  bool wait_calls(int n, std::chrono::milliseconds timeout = 10s) {
    const int target = calls_.load() + n;
    const auto end = Clock::now() + timeout;
    std::unique_lock lk(mutex_);
    return done_cv_.wait_until(lk, end, [&] { return calls_.load() >= target || !failure_.empty(); }) &&
           failure_.empty();
  }

 private:
  void run() {
    auto root = client_.root();
    std::unique_lock lk(mutex_);
    while (!stopping_) {
      lk.unlock();
      const auto start = Clock::now();
      try {
        const auto answer = root->attr("ping")->call().as<std::string>();
        if (answer != "pong") throw Error("wrong answer " + answer);
      } catch (const std::exception& e) {
        lk.lock();
        failure_ = e.what();
        done_cv_.notify_all();
        return;
      }
      const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
      slowest_us_.store(std::max<long long>(slowest_us_.load(), took));
      ++calls_;
      lk.lock();
      done_cv_.notify_all();
      cv_.wait_for(lk, 20ms, [&] { return stopping_; });  // pacing, not synchronisation
    }
  }

  Client client_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_, done_cv_;
  bool stopping_ = false;
  std::string failure_;
  std::atomic<int> calls_{0};
  std::atomic<long long> slowest_us_{0};
};

/// Reads from a raw stream until the peer closes it; true if that happens within timeout.
inline bool closed_by_peer_within(Stream& stream, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  std::uint8_t sink[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) return false;
    try {
      if (!stream.poll(left)) return false;
      stream.read_available(sink);
    } catch (const ConnectionClosed&) {
      return true;
    }
  }
}

/// True when nothing accepts connections on port any more.
inline bool connect_fails(std::uint16_t port) {
  try {
    connect_tcp("127.0.0.1", port, 2s);
    return false;
  } catch (const ConnectError&) {
    return true;
  }
}

/// Threads of this process (from /proc/self/status).
inline int thread_count() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  int threads = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "Threads: %d", &threads) == 1) break;
  }
  std::fclose(f);
  return threads;
}

}  // namespace netref::test
