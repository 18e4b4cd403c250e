#pragma once
// The connection's state, shared by connection.cpp (reading, waiting, failing), boxing.cpp
// (values in and out of messages) and dispatch.cpp (the request handlers).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "boxed_reader.hpp"
#include "netref/protocol/connection.hpp"
#include "netref/protocol/detail/ping_limiter.hpp"
#include "netref/protocol/detail/timer_queue.hpp"
#include "pipeline/answer_table.hpp"
#include "tables/connection_state.hpp"
#include "tables/import_table.hpp"
#include "tables/lent_table.hpp"
#include "tables/pending_calls.hpp"
#include "tables/serving_requests.hpp"

namespace netref {
class DeferredResult;
namespace detail {

/// The reader role: one thread reads frames at a time. Released exactly once, either before
/// a request's handler runs (so others may read meanwhile) or when the frame is done.
class ReaderRole {
 public:
  /// notify: tell the reader-released handler on release (false for serve_available,
  /// whose caller is the one that handler would call).
  explicit ReaderRole(ConnectionImpl& impl, bool notify = true) : impl_(impl), notify_(notify) {}
  ~ReaderRole() { release(); }
  ReaderRole(const ReaderRole&) = delete;
  ReaderRole& operator=(const ReaderRole&) = delete;
  /// Gives the role back; frame_served wakes serve() callers waiting for a frame.
  void release(bool frame_served = true) noexcept;
  /// The same from inside a state_mutex section the caller holds anyway (a reply's delivery):
  /// one lock instead of two. The caller notifies state_cv after unlocking, then calls
  /// after_release().
  void release_locked(bool frame_served = true) noexcept;
  void after_release() noexcept;
  /// Keeps the role for the next ReaderRole this thread makes (read_one), without giving it
  /// back in between: no lock and no wake-up for a hand-over to ourselves.
  void pass_on() noexcept { held_ = false; }

 private:
  ConnectionImpl& impl_;
  bool notify_;
  bool held_ = true;
  bool handler_due_ = false;  // released: the reader-released handler is still to run
};

/// The connection whose request this thread serves (Connection::current()).
extern constinit thread_local Connection* current_connection;
/// Makes c current; returns the one before (for the end of the request).
inline Connection* exchange_current_connection(Connection* c) noexcept {
  Connection* old = current_connection;
  current_connection = c;
  return old;
}

/// A message being encoded, in this thread's reusable buffer: steady traffic, large messages
/// included, allocates nothing per message (a fresh 1 MiB vector per echo costs page faults
/// every time). A nested use on the same thread (a handler's own call) gets a fresh vector.
class FrameBuffer {
 public:
  [[gnu::always_inline]] FrameBuffer() {
    bytes.swap(spare());
    bytes.clear();
  }
  /// The message's bytes, in order: bytes[0, gathered_at), gathered, bytes[gathered_at, end).
  /// gathered is a large bytes or str body left where it lies (GatherScope) rather than
  /// copied; it points into the Value being sent, which outlives the send.
  std::size_t size() const noexcept { return bytes.size() + gathered.size(); }
  ~FrameBuffer() {
    if (bytes.capacity() > kKept) return;  // one huge message must not pin its memory
    bytes.clear();
    spare().swap(bytes);
  }
  FrameBuffer(const FrameBuffer&) = delete;
  FrameBuffer& operator=(const FrameBuffer&) = delete;

  std::vector<std::uint8_t> bytes;
  std::span<const std::uint8_t> gathered;
  std::size_t gathered_at = 0;

 private:
  static constexpr std::size_t kKept = 4u << 20;
  static std::vector<std::uint8_t>& spare() {
    thread_local std::vector<std::uint8_t> buffer;
    return buffer;
  }
};

/// While one lives, the first large bytes or str value this thread boxes (a request's
/// argument, a reply's result) is recorded in frame (FrameBuffer::gathered) instead of
/// copied into its bytes, and goes out from where it lies: the frame must be sent before
/// the value it came from changes. Scopes nest (a handler's own call gathers into its own).
class GatherScope {
 public:
  explicit GatherScope(FrameBuffer& frame) noexcept;
  ~GatherScope();
  GatherScope(const GatherScope&) = delete;
  GatherScope& operator=(const GatherScope&) = delete;

 private:
  FrameBuffer* previous_;
};

/// A request's arguments before their references are resolved: either a boxed Value from
/// the general decoder (unboxed then), or Args a BoxedReader read, with the references it
/// recorded still to fill in.
struct RequestArgs {
  Value* boxed = nullptr;
  Args* args = nullptr;
  std::span<const RefSlot> refs;
  bool promise = false;  // BoxedReader's: a promise is among refs (take_promise has work)
};

/// A CALL, CALLATTR or CALLCHAIN given by its parts, which the request is encoded from
/// directly: no Args vector, name Values or argument Tuple is built to send it.
struct CallSpec {
  const RemoteRef* target;             // the peer's object, a netref of this connection; null: promise
  std::span<const std::string> names;  // none: CALL; one: CALLATTR; more: CALLCHAIN
  std::span<const Value> args;
  Kwargs& kwargs;  // taken by the encoding
  std::uint32_t promise = 0;  // without a target: the result of our request promise (feature `pipeline`)

  Handler handler() const noexcept {
    return names.empty() ? Handler::call : names.size() == 1 ? Handler::callattr : Handler::callchain;
  }
};

/// What a request carries after its handler: Args to box, or a call spelled out.
struct RequestBody {
  Args* args = nullptr;  // dropped (cleared) once sent, before a sync request waits
  const CallSpec* call = nullptr;
  std::span<Value> release_after_send = {};  // the call's arguments, when the caller gives them up
  bool keep = false;  // ask the peer to keep the result for pipelining (pipeline_keep_bit)
  // >= 0: sent wrapped in DEADLINE to a peer that listed `deadline`. An async request's own
  // timeout on the way in (async_request turns it into the deadline that travels).
  std::int64_t deadline_ms = -1;
};

/// A call's timeout (request_context.cpp): how long to wait, and what travels to the peer.
struct CallTimeout {
  std::chrono::milliseconds wait;  // negative: forever
  std::int64_t travel_ms;          // the DEADLINE to send; -1: none
};
/// own, else fallback (which travels only when fallback_travels), bounded by what is left of
/// the request this thread serves (RequestContext::current()), which then always travels.
CallTimeout call_timeout(std::optional<std::chrono::milliseconds> own, std::chrono::milliseconds fallback,
                         bool fallback_travels) noexcept;

/// What read_fast read of a message's head.
struct FastMessage {
  MsgType type = MsgType::request;
  std::uint32_t seq = 0;
  std::int64_t handler = 0;  // requests only
};

/// A decoded message envelope.
struct Message {
  MsgType type;
  std::uint32_t seq;
  Value body;
};

/// One served request in config.served_metrics: timed from its start to its reply being
/// ready (finish, called before the reply is sent, so a peer that has the reply sees the
/// count). Does nothing without metrics; a request that never finishes is not counted.
class MeasuredRequest {
 public:
  explicit MeasuredRequest(CallMetrics* metrics) noexcept : metrics_(metrics) {
    if (metrics_ != nullptr) {
      slot_ = metrics_->other_slot();
      started_ = std::chrono::steady_clock::now();
    }
  }
  MeasuredRequest(const MeasuredRequest&) = delete;
  MeasuredRequest& operator=(const MeasuredRequest&) = delete;
  /// Carries the measurement to a deferred reply (finish_deferred); other is left finished.
  MeasuredRequest(MeasuredRequest&& other) noexcept
      : metrics_(std::exchange(other.metrics_, nullptr)), slot_(other.slot_), started_(other.started_) {}
  /// Where run_handler writes the method's slot; null without metrics.
  std::size_t* slot_out() noexcept { return metrics_ != nullptr ? &slot_ : nullptr; }
  /// Counts the request once, failed with error_class (CallMetrics::no_error: it did not).
  void finish(std::size_t error_class) noexcept {
    if (metrics_ != nullptr) record(error_class);
  }

 private:
  CallMetrics* metrics_;
  std::size_t slot_ = 0;
  std::chrono::steady_clock::time_point started_{};

  void record(std::size_t error_class) noexcept {
    metrics_->record(slot_, error_class, std::chrono::steady_clock::now() - started_);
    metrics_ = nullptr;
  }
};

class LivenessWatch;  // liveness.cpp

struct ConnectionImpl {
  ConnectionImpl(std::unique_ptr<Channel> ch, ObjectPtr root, ConnectionConfig cfg);

  Connection* self = nullptr;        // the owning Connection (set by create)
  std::unique_ptr<Channel> channel;
  ObjectPtr local_root;               // guarded by tables_mutex once serving: closing drops it
  const Object* const root_identity;  // local_root's address, for comparing only (never read)
  ConnectionConfig config;
  const ConnectionId connection_id;
  std::atomic<Generation> generation;
  std::atomic<bool> generation_known;

  // --- state: the connection's life, pending calls, the reader role. Guarded by state_mutex.
  mutable std::mutex state_mutex;
  std::condition_variable state_cv;  // a reply was delivered, the reader left, or we closed
  detail::ConnectionState state;     // Open | Closing | Closed; state.open() is lock-free
  detail::PendingCalls pending;
  detail::ServingRequests serving;   // the peer's requests in service
  bool reader_busy = false;          // one thread reads frames at a time
  std::uint64_t frames_processed = 0;  // bumps on every frame (serve() waits on it)
  std::function<void(Connection&)> close_handler;
  std::string stale_reason;  // set by mark_stale: later uses throw StaleReference
  std::weak_ptr<RemoteRef> remote_root;

  // --- tables of references. Guarded by tables_mutex.
  mutable std::mutex tables_mutex;
  detail::LentTable lent;
  detail::ImportTable imports;

  // --- sending. The channel queues frames and writes them without waiting; releases
  // queued by destructors wait in dels until the next frame (or their own flush) takes them.
  std::mutex dels_mutex;
  std::vector<std::pair<IdPack, std::uint64_t>> dels;  // queued releases
  std::atomic<bool> dels_waiting{false};
  std::function<void()> writer_wanted_handler;  // set before serving; read-only after
  std::atomic<bool> flush_scheduled{false};     // the flush timer will flush deferred requests
  detail::Timer flush_timer;  // made by the first schedule_flush; armed while flush_scheduled
  std::shared_ptr<detail::LivenessWatch> liveness;  // set by create if the config asks; ends with us
  std::vector<std::uint32_t> result_releases;  // guarded by dels_mutex: our kept results to let go
  std::atomic<std::size_t> releases_queued{0};  // result_releases.size(), read without the lock

  // --- pipelining (feature `pipeline`): the peer's results we keep. Own lock.
  detail::AnswerTable answers{config.max_pipelined_results};

  std::vector<std::uint8_t> recv_buffer;  // owned by whoever holds the reader role
  detail::PingLimiter ping_limiter;        // the peer's PINGs; used under the reader role

  std::function<void()> reader_released_handler;  // set before serving; read-only after
  std::string peer_identity;                       // set before serving; read-only after
  std::atomic<std::size_t> running_handlers{0};

  std::atomic<bool> peer_netref{false};
  std::atomic<std::uint32_t> peer_features{0};  // bit per Feature the peer listed in hello; only ever set
  bool peer_has(Feature feature) const noexcept {
    return (peer_features.load(std::memory_order_acquire) & (1u << static_cast<unsigned>(feature))) != 0;
  }
  /// The features this build lists, as hello's third item.
  static Value our_features();
  std::atomic<std::uint64_t> frames_in{0}, frames_out{0}, late_replies{0}, requests_served{0};
  std::atomic<std::uint64_t> bytes_in{0}, bytes_out{0};

  // connection.cpp
  /// Issues a seq for call; in_flight (if given) gets how many calls await replies, call
  /// included.
  std::uint32_t register_call(const std::shared_ptr<detail::PendingCall>& call, std::size_t* in_flight = nullptr);
  void forget_call(std::uint32_t seq);
  /// A sync request: sends, waits for the reply and returns it or throws its error.
  Value sync_request(Handler handler, detail::RequestBody body, std::optional<std::chrono::milliseconds> timeout);
  /// Counts a settled async call in config.call_metrics (its slot is set).
  void record_async(const detail::PendingCall& call, const std::exception_ptr& error) noexcept;
  /// sync_request without counting it in config.call_metrics.
  Value sync_request_unmeasured(Handler handler, detail::RequestBody body,
                                std::optional<std::chrono::milliseconds> timeout);
  AsyncResult async_request(Handler handler, detail::RequestBody body);
  /// A request nobody waits for: flagged one-way to a peer that listed `oneway`, else an
  /// ordinary request whose reply is dropped (counted in late_replies). Never waits on the peer
  /// beyond handing the bytes to the transport.
  void oneway_request(Handler handler, detail::RequestBody body);
  /// Settles call with error here (cancel, local expiry) unless its reply already did; its
  /// seq is forgotten, so the reply, if it comes, is dropped as late. True if it settled it.
  bool settle_locally(const std::shared_ptr<detail::PendingCall>& call, std::exception_ptr error);
  /// Runs a settled call's then-callbacks on this thread (no lock held, reader role released).
  void run_then_callbacks(const std::shared_ptr<detail::PendingCall>& call,
                          std::vector<std::function<void(const AsyncResult&)>>& callbacks);
  /// Records the features the peer listed in hello.
  void note_peer_features(const Value& features) noexcept;
  /// defer: queue the request without writing (it leaves with the next flush).
  void send_request(Handler handler, detail::RequestBody body, std::uint32_t seq, bool defer = false);
  /// Makes sure deferred requests leave within config.request_batch_delay.
  void schedule_flush();
  /// The timer's flush of deferred requests.
  void deferred_flush() noexcept;
  /// Queues frame and writes what goes now; never waits on the peer. Bytes the transport
  /// does not take are carried by whoever reads next, or by a reactor (output_blocked).
  void send_frame(const std::vector<std::uint8_t>& frame, bool defer = false);
  /// The same for a message that may have a gathered part.
  void send_frame(const detail::FrameBuffer& frame, bool defer = false);
  /// send_frame's work: the message in parts, size bytes in all.
  void send_parts(std::span<const std::span<const std::uint8_t>> parts, std::size_t size, bool defer);
  /// Moves the queued releases (DELs) onto the channel's queue, as frames.
  void take_dels();
  /// The transport is full: tells the reactor watching this connection, if there is one.
  void output_blocked() noexcept;
  void queue_del(const IdPack& id, std::uint64_t count) noexcept;
  bool wait_for(const std::shared_ptr<detail::PendingCall>& call,
                std::chrono::steady_clock::time_point deadline);
  /// wait_for's part while another thread holds the reader role: writes what is queued,
  /// waiting at most a short slice for room or for news.
  void drain_while_another_reads(std::chrono::steady_clock::time_point deadline);
  bool serve_once(std::chrono::steady_clock::time_point deadline);
  bool read_one(std::chrono::steady_clock::time_point deadline, bool notify = true);
  /// The one failure path: reason, or when none is given, the one error's type says.
  void fail(std::exception_ptr error, std::optional<CloseReason> reason = std::nullopt) noexcept;
  /// Completes the call seq; with role, gives the reader role back in the same step.
  void deliver(std::uint32_t seq, Value value, std::exception_ptr error, detail::ReaderRole* role = nullptr);
  [[noreturn]] void throw_closed() const;         // takes state_mutex
  [[noreturn]] void throw_closed_locked() const;  // state_mutex held

  // boxing.cpp
  detail::Message decode_message(std::span<const std::uint8_t> frame);
  /// Throws GenerationMismatch when a frame starting with first_byte is in the other
  /// generation's envelope than the one this connection speaks.
  void check_peer_generation(std::uint8_t first_byte) const;
  void begin_message(std::vector<std::uint8_t>& out, MsgType type, std::uint32_t seq) const;
  void box_args(std::span<const Value> args, std::vector<std::uint8_t>& out, std::vector<const Object*>& lent_now);
  /// A call's arguments as the peer unboxes them: (target, name or names, args, kwargs).
  void box_call(const detail::CallSpec& call, std::vector<std::uint8_t>& out, std::vector<const Object*>& lent_now);
  void lend(const ObjectPtr& object, std::vector<std::uint8_t>& out, std::vector<const Object*>& lent_now);
  void lend_forwarded(const RemoteRefPtr& ref, std::vector<std::uint8_t>& out, std::vector<const Object*>& lent_now);
  static void put_lent_ref(const Object& object, std::uint64_t id, std::vector<std::uint8_t>& out);
  void box(const Value& v, std::vector<std::uint8_t>& out, std::vector<const Object*>& lent_now);
  void rollback_lends(const std::vector<const Object*>& lent_now) noexcept;
  Value unbox(Value&& boxed);
  ObjectPtr lookup_lent(const Value& id_pack);
  ObjectPtr lookup_lent(std::string_view type_name, std::uint64_t object_id);
  // What a returned id stands for as a value: the object, or the netref a forwarder forwards.
  Value lent_value(const Value& id_pack);
  Value lent_value(std::string_view type_name, std::uint64_t object_id);
  RemoteRefPtr import_ref(const Value& id_pack);
  RemoteRefPtr import_ref(IdPack id);
  /// Fills in the references a BoxedReader recorded, in wire order, as unbox would have.
  void resolve(std::span<const detail::RefSlot> refs);
  /// read_one's fast way in: a request (into msg and args) or a reply (into value) read
  /// whole by reader, references recorded but not resolved. False, having changed nothing,
  /// for anything else: decode_message then takes the message the general way.
  bool read_fast(detail::BoxedReader& reader, detail::FastMessage& msg, Value& value, Args& args);
  /// The peer released count references: the object, when that was its last (the caller
  /// lets it go where user code may run).
  ObjectPtr release_lent(const Value& id_pack, std::uint64_t count);

  // pipeline/pipelining.cpp
  /// Our request seq's result, kept by the peer, is not needed any more: RELEASE_RESULTS
  /// leaves with the next frame or flush. Never blocks or throws.
  void queue_result_release(std::uint32_t seq) noexcept;
  /// After an async request the peer keeps (RequestBody::keep): its release when call goes.
  void keep_token(detail::PendingCall& call);
  /// The promise a request names as its target, taken out of request_args (its slot left
  /// None): nullopt when it names none. Throws RemoteError for a promise anywhere else.
  /// wrapped: the request is a DEADLINE, whose third argument holds the inner arguments.
  std::optional<std::uint32_t> take_promise(detail::RequestArgs& request_args, bool wrapped);
  /// RELEASE_RESULTS from the peer (under the reader role): the answers let go, for the
  /// caller to drop once the reader role is given back.
  std::vector<std::shared_ptr<detail::Answer>> serve_release_results(Value& body);
  /// Our kept result seq (a PendingCall's `kept`) is not needed any more.
  static void release_kept(const std::weak_ptr<Connection>& connection, std::uint32_t seq) noexcept;
  /// Runs the calls waiting on answer, and on theirs in turn, in arrival order.
  void drain(std::shared_ptr<detail::Answer> answer);
  /// A pipelined call on target's pending result (AsyncResult's state is ours to read).
  static AsyncResult pipelined_async(const AsyncResult& target, std::span<const std::string> names,
                                     std::span<const Value> args, Kwargs kwargs,
                                     std::optional<std::chrono::milliseconds> timeout);
  static Value pipelined_sync(const AsyncResult& target, std::span<const std::string> names, std::span<Value> args,
                              Kwargs kwargs, std::optional<std::chrono::milliseconds> timeout);
  static bool pipelinable(const AsyncResult& target) noexcept;
  static AsyncResult failed_result(const AsyncResult& like, std::exception_ptr error);

  // dispatch.cpp
  /// A request's second half: runs it (args ready, or args_error), answers, settles own.
  /// registered: the context serve_request made and CANCEL reaches; null for a pipelined
  /// call, which gets one of its own here.
  void finish_request(std::uint32_t seq, Handler handler, bool oneway, Args& args, std::exception_ptr args_error,
                      const std::shared_ptr<detail::Answer>& own, const detail::RequestDeadline& deadline,
                      RequestContext* registered);
  /// finish_request's body (dispatch.cpp), inlined into serve_request.
  /// Registered: 1 when registered is never null (serve_request's own); where: what
  /// serving.begin returned, or ServingRequests::kUnknown.
  template <int Registered>
  [[gnu::always_inline]] inline void finish_request_body(std::uint32_t seq, Handler handler, bool oneway, Args& args,
                                                         std::exception_ptr args_error,
                                                         const std::shared_ptr<detail::Answer>& own,
                                                         const detail::RequestDeadline& deadline,
                                                         RequestContext* registered, std::size_t where);
  void handle_request(std::uint32_t seq, Value&& body, detail::ReaderRole& role);
  /// A request past its special handlers (CLOSE, DEL): checks, unboxes, runs and answers.
  void serve_request(std::uint32_t seq, std::int64_t number, detail::RequestArgs request_args,
                     detail::ReaderRole& role);
  /// The request's arguments, ready for the handler: the reader's own vector (references
  /// resolved), or the general decoder's unboxed into `unboxed`.
  Args& take_args(detail::RequestArgs& request_args, Args& unboxed);
  /// A handler returned a DeferredResult: the reply goes out when it settles.
  void defer_reply(std::uint32_t seq, std::shared_ptr<DeferredResult> deferred, bool oneway, const char* context,
                   detail::MeasuredRequest measured, std::shared_ptr<detail::Answer> own);
  /// The settled deferred result of request seq: settles own (a kept result), then its reply
  /// (or, one-way, its count); ends seq. The caller drains own after.
  void finish_deferred(std::uint32_t seq, bool oneway, const char* context, detail::MeasuredRequest& measured,
                       Value value, std::exception_ptr error, const std::shared_ptr<detail::Answer>& own) noexcept;
  bool serve_special(std::uint32_t seq, Handler handler, Value& body, detail::ReaderRole& role);
  /// Counts a PING of the peer; false when it was one too many and the connection closed.
  bool admit_ping();
  /// Runs a request; when slot is given, sets it to the served_metrics slot of the root
  /// attribute the request names (left alone for anything else).
  Value run_handler(Handler handler, Args& args, std::size_t* slot = nullptr);
  void intercept(Handler handler, const Object* target, std::string_view attribute);
  ObjectPtr walk_chain(ObjectPtr start, const Args& names, std::size_t steps);
  /// Encodes the reply into frame (cleared first); a large bytes or str result is gathered.
  void encode_reply(std::uint32_t seq, const Value& result, detail::FrameBuffer& frame);
  void send_reply(std::uint32_t seq, const Value& result);
  /// Sends error as the reply to seq, finishing measured (if given) with its class first.
  void send_exception(std::uint32_t seq, std::exception_ptr error, std::string_view context,
                      detail::MeasuredRequest* measured = nullptr) noexcept;
  /// info with what config says the peer gets: our traceback or "<traceback denied>", and
  /// `_remote_version`.
  ExceptionInfo for_peer(ExceptionInfo info) const;

  // request_context.cpp: deadlines and cancellation
  /// A DEADLINE request's (timeout_ms, handler, args): args becomes the inner arguments,
  /// number the inner handler, deadline its arrival plus the timeout; returns the timeout.
  /// Throws TypeError or ValueError for a malformed one.
  std::chrono::milliseconds unwrap_deadline(Args& args, std::int64_t& number,
                                            std::chrono::steady_clock::time_point& deadline);
  /// CANCEL: stops the request it names if it is in service; no reply unless malformed.
  void serve_cancel(std::uint32_t seq, detail::RequestArgs& request_args, detail::ReaderRole& role);
  /// Tells a peer that listed `cancel` to stop its request target_seq; nothing otherwise.
  void send_cancel(std::uint32_t target_seq) noexcept;
  /// settle_locally, and when that settled it, send_cancel for its seq.
  bool cancel_call(const std::shared_ptr<detail::PendingCall>& call, std::exception_ptr error);
  /// Sets call's expiry to timeout from now and arms its timer: at expiry the call settles
  /// with Timeout (and is cancelled), whether or not anyone waits on it.
  void arm_expiry(const std::shared_ptr<detail::PendingCall>& call, std::chrono::milliseconds timeout);

  // logging: events go to config.log, else the process-wide handler
  bool log_wanted() const noexcept { return detail::log_wanted(config.log); }
  void log(LogLevel level, std::string_view message) const noexcept { detail::log(config.log, level, message, connection_id); }
  /// "conn7 closed (frame): ...": info for a normal end, warning for a broken one.
  void log_close(CloseReason reason, const std::exception_ptr& error) const noexcept;
  /// From a catch block: "conn7: <where> threw: <what>", at level.
  void log_current_exception(LogLevel level, std::string_view where) const noexcept;
};

/// Encodes an id_pack as brine (type name, type id, object id).
void encode_id_pack(const IdPack& id, std::vector<std::uint8_t>& out);
/// Parses a brine id_pack value; throws ProtocolError on a wrong shape.
IdPack parse_id_pack(const Value& v);
/// Appends a brine tuple header for n items.
void encode_tuple_header(std::size_t n, std::vector<std::uint8_t>& out);
/// Integer of a Value, or throws ProtocolError naming what.
std::int64_t expect_int(const Value& v, const char* what);
/// A uint64 that may have travelled as a BigInt.
std::uint64_t expect_u64(const Value& v, const char* what);
}  // namespace detail

}  // namespace netref
