#pragma once
// A fault-injecting loopback TCP proxy (docs/FAULTS.md's "faultproxy": this kernel has no
// netem). It listens on 127.0.0.1:0 and forwards every connection to a target port, doing to
// the bytes what a bad network would: delay with jitter, 1-byte writes, a flipped byte, a cut
// (FIN or RST) or a stall after N bytes, a half-close. A fault is planned per direction for
// new connections, or armed on the open ones at a byte count measured from now.
//
// Threads: one acceptor and two pumps per connection, each waiting in poll() on its socket
// and on the proxy's stop descriptor, so stop() (and the destructor) ends them promptly
// whatever they were doing. Sockets are closed by the last pump of their connection.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace netref::test {

/// Which way bytes flow through the proxy.
enum class Direction {
  upstream,    ///< client -> target
  downstream,  ///< target -> client
};

/// What to do to the bytes of one direction. Byte positions count from the start of the
/// direction (or, for faults armed later, from the moment they are armed).
struct FaultPlan {
  std::chrono::milliseconds delay{0};   ///< hold each chunk this long...
  std::chrono::milliseconds jitter{0};  ///< ... plus or minus up to this (order is kept)
  bool split = false;                   ///< forward one byte per send()
  std::chrono::microseconds split_gap{200};  ///< pause between those 1-byte sends
  std::optional<std::uint64_t> flip_at;      ///< XOR this byte with 0xFF
  std::optional<std::uint64_t> truncate_after;    ///< forward N bytes, then close both ends (FIN)
  std::optional<std::uint64_t> reset_after;       ///< forward N bytes, then reset both ends (RST)
  std::optional<std::uint64_t> stall_after;       ///< forward N bytes, then nothing more
  std::optional<std::uint64_t> half_close_after;  ///< forward N bytes, then FIN to the receiver only
};

class FaultProxy {
 public:
  /// Starts listening on 127.0.0.1:0 at once; connections go to 127.0.0.1:target_port.
  explicit FaultProxy(std::uint16_t target_port, FaultPlan upstream = {}, FaultPlan downstream = {});
  /// stop().
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  /// The port clients connect to.
  std::uint16_t port() const noexcept { return port_; }

  /// Closes every socket and joins every thread. Idempotent.
  void stop() noexcept;

  /// The plan for connections accepted from now on.
  void set_plan(Direction direction, FaultPlan plan);

  /// On every open connection: cut (FIN), reset (RST), stall or half-close the direction
  /// once n more bytes went through it (n = 0: now), or flip the byte n bytes from now.
  void truncate_in(Direction direction, std::uint64_t n);
  void reset_in(Direction direction, std::uint64_t n);
  void stall_in(Direction direction, std::uint64_t n);
  void half_close_in(Direction direction, std::uint64_t n);
  void flip_in(Direction direction, std::uint64_t n);
  /// Resets every open connection now (both ends get RST): a peer that died.
  void reset_all() { reset_in(Direction::upstream, 0); }

  /// Connections accepted so far.
  int accepted() const;
  /// Connections whose both sockets are closed.
  int finished() const;
  /// Bytes forwarded in a direction, over all connections.
  std::uint64_t forwarded(Direction direction) const;
  /// Cuts, resets, stalls and half-closes that fired (flips not counted).
  int faults_fired() const;
  /// Waits until forwarded(direction) >= n; false on timeout.
  bool wait_forwarded(Direction direction, std::uint64_t n, std::chrono::milliseconds timeout);
  /// Waits until faults_fired() >= n; false on timeout.
  bool wait_faults(int n, std::chrono::milliseconds timeout);
  /// Waits until finished() >= n; false on timeout.
  bool wait_finished(int n, std::chrono::milliseconds timeout);

  struct Link;  // one proxied connection (faultproxy.cpp)

 private:
  void accept_loop();
  void pump(Link& link, Direction direction);
  void arm(Direction direction, std::uint64_t n, int kind);
  void notify();

  std::uint16_t port_ = 0;
  std::uint16_t target_port_ = 0;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd: readable once stop() ran

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  FaultPlan plans_[2];
  std::list<std::unique_ptr<Link>> links_;  // guarded by mutex_; never erased before stop()
  bool stopped_ = false;
  int accepted_ = 0, finished_ = 0, faults_ = 0;
  std::uint64_t forwarded_[2] = {0, 0};
  std::thread acceptor_;
};

}  // namespace netref::test
