#pragma once
/// Connection: one RPyC protocol session over a Channel. Sequence-numbered requests, replies
/// and remote exceptions; the table of objects we lend and the table of netrefs we hold.
///
/// Threads, RPyC's model: whoever waits for a reply serves the connection meanwhile. It reads
/// frames, hands replies to their waiters and runs incoming requests itself, which is how a
/// callback from the peer during a sync call works on one connection without extra threads.
/// One reader at a time; a sync call costs one write and one read in the caller's thread.
#include "netref/export.hpp"
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
#include "netref/protocol/call_metrics.hpp"
#include "netref/protocol/close_reason.hpp"
#include "netref/protocol/generation_mismatch.hpp"
#include "netref/protocol/consts.hpp"
#include "netref/protocol/errors.hpp"
#include "netref/protocol/log.hpp"
#include "netref/protocol/object.hpp"
#include "netref/protocol/remote_ref.hpp"
#include "netref/protocol/value.hpp"

namespace netref {

class Connection;
namespace detail {
struct ConnectionAccess;
struct ConnectionImpl;  // the connection's state: protocol/src, not part of the API
}

/// What an incoming request asks for, shown to a RequestInterceptor before it runs.
struct NETREF_API RequestInfo {
  Handler handler;              ///< GETATTR, CALLATTR, CALL, ... (each step of a call chain)
  std::string_view type_name;   ///< the target object's type ("Counter"); empty without one
  std::string_view attribute;   ///< the attribute named; empty for CALL, REPR, ...
  const Connection& connection; ///< who asks (peer_identity(), name())
};

/// Sees every request before its handler runs, on the serving thread; throws to refuse it,
/// and the peer receives that exception (say PermissionError: RemoteError("PermissionError",
/// "...")). Bookkeeping messages (DEL, CLOSE) are not shown.
using RequestInterceptor = std::function<void(const RequestInfo&)>;

/// What serve_available() left behind.
enum class ServeStatus {
  idle,     ///< nothing more buffered: wait for the socket
  partial,  ///< part of a frame is in: wait for the socket, the frame timeout runs
  more,     ///< stopped at max_frames with a whole frame still buffered: call again
  busy,     ///< another thread is reading this connection; it will serve what arrives
  blocked,  ///< more is queued for the peer than max_send_queue_bytes: wait for room, read nothing
  closed,   ///< the connection is closed
};

/// Settings of one connection; defaults follow RPyC and docs/FAULTS.md.
struct NETREF_API ConnectionConfig {
  /// The envelope this side speaks. Unset (the default): a client that open_connection
  /// makes finds out at connect which one the server speaks (the hello it sends anyway is
  /// answered in it; a Python rpyc 5.x server costs one reconnect); without that hello
  /// (ClientConfig::negotiate_extensions off), and on a connection made directly, 6.x.
  /// Servers learn it from the first message (detect_generation). A peer answering in the
  /// other one closes the connection with GenerationMismatch, which names this setting.
  std::optional<Generation> generation;
  /// Server side: learn the generation from the peer's first message.
  bool detect_generation = false;
  /// Default deadline of a sync request (RPyC's sync_request_timeout).
  std::chrono::milliseconds sync_request_timeout = std::chrono::seconds(30);
  /// Also send sync_request_timeout as each sync call's deadline to a netref peer that
  /// listed `deadline` (a per-call timeout, and a handler's remaining deadline, always travel).
  /// Off by default: a call without a deadline of its own costs the peer nothing extra.
  bool send_default_deadline = false;
  /// Deepest brine nesting accepted from the peer.
  std::size_t max_depth = 64;
  /// Most objects lent to the peer at once; boxing one more fails the request.
  std::size_t max_lent_objects = 100000;
  /// Most objects lent at once over every connection of the process (per-connection caps
  /// alone allow 100,000 x 4,096 connections); boxing one more fails the request.
  std::size_t max_lent_objects_in_process = 1000000;
  /// Deepest nesting of requests served inside a wait on one thread (callbacks).
  std::size_t max_callback_depth = 32;
  /// Answer and use netref's extension handlers (hello, call chains, batched DEL).
  bool enable_extensions = true;
  /// Pipelining (feature `pipeline`): most results kept for the peer's pipelined calls at
  /// once, and most of its calls waiting on a result at once. Past it a result is not kept
  /// (calls naming it fail with ReferenceError) and a call that would wait fails at once.
  std::size_t max_pipelined_results = 4096;
  /// Pipelining, caller's side: async calls to a peer that listed `pipeline` ask it to keep
  /// their result, so calls on them leave before it arrives (AsyncCall::attr). Each costs the
  /// peer an entry and a share of a release message (bench/RESULTS.md); false: no call asks,
  /// and calls on a pending result wait for it, as against a Python peer.
  bool pipeline_async_calls = true;
  /// Async requests made while others await their replies are held up to this long, so
  /// that pipelined calls leave many to a write (the next wait or serve on the connection,
  /// any other send, or 64 KiB of them sends them sooner). An async request with nothing
  /// else in flight leaves at once. Zero: every request leaves at once.
  std::chrono::microseconds request_batch_delay{200};
  /// Name for logs and errors ("conn7"); empty: assigned.
  std::string name;
  /// Sees each incoming request first and may refuse it (authorization).
  RequestInterceptor interceptor;
  /// Liveness: when nothing arrived for this long, send a PING; zero turns keepalive off
  /// (the default: an rpyc peer that is not serving its connection cannot answer).
  std::chrono::milliseconds keepalive_interval{0};
  /// How long the PING may go unanswered (with nothing else arriving) before the peer
  /// counts as gone: the connection closes and its calls fail with ConnectionClosed.
  std::chrono::milliseconds keepalive_timeout = std::chrono::seconds(10);
  /// Close after this long with nothing received, nothing pending and no handler running;
  /// zero (the default) never does.
  std::chrono::milliseconds idle_timeout{0};
  /// Close when the peer sends nothing for this long after the connection opened (a client
  /// that connects and stays silent); zero turns it off. Servers set it.
  std::chrono::milliseconds first_frame_timeout{0};
  /// The peer's PINGs are rate-limited (docs/FAULTS.md G9): this many a second, and bursts
  /// of as many. Each PING beyond the rate is a strike (still answered); strikes are
  /// forgotten after a second without one; ping_strikes of them close the connection ("too
  /// many pings", close category "pings"). 0 in either turns the cap off. A netref peer's
  /// keepalive pings at most once per keepalive_interval, so an interval of at least 1 s /
  /// max_pings_per_second (100 ms by default) never trips it; rpyc pings only when its
  /// program calls ping().
  std::size_t max_pings_per_second = 10;
  std::size_t ping_strikes = 3;
  /// Counts the requests this side sends, sync and async (an async one when its reply, error
  /// or the connection's close settles it): calls, errors by class, latency; labelled by
  /// the attribute a request names (CALLATTR, GETATTR, the last name of a chain) when it is
  /// one of the object's methods, else "other". Null (the default): nothing is counted.
  std::shared_ptr<CallMetrics> call_metrics;
  /// Counts the peer's requests this side serves, labelled by the root attribute a request
  /// names when it is one of the object's methods, else "other" (requests on other objects,
  /// GETROOT, DIR...). Servers set it from the service's names (ServerConfig::metrics).
  std::shared_ptr<CallMetrics> served_metrics;
  /// Where this connection's events go (closes and why, handler errors); null: the
  /// process-wide handler (set_log_handler), which by default logs nothing.
  LogHandler log;

  /// rpyc's exposed_prefix: a name the peer asks for with this prefix resolves to the
  /// binding without it (`exposed_add` is `add`). Empty: names are taken as they come.
  std::string exposed_prefix = "exposed_";
  /// rpyc's include_local_traceback: exceptions we send carry our traceback text; false
  /// sends "<traceback denied>" instead.
  bool include_local_traceback = true;
  /// rpyc's include_local_version: exceptions we send carry `_remote_version`, the rpyc
  /// release whose wire this connection speaks ("5.3.0" or "6.0.1"), which rpyc clients
  /// compare with their own; false sends "<version denied>".
  bool include_local_version = true;
  /// Registered exception types (Registry::register_exception) for what we send and
  /// receive. Null: servers and clients use their Service's Registry's.
  std::shared_ptr<const ExceptionMap> exceptions;
};

/// A snapshot of the connection's counters (for monitoring and leak tests).
struct NETREF_API ConnectionStats {
  std::size_t lent_objects = 0;       ///< distinct objects in the lent table
  std::size_t netrefs_held = 0;       ///< live RemoteRefs of this connection
  std::size_t pending_requests = 0;   ///< requests awaiting a reply
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t late_replies = 0;     ///< replies for timed-out or fire-and-forget requests
  std::uint64_t requests_served = 0;
  std::size_t running_handlers = 0;   ///< requests of the peer being served right now
  std::uint64_t bytes_in = 0;         ///< message bytes received (inflated)
  std::uint64_t bytes_out = 0;        ///< message bytes sent (before compression)
  std::size_t queued_bytes = 0;       ///< bytes waiting for the peer to take them
  std::uint64_t writes = 0;           ///< transport writes that carried bytes (frames ready together share one)
  std::size_t pipelined_results = 0;  ///< results of the peer's requests kept for its pipelined calls
  std::size_t pipelined_waiting = 0;  ///< the peer's pipelined calls waiting for their target's result
};

/// One protocol session. Create with Connection::create; always held by shared_ptr.
/// Every member is thread-safe unless it says otherwise.
class NETREF_API Connection : public std::enable_shared_from_this<Connection> {
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
  /// True once the peer listed the `oneway` feature in hello: one-way calls then go out
  /// flagged and the peer sends no reply (RemoteRef::oneway_call_path).
  bool peer_has_oneway() const noexcept;
  /// True once the peer listed feature in hello (and so did we): it is used only then.
  bool peer_has(Feature feature) const noexcept;

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
  /// lent objects are dropped, netrefs turn stale. Idempotent. Returns once the close
  /// handler has run, even when another thread is closing the connection at the same time
  /// (except within the close handler itself): a server that closes its connections may
  /// then let its service go.
  void close() noexcept;
  bool closed() const noexcept;
  /// Closes at once without telling the peer, filed under reason; our pending calls fail
  /// with ConnectionClosed saying why ("idle for 60000 ms"). Never blocks on the network.
  /// Idempotent; returns once the close handler has run, as close() does.
  void abort(const std::string& why, CloseReason reason = CloseReason::aborted) noexcept;
  /// Retires the connection for good (closing it first, as abort(why) does, if still open):
  /// from then on its netrefs, root() and requests throw StaleReference(why) instead of
  /// ConnectionClosed. For a client that replaced it with a new connection (discovery's
  /// ReconnectingClient): object ids are per connection, so old netrefs must not look
  /// merely closed. Calls in flight when it closed failed with ConnectionClosed. Idempotent.
  void mark_stale(const std::string& why) noexcept;
  /// Why the connection closed; nullopt while open.
  std::optional<CloseReason> close_reason() const;
  /// The error that closed it (what pending calls failed with); null while open and after
  /// abort() or close() without one.
  std::exception_ptr close_error() const;

  /// Called once, from whichever thread closes the connection, after the tables are emptied.
  /// Set before serving starts.
  void set_close_handler(std::function<void(Connection&)> handler);

  const ConnectionConfig& config() const noexcept;
  Generation generation() const noexcept;
  const std::string& name() const noexcept;
  /// The number in the default name ("conn7": 7), unique in the process; log events carry it.
  ConnectionId id() const noexcept;
  ConnectionStats stats() const;
  /// Frames and bytes so far, read without a lock (stats() takes the connection's locks).
  struct Traffic {
    std::uint64_t frames_in = 0, frames_out = 0, bytes_in = 0, bytes_out = 0;
  };
  Traffic traffic() const noexcept;
  /// How many times object is currently lent (0 if it is not).
  std::uint64_t lent_count(const Object& object) const;
  /// Frames received so far (cheap: for liveness and idle checks).
  std::uint64_t frames_received() const noexcept;

  /// Who the peer is, as an authenticator or the TLS client certificate said ("CN=alice");
  /// empty when unknown. Set by servers before serving starts.
  const std::string& peer_identity() const noexcept;
  void set_peer_identity(std::string identity);

  /// Distinct objects lent now over every connection of this process.
  static std::size_t lent_objects_in_process() noexcept;

  /// The connection whose request this thread is running right now (nullptr outside a
  /// handler). Lets a handler reach its caller (identity, callbacks).
  static Connection* current() noexcept;

 private:
  friend class RemoteRef;
  friend class AsyncResult;
  friend struct detail::ConnectionAccess;
  friend struct detail::ConnectionImpl;  // servers' reactors: netref/protocol/detail/connection_access.hpp
  ServeStatus serve_available(std::size_t max_frames);
  void set_reader_released_handler(std::function<void()> handler);
  void set_writer_wanted_handler(std::function<void()> handler);
  void set_next_seq(std::uint32_t seq);
  Channel& channel() noexcept;
  explicit Connection(std::unique_ptr<detail::ConnectionImpl> impl);
  std::unique_ptr<detail::ConnectionImpl> impl_;
};

using ConnectionPtr = std::shared_ptr<Connection>;

}  // namespace netref
