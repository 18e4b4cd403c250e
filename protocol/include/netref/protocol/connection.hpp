#pragma once
/// Connection: one RPyC protocol session over a Channel. Sequence-numbered requests, replies
/// and remote exceptions; the table of objects we lend and the table of netrefs we hold.
///
/// Threads, RPyC's model: whoever waits for a reply serves the connection meanwhile. It reads
/// frames, hands replies to their waiters and runs incoming requests itself, which is how a
/// callback from the peer during a sync call works on one connection without extra threads.
/// One reader at a time; a sync call costs one write and one read in the caller's thread.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "netref/channel/channel.hpp"
#include "netref/protocol/async_result.hpp"
#include "netref/protocol/consts.hpp"
#include "netref/protocol/errors.hpp"
#include "netref/protocol/object.hpp"
#include "netref/protocol/remote_ref.hpp"
#include "netref/protocol/value.hpp"

namespace netref {

/// Settings of one connection; defaults follow RPyC and RELIABILITY.md.
struct ConnectionConfig {
  /// The envelope a client speaks (servers detect it from the first message).
  Generation generation = Generation::v6;
  /// Server side: learn the generation from the peer's first message.
  bool detect_generation = false;
  /// Default deadline of a sync request (RPyC's sync_request_timeout).
  std::chrono::milliseconds sync_request_timeout = std::chrono::seconds(30);
  /// Deepest brine nesting accepted from the peer.
  std::size_t max_depth = 64;
  /// Most objects lent to the peer at once; boxing one more fails the request.
  std::size_t max_lent_objects = 100000;
  /// Deepest nesting of requests served inside a wait on one thread (callbacks).
  std::size_t max_callback_depth = 32;
  /// Answer and use netref's extension handlers (hello, call chains, batched DEL).
  bool enable_extensions = true;
  /// Name for logs and errors ("conn7"); empty: assigned.
  std::string name;
};

/// A snapshot of the connection's counters (for monitoring and leak tests).
struct ConnectionStats {
  std::size_t lent_objects = 0;       ///< distinct objects in the lent table
  std::size_t netrefs_held = 0;       ///< live RemoteRefs of this connection
  std::size_t pending_requests = 0;   ///< requests awaiting a reply
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t late_replies = 0;     ///< replies for timed-out or fire-and-forget requests
  std::uint64_t requests_served = 0;
};

/// One protocol session. Create with Connection::create; always held by shared_ptr.
/// Every member is thread-safe unless it says otherwise.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  /// Takes the channel; lends local_root to the peer as the answer to GETROOT (may be null:
  /// then GETROOT fails on the peer's side).
  static std::shared_ptr<Connection> create(std::unique_ptr<Channel> channel, ObjectPtr local_root,
                                            ConnectionConfig config = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Sends a request and waits for its reply, serving the connection meanwhile. timeout
  /// defaults to config().sync_request_timeout. Throws the remote error, Timeout, or
  /// ConnectionClosed.
  Value sync_request(Handler handler, Args args,
                     std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  /// Sends a request and returns at once.
  AsyncResult async_request(Handler handler, Args args);

  /// The peer's root object (one GETROOT, then cached).
  RemoteRefPtr root();
  /// Offers netref's extensions; true if the peer is netref and accepted. One round trip;
  /// a plain rpyc peer answers with an error, which means false.
  bool negotiate_extensions();
  /// True once the peer proved it speaks netref's extensions (by hello either way).
  bool peer_is_netref() const noexcept;

  /// Serves one incoming message (request or reply) arriving within timeout (negative:
  /// forever). True if one was served. Throws ConnectionClosed once the link is gone.
  bool serve(std::chrono::milliseconds timeout = std::chrono::seconds(1));
  /// serve(0).
  bool poll() { return serve(std::chrono::milliseconds(0)); }
  /// Serves until the connection closes; returns normally when the peer hangs up.
  void serve_all();
  /// Echo round trip; throws Timeout, ConnectionClosed or ProtocolError on a wrong echo.
  void ping(std::chrono::milliseconds timeout = std::chrono::seconds(3));
  /// Tells the peer (best effort) and closes: pending requests fail with ConnectionClosed,
  /// lent objects are dropped, netrefs turn stale. Idempotent.
  void close() noexcept;
  bool closed() const noexcept;
  /// Why the connection closed (nullptr while open).
  std::exception_ptr close_reason() const;

  /// Called once, from whichever thread closes the connection, after the tables are emptied.
  /// Set before serving starts.
  void set_close_handler(std::function<void(Connection&)> handler);

  const ConnectionConfig& config() const noexcept;
  Generation generation() const noexcept;
  const std::string& name() const noexcept;
  ConnectionStats stats() const;
  /// How many times object is currently lent (0 if it is not).
  std::uint64_t lent_count(const Object& object) const;
  Channel& channel() noexcept;

  /// The connection whose request this thread is running right now (nullptr outside a
  /// handler). Lets a handler reach its caller (identity, callbacks).
  static Connection* current() noexcept;

  struct Impl;

 private:
  friend class RemoteRef;
  friend class AsyncResult;
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

using ConnectionPtr = std::shared_ptr<Connection>;

}  // namespace netref
