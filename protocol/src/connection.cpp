// Connection: requests out, frames in, waiting, and the one failure path.
#include "netref/protocol/connection.hpp"

#include <atomic>
#include <string>
#include <utility>

#include "connection_impl.hpp"
#include "liveness.hpp"
#include "netref/protocol/brine.hpp"
#include "netref/protocol/detail/wait_observer.hpp"
#include "netref/protocol/request_context.hpp"
#include "wire/messages.hpp"

namespace netref {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto forever = Clock::time_point::max();

// The connection whose batch of requests this thread is serving (serve_available): its
// replies are queued and leave together when the batch is done.
thread_local const detail::ConnectionImpl* corked_connection = nullptr;
// Inside serve_available: this thread belongs to a reactor and never waits for room to send.
thread_local int reactor_depth = 0;
// Deferred requests past this many bytes leave at once rather than wait for the timer.
constexpr std::size_t kBatchBytes = 64u << 10;
std::atomic<std::uint64_t> connection_counter{0};

Clock::time_point deadline_after(std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) return forever;
  return Clock::now() + timeout;
}

const char* handler_name(Handler h) {
  switch (h) {
    case Handler::ping: return "PING";
    case Handler::close: return "CLOSE";
    case Handler::getroot: return "GETROOT";
    case Handler::getattr: return "GETATTR";
    case Handler::delattr: return "DELATTR";
    case Handler::setattr: return "SETATTR";
    case Handler::call: return "CALL";
    case Handler::callattr: return "CALLATTR";
    case Handler::repr: return "REPR";
    case Handler::str: return "STR";
    case Handler::cmp: return "CMP";
    case Handler::hash: return "HASH";
    case Handler::dir: return "DIR";
    case Handler::pickle: return "PICKLE";
    case Handler::del: return "DEL";
    case Handler::inspect: return "INSPECT";
    case Handler::buffiter: return "BUFFITER";
    case Handler::oldslicing: return "OLDSLICING";
    case Handler::ctxexit: return "CTXEXIT";
    case Handler::instancecheck: return "INSTANCECHECK";
    case Handler::hello: return "HELLO";
    case Handler::callchain: return "CALLCHAIN";
    case Handler::getchain: return "GETCHAIN";
    case Handler::del_batch: return "DEL_BATCH";
    case Handler::release_results: return "RELEASE_RESULTS";
    case Handler::deadline: return "DEADLINE";
    case Handler::cancel: return "CANCEL";
  }
  return "UNKNOWN";
}

}  // namespace

namespace detail {
void ReaderRole::release(bool frame_served) noexcept {
  if (held_) {
    {
      std::lock_guard lk(impl_.state_mutex);
      release_locked(frame_served);
    }
    impl_.state_cv.notify_all();
  }
  after_release();
}

void ReaderRole::release_locked(bool frame_served) noexcept {
  if (!held_) return;
  held_ = false;
  impl_.reader_busy = false;
  if (frame_served) ++impl_.frames_processed;
  handler_due_ = true;
}

void ReaderRole::after_release() noexcept {
  if (!handler_due_) return;
  handler_due_ = false;
  if (notify_ && impl_.reader_released_handler) {
    try {
      impl_.reader_released_handler();
    } catch (...) {
      // a scheduler's failure must not become this reader's
      impl_.log_current_exception(LogLevel::error, "the server's reader-released hook");
    }
  }
}

const char* handler_display_name(Handler h) { return handler_name(h); }
}  // namespace detail

detail::ConnectionImpl::ConnectionImpl(std::unique_ptr<Channel> ch, ObjectPtr root, ConnectionConfig cfg)
    : channel(std::move(ch)),
      local_root(std::move(root)),
      root_identity(local_root.get()),
      config(std::move(cfg)),
      connection_id(static_cast<ConnectionId>(++connection_counter)),
      generation(config.generation.value_or(Generation::v6)),
      generation_known(!config.detect_generation),
      pending(0),
      ping_limiter(config.max_pings_per_second, config.ping_strikes) {
  if (config.name.empty()) config.name = "conn" + std::to_string(static_cast<std::uint64_t>(connection_id));
}

std::shared_ptr<Connection> Connection::create(std::unique_ptr<Channel> channel, ObjectPtr local_root,
                                               ConnectionConfig config) {
  auto impl = std::make_unique<detail::ConnectionImpl>(std::move(channel), std::move(local_root), std::move(config));
  auto* raw = impl.get();
  std::shared_ptr<Connection> conn(new Connection(std::move(impl)));
  raw->self = conn.get();
  raw->liveness = detail::watch_liveness(conn);
  return conn;
}

Connection::Connection(std::unique_ptr<detail::ConnectionImpl> impl) : impl_(std::move(impl)) {}

Connection::~Connection() { close(); }

// ---------------------------------------------------------------------------------------------
// Requests out

std::uint32_t detail::ConnectionImpl::register_call(const std::shared_ptr<detail::PendingCall>& call, std::size_t* in_flight) {
  std::lock_guard lk(state_mutex);
  if (!state.open()) throw_closed_locked();
  const std::uint32_t seq = pending.add(call);
  if (in_flight != nullptr) *in_flight = pending.size();
  return seq;
}

void detail::ConnectionImpl::forget_call(std::uint32_t seq) {
  std::lock_guard lk(state_mutex);
  pending.forget(seq);
}

void detail::ConnectionImpl::send_request(Handler handler, detail::RequestBody body, std::uint32_t seq, bool defer) {
  detail::FrameBuffer buffer;
  auto& frame = buffer.bytes;
  std::vector<const Object*> lent_now;
  try {
    detail::GatherScope gather(buffer);  // a large argument goes out from where it lies
    const auto number = static_cast<std::int64_t>(handler) | (body.keep ? pipeline_keep_bit : 0);
    const Generation gen = generation.load(std::memory_order_relaxed);
    if (body.deadline_ms >= 0 && peer_has(Feature::deadline)) {
      detail::wire::encode_deadline_head(gen, seq, body.deadline_ms, number, frame);  // a keep bit rides inside
    } else {
      detail::wire::encode_request_head(gen, seq, number, frame);
    }
    if (body.call != nullptr) {
      box_call(*body.call, frame, lent_now);
    } else {
      box_args(*body.args, frame, lent_now);
    }
  } catch (...) {
    rollback_lends(lent_now);
    throw;
  }
  send_frame(buffer, defer);
}

void detail::ConnectionImpl::send_frame(const std::vector<std::uint8_t>& frame, bool defer) {
  const std::span<const std::uint8_t> whole(frame);
  send_parts(std::span<const std::span<const std::uint8_t>>(&whole, 1), frame.size(), defer);
}

void detail::ConnectionImpl::send_frame(const detail::FrameBuffer& frame, bool defer) {
  if (frame.gathered.empty()) return send_frame(frame.bytes, defer);
  const std::span<const std::uint8_t> bytes(frame.bytes);
  const std::span<const std::uint8_t> parts[3] = {bytes.first(frame.gathered_at), frame.gathered,
                                                  bytes.subspan(frame.gathered_at)};
  send_parts(parts, frame.size(), defer);
}

void detail::ConnectionImpl::send_parts(std::span<const std::span<const std::uint8_t>> parts, std::size_t size,
                                  bool defer) {
  try {
    if (!state.open()) throw_closed();
    if (dels_waiting.load(std::memory_order_acquire)) take_dels();  // they leave with this frame
    Flush flushed = Flush::busy;
    // A reply waits only while the next request is already buffered (it leaves with that
    // one's reply), and a deferred request for the next flush; a large frame goes now,
    // straight from its buffer: batching it saves no write, queuing it costs a copy.
    const bool batch = defer || (corked_connection == this && channel->frame_waiting());
    if (batch && size < kBatchBytes) {
      channel->enqueue(parts);
    } else {
      flushed = channel->send_nowait(parts);
    }
    frames_out.fetch_add(1, std::memory_order_relaxed);
    bytes_out.fetch_add(size, std::memory_order_relaxed);
    if (flushed == Flush::blocked) output_blocked();
  } catch (const ConnectionClosed&) {
    fail(std::current_exception());
    throw_closed();
  } catch (const BudgetExceeded&) {
    fail(std::current_exception(), CloseReason::budget);
    throw_closed();
  }
}

void detail::ConnectionImpl::schedule_flush() {
  if (flush_scheduled.exchange(true, std::memory_order_acq_rel)) return;
  // Only the thread that set flush_scheduled gets here, and the timer's clearing it orders
  // this with the previous one: made once, on the first deferred flush, by one thread.
  if (!flush_timer) {
    flush_timer = detail::Timer(detail::shared_timer_queue(),
                                [weak = std::weak_ptr<Connection>(self->shared_from_this())] {
                                  if (auto conn = weak.lock()) conn->impl_->deferred_flush();
                                });
  }
  flush_timer.arm(Clock::now() + config.request_batch_delay);
}

void detail::ConnectionImpl::deferred_flush() noexcept {
  flush_scheduled.store(false, std::memory_order_release);
  try {
    take_dels();  // releases of kept results wait for this, or for a batch of them
    if (channel->flush() == Flush::blocked) output_blocked();
  } catch (...) {
    fail(std::current_exception());
  }
}

void detail::ConnectionImpl::output_blocked() noexcept {
  // A reactor watches for room; without one, whoever reads this connection next writes the
  // rest while it waits (Channel::receive_some), and an async caller waits for room itself.
  if (!writer_wanted_handler) return;
  try {
    writer_wanted_handler();
  } catch (...) {
    // a scheduler's failure must not become this sender's
    log_current_exception(LogLevel::error, "the server's writer-wanted hook");
  }
}

void detail::ConnectionImpl::take_dels() {
  std::vector<std::pair<IdPack, std::uint64_t>> batch;
  std::vector<std::uint32_t> releases;
  {
    std::lock_guard lk(dels_mutex);
    batch.swap(dels);
    releases.swap(result_releases);
    releases_queued.store(0, std::memory_order_relaxed);
    dels_waiting.store(false, std::memory_order_release);
  }
  if ((batch.empty() && releases.empty()) || !state.open()) return;
  auto next_fire_and_forget_seq = [this] {
    std::lock_guard lk(state_mutex);
    return pending.issue_unanswered();
  };
  std::vector<std::uint8_t> frame;
  const Generation gen = generation.load(std::memory_order_relaxed);
  if (!releases.empty()) {  // one-way, to a peer that listed `pipeline` (nobody else keeps results)
    detail::wire::encode_release_results(gen, next_fire_and_forget_seq(), releases, frame);
    channel->enqueue(frame);
    frames_out.fetch_add(1, std::memory_order_relaxed);
    frame.clear();
  }
  if (batch.empty()) return;
  if (peer_netref.load(std::memory_order_acquire)) {
    // One message for all of them; the peer sends no reply.
    detail::wire::encode_del_batch(gen, next_fire_and_forget_seq(), batch, frame);
    channel->enqueue(frame);
    frames_out.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (auto& [id, count] : batch) {
    frame.clear();
    detail::wire::encode_del(gen, next_fire_and_forget_seq(), id, count, frame);
    channel->enqueue(frame);
    frames_out.fetch_add(1, std::memory_order_relaxed);
  }
}

void detail::ConnectionImpl::queue_del(const IdPack& id, std::uint64_t count) noexcept {
  if (!state.open()) return;
  try {
    {
      std::lock_guard lk(dels_mutex);
      dels.emplace_back(id, count);
      dels_waiting.store(true, std::memory_order_release);
    }
    // Never wait: queue the DEL and write what goes now. In a batch being served it leaves
    // with the batch's replies.
    take_dels();
    if (corked_connection != this && channel->flush() == Flush::blocked) output_blocked();
  } catch (const BudgetExceeded&) {
    fail(std::current_exception(), CloseReason::budget);
  } catch (...) {
    fail(std::current_exception());
  }
}

namespace {
// This thread's last sync call, reused by its next one once nobody else holds it: a call
// allocates no PendingCall. (use_count 1 means no other copy exists, or can appear.)
std::shared_ptr<detail::PendingCall>& spare_sync_call() {
  thread_local std::shared_ptr<detail::PendingCall> spare;
  return spare;
}

std::shared_ptr<detail::PendingCall> take_sync_call() {
  auto& spare = spare_sync_call();
  if (spare && spare.use_count() == 1) return std::move(spare);
  return std::make_shared<detail::PendingCall>();
}

void recycle_sync_call(std::shared_ptr<detail::PendingCall> call) {
  if (call.use_count() != 1) return;
  call->reset();
  spare_sync_call() = std::move(call);
}
}  // namespace

Value Connection::sync_request(Handler handler, Args args,
                               std::optional<std::chrono::milliseconds> timeout) {
  return impl_->sync_request(handler, detail::RequestBody{&args, nullptr}, timeout);
}

AsyncResult Connection::async_request(Handler handler, Args args) {
  return impl_->async_request(handler, detail::RequestBody{&args, nullptr});
}

namespace {
// The attribute a request names, for its metrics label; empty when it names none.
std::string_view named_attribute(Handler handler, const detail::RequestBody& body) noexcept {
  if (body.call != nullptr) return body.call->names.empty() ? std::string_view() : std::string_view(body.call->names.back());
  if (body.args == nullptr || body.args->size() < 2) return {};
  const Value& name = (*body.args)[1];
  switch (handler) {
    case Handler::getattr:
    case Handler::setattr:
    case Handler::delattr:
    case Handler::callattr:
      if (const auto* s = name.get_if<std::string>()) return *s;
      return {};
    case Handler::getchain:
    case Handler::callchain:
      if (const auto* t = name.get_if<Tuple>(); t != nullptr && !t->items.empty()) {
        if (const auto* s = t->items.back().get_if<std::string>()) return *s;
      }
      return {};
    default:
      return {};
  }
}

// The class a failed call counts under: the remote class, or what a local failure is.
std::size_t error_class_of_current() noexcept {
  try {
    throw;
  } catch (const RemoteError& e) {
    return CallMetrics::error_class_of(e.class_name());
  } catch (const Timeout&) {
    return CallMetrics::error_class_of("TimeoutError");
  } catch (const ConnectionClosed&) {
    return CallMetrics::error_class_of("ConnectionError");
  } catch (...) {
    return CallMetrics::error_class_of("other");
  }
}
}  // namespace

void detail::ConnectionImpl::record_async(const detail::PendingCall& call, const std::exception_ptr& error) noexcept {
  std::size_t error_class = CallMetrics::no_error;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (...) {
      error_class = error_class_of_current();
    }
  }
  config.call_metrics->record(call.metric_slot, error_class, Clock::now() - call.sent_at);
}

Value detail::ConnectionImpl::sync_request(Handler handler, detail::RequestBody body,
                                     std::optional<std::chrono::milliseconds> timeout) {
  CallMetrics* metrics = config.call_metrics.get();
  if (metrics == nullptr) return sync_request_unmeasured(handler, body, timeout);
  const std::size_t slot = metrics->slot_of(named_attribute(handler, body));
  const auto started = Clock::now();
  try {
    Value result = sync_request_unmeasured(handler, body, timeout);
    metrics->record(slot, CallMetrics::no_error, Clock::now() - started);
    return result;
  } catch (...) {
    metrics->record(slot, error_class_of_current(), Clock::now() - started);
    throw;
  }
}

Value detail::ConnectionImpl::sync_request_unmeasured(Handler handler, detail::RequestBody body,
                                     std::optional<std::chrono::milliseconds> timeout) {
  // A pool thread about to wait on this peer gives its place to another worker, or is
  // refused here, before anything is sent, when the pool's bounds are reached.
  detail::ObservedWait observed(*self);
  // Releases of kept results leave with a sync request: its caller waits anyway.
  if (releases_queued.load(std::memory_order_relaxed) != 0) dels_waiting.store(true, std::memory_order_release);
  // The common call (no timeout of its own, outside a handler) skips call_timeout.
  detail::CallTimeout timing{config.sync_request_timeout, -1};
  if (timeout || config.send_default_deadline || detail::current_request != nullptr) {
    timing = detail::call_timeout(timeout, config.sync_request_timeout, config.send_default_deadline);
    body.deadline_ms = timing.travel_ms;
  }
  auto call = take_sync_call();
  const auto seq = register_call(call);
  try {
    send_request(handler, body, seq);
  } catch (...) {
    forget_call(seq);
    throw;
  }
  // Drop our references before a possibly long wait: a large argument's memory is free again
  // before the reply's is taken (allocation that stays level is not returned to the system
  // and faulted back in on every call).
  if (body.args != nullptr) body.args->clear();
  for (Value& v : body.release_after_send) v = Value();
  const auto wait = timing.wait;
  if (!wait_for(call, deadline_after(wait))) {
    forget_call(seq);
    send_cancel(seq);  // a netref peer that listed `cancel` may stop the handler
    throw Timeout(std::string("sync request ") + handler_name(handler) + " on " + config.name +
                  " timed out after " + std::to_string(wait.count()) + " ms");
  }
  const std::exception_ptr error = std::move(call->error);
  Value result = std::move(call->value);
  recycle_sync_call(std::move(call));
  if (error) std::rethrow_exception(error);
  return result;
}

AsyncResult detail::ConnectionImpl::async_request(Handler handler, detail::RequestBody body) {
  auto call = std::make_shared<detail::PendingCall>();
  if (CallMetrics* metrics = config.call_metrics.get()) {  // counted when its reply settles it
    call->metric_slot = metrics->slot_of(named_attribute(handler, body));
    call->sent_at = Clock::now();
  }
  // Its own timeout (RemoteRef::async_call_path's), else what is left of the request this
  // thread serves: travels as DEADLINE, and settles the call with Timeout at expiry.
  const auto own = body.deadline_ms >= 0 ? std::optional(std::chrono::milliseconds(body.deadline_ms)) : std::nullopt;
  const auto timing = detail::call_timeout(own, std::chrono::milliseconds(-1), false);
  body.deadline_ms = timing.travel_ms;
  std::size_t in_flight = 0;
  // The peer keeps the result of a call it may see pipelined calls on (feature `pipeline`).
  body.keep = body.call != nullptr && config.pipeline_async_calls && peer_has(Feature::pipeline);
  const auto seq = register_call(call, &in_flight);
  try {
    // Nagle's rule on messages: with other calls in flight the link is busy anyway, so the
    // request waits for the next flush (a wait or serve on this connection, another send, a
    // full batch, or the flush timer within request_batch_delay): pipelined calls leave
    // many to a write. Alone, it leaves now.
    const bool defer = in_flight > 1 && reactor_depth == 0 && config.request_batch_delay.count() > 0;
    send_request(handler, body, seq, defer);
    if (body.keep) keep_token(*call);  // the peer keeps it from now on: released when the call goes
    if (defer && channel->queued_bytes() < kBatchBytes) {
      schedule_flush();
    } else if (defer && channel->flush() == Flush::blocked) {
      output_blocked();
    }
    // A caller outside a reactor chose to send: it waits for room for what it may not leave
    // queued (its own request, or a full batch), so the queue stays bounded and its request
    // is out when it returns (nobody may read this connection for a while).
    const std::size_t may_leave = defer ? kBatchBytes : 1;
    if (reactor_depth == 0 && !writer_wanted_handler && channel->queued_bytes() >= may_leave) channel->flush_wait();
  } catch (const ConnectionClosed&) {
    forget_call(seq);
    fail(std::current_exception());
    throw_closed();
  } catch (...) {
    forget_call(seq);
    throw;
  }
  if (timing.wait.count() >= 0) arm_expiry(call, timing.wait);
  return AsyncResult(self->shared_from_this(), std::move(call));
}

void detail::ConnectionImpl::oneway_request(Handler handler, detail::RequestBody body) {
  std::uint32_t seq = 0;
  {
    std::lock_guard lk(state_mutex);
    if (!state.open()) throw_closed_locked();
    seq = pending.issue_unanswered();  // a reply, if one comes, is dropped as late
  }
  // A peer that listed `oneway` sends no reply; to any other (a Python peer) this is the
  // ordinary request, and its reply is dropped on arrival: nothing waits, nothing is kept.
  const bool flagged = peer_has(Feature::oneway);
  const auto sent = flagged ? static_cast<Handler>(static_cast<std::int64_t>(handler) | oneway_handler_bit) : handler;
  try {
    send_request(sent, body, seq);
    // Outside a reactor nobody may read this connection for a while: the request is out
    // when the call returns (as async_request does); a reactor writes the rest itself.
    if (reactor_depth == 0 && !writer_wanted_handler && channel->queued_bytes() > 0) channel->flush_wait();
  } catch (const ConnectionClosed&) {
    fail(std::current_exception());
    throw_closed();
  }
}

RemoteRefPtr Connection::root() {
  {
    std::lock_guard lk(impl_->state_mutex);
    if (auto cached = impl_->remote_root.lock()) return cached;
  }
  Value v = sync_request(Handler::getroot, {});
  auto* ref = v.get_if<RemoteRefPtr>();
  if (ref == nullptr) throw ProtocolError("GETROOT answered with " + std::string(v.type_name()) + ", not a netref");
  // Cached weakly: a strong handle here would be a cycle (the netref holds its connection).
  std::lock_guard lk(impl_->state_mutex);
  impl_->remote_root = *ref;
  return *ref;
}

bool Connection::negotiate_extensions() {
  if (!impl_->config.enable_extensions) return false;
  try {
    Value reply = sync_request(Handler::hello, {Value(Bytes{"netref"}), Value(extension_version),
                                                detail::ConnectionImpl::our_features()});
    auto* t = reply.get_if<Tuple>();
    bool ok = t != nullptr && !t->items.empty() && t->items[0] == Value(Bytes{"netref"});
    if (ok) {
      impl_->note_peer_features(t->items.size() > 2 ? t->items[2] : Value());
      impl_->peer_netref.store(true, std::memory_order_release);
    }
    return ok;
  } catch (const RemoteError&) {
    return false;  // a plain rpyc peer: unknown handler
  }
}

bool Connection::peer_is_netref() const noexcept { return impl_->peer_netref.load(std::memory_order_acquire); }

bool Connection::peer_has_oneway() const noexcept { return impl_->peer_has(Feature::oneway); }

bool Connection::peer_has(Feature feature) const noexcept { return impl_->peer_has(feature); }

Value detail::ConnectionImpl::our_features() {
  Tuple names;
  names.items.reserve(feature_names.size());
  for (auto name : feature_names) names.items.emplace_back(std::string(name));
  return Value(std::move(names));
}

void detail::ConnectionImpl::note_peer_features(const Value& features) noexcept {
  // Features are str; anything else in the list (or no list, from an older netref) is
  // ignored: a feature is used only when both sides named it.
  const auto* list = features.get_if<Tuple>();
  if (list == nullptr) return;
  std::uint32_t listed = 0;
  for (const auto& item : list->items) {
    const auto* name = item.get_if<std::string>();
    if (name == nullptr) continue;
    for (std::size_t i = 0; i < feature_names.size(); ++i) {
      if (*name == feature_names[i]) listed |= 1u << i;
    }
  }
  peer_features.fetch_or(listed, std::memory_order_acq_rel);
}

// ---------------------------------------------------------------------------------------------
// Serving: whoever waits, reads.

bool detail::ConnectionImpl::wait_for(const std::shared_ptr<detail::PendingCall>& call, Clock::time_point deadline) {
  std::unique_lock lk(state_mutex);
  // The clock is read only from the second turn on: the caller has just set the deadline,
  // and a read honours it by itself.
  for (bool first = true;; first = false) {
    if (call->done.load(std::memory_order_relaxed)) return true;
    if (!state.open()) return call->done.load(std::memory_order_relaxed);  // fail() completes every pending call
    if (!first && Clock::now() >= deadline) return false;
    if (!reader_busy) {
      reader_busy = true;
      lk.unlock();
      read_one(deadline);
      if (call->done.load(std::memory_order_acquire)) return true;  // most often our own reply
      lk.lock();
      continue;
    }
    if (channel->queued_bytes() != 0) {
      // Another thread reads, and may sit in a plain read that never writes: what we (or a
      // batch before us) queued must not wait on it. Write it, waiting for room meanwhile.
      lk.unlock();
      drain_while_another_reads(deadline);
      lk.lock();
      continue;
    }
    if (deadline == forever) {
      state_cv.wait(lk);
    } else {
      state_cv.wait_until(lk, deadline);
    }
  }
}

void detail::ConnectionImpl::drain_while_another_reads(Clock::time_point deadline) {
  constexpr std::chrono::milliseconds kSlice(10);  // then look at our call again
  try {
    const Flush flushed = channel->flush();
    if (flushed == Flush::done) return;
    channel->check_write_deadline();
    auto slice = kSlice;
    if (deadline != forever) {
      slice = std::min(slice, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
    }
    if (slice.count() <= 0) return;
    if (flushed == Flush::blocked) {
      channel->wait_writable(slice);
    } else {
      std::unique_lock lk(state_mutex);  // another writer: wait for news, briefly
      state_cv.wait_for(lk, slice);
    }
  } catch (...) {
    fail(std::current_exception());
  }
}

bool detail::ConnectionImpl::serve_once(Clock::time_point deadline) {
  std::unique_lock lk(state_mutex);
  const auto seen = frames_processed;
  for (;;) {
    if (!state.open()) throw_closed_locked();
    if (frames_processed != seen) return true;
    if (!reader_busy) {
      reader_busy = true;
      lk.unlock();
      bool served = read_one(deadline);
      if (!served) {
        std::lock_guard relock(state_mutex);
        if (!state.open()) throw_closed_locked();
      }
      return served;
    }
    if (deadline == forever) {
      state_cv.wait(lk);
    } else if (state_cv.wait_until(lk, deadline) == std::cv_status::timeout) {
      if (!state.open()) throw_closed_locked();
      return frames_processed != seen;
    }
  }
}

namespace {
// A request's argument vector, kept by this thread between requests: the handler borrows it,
// so a call allocates none. A nested read on the same thread (a callback served inside a
// handler) finds it taken and uses a vector of its own.
constexpr std::size_t kSpareArgsKept = 64;

Args& spare_args() {
  thread_local Args spare;
  return spare;
}

struct SpareArgs {
  Args args;
  SpareArgs() { args.swap(spare_args()); }
  ~SpareArgs() {
    args.clear();
    if (args.capacity() <= kSpareArgsKept && spare_args().capacity() == 0) args.swap(spare_args());
  }
  SpareArgs(const SpareArgs&) = delete;
  SpareArgs& operator=(const SpareArgs&) = delete;
};
}  // namespace

// Called holding the reader role (reader_busy set by the caller), without state_mutex.
bool detail::ConnectionImpl::read_one(Clock::time_point deadline, bool notify) {
  detail::ReaderRole role(*this, notify);
  enum class Stage { frame, message, bookkeeping } stage = Stage::frame;
  try {
    if (!channel->recv_until(recv_buffer, deadline)) {
      role.release(/*frame_served=*/false);
      return false;
    }
    frames_in.fetch_add(1, std::memory_order_relaxed);
    bytes_in.fetch_add(recv_buffer.size(), std::memory_order_relaxed);
    stage = Stage::message;
    detail::BoxedReader reader(recv_buffer, config.max_depth);
    detail::FastMessage fast;
    Value reply;
    SpareArgs spare;
    Args& args = spare.args;
    if (read_fast(reader, fast, reply, args)) {
      if (fast.type == MsgType::request) {
        stage = Stage::bookkeeping;
        serve_request(fast.seq, fast.handler, detail::RequestArgs{nullptr, &args, reader.refs(), reader.saw_promise()}, role);
      } else {
        resolve(reader.refs());  // as unbox would: a failure here closes the connection
        stage = Stage::bookkeeping;
        deliver(fast.seq, std::move(reply), nullptr, &role);
      }
      return true;
    }
    detail::Message msg = decode_message(recv_buffer);
    stage = Stage::bookkeeping;
    if (msg.type == MsgType::request) {
      handle_request(msg.seq, std::move(msg.body), role);
      return true;
    }
    if (msg.type == MsgType::reply) {
      stage = Stage::message;
      Value value = unbox(std::move(msg.body));
      stage = Stage::bookkeeping;
      deliver(msg.seq, std::move(value), nullptr, &role);
    } else {
      // The reader role goes back before then-callbacks run, on this path as on the fast
      // one: a callback may make a sync call on this connection.
      deliver(msg.seq, Value(), make_remote_exception(exception_codec::decode(msg.body), config.exceptions.get()), &role);
    }
    return true;
  } catch (const ProtocolError&) {
    static constexpr CloseReason kReason[] = {CloseReason::frame, CloseReason::message, CloseReason::reference};
    fail(std::current_exception(), kReason[static_cast<int>(stage)]);
    return true;
  } catch (const Timeout&) {
    fail(std::current_exception(), CloseReason::frame_timeout);
    return true;
  } catch (...) {
    fail(std::current_exception());
    return true;
  }
}

void detail::ConnectionImpl::deliver(std::uint32_t seq, Value value, std::exception_ptr error,
                               detail::ReaderRole* role) {
  std::shared_ptr<detail::PendingCall> call;
  std::vector<std::function<void(const AsyncResult&)>> callbacks;
  {
    std::lock_guard lk(state_mutex);
    call = pending.take(seq);
    if (call == nullptr) {
      // Issued by us earlier (timed out, or a fire-and-forget DEL): drop it, as RPyC does.
      if (pending.issued_earlier(seq)) {
        late_replies.fetch_add(1, std::memory_order_relaxed);
        return;  // value (and any netrefs in it) released outside the lock by our caller
      }
      throw ProtocolError("reply to seq " + std::to_string(seq) + ", which was never sent");
    }
    callbacks.swap(call->callbacks);
    if (call->metric_slot != detail::PendingCall::kUnmeasured) record_async(*call, error);
    call->complete(std::move(value), std::move(error));  // last: a waiter may take the call now
    if (role != nullptr) role->release_locked();
  }
  state_cv.notify_all();
  if (role != nullptr) role->after_release();
  run_then_callbacks(call, callbacks);
}

void detail::ConnectionImpl::run_then_callbacks(const std::shared_ptr<detail::PendingCall>& call,
                                                std::vector<std::function<void(const AsyncResult&)>>& callbacks) {
  if (callbacks.empty()) return;
  AsyncResult result(self->shared_from_this(), call);
  for (auto& cb : callbacks) {
    try {
      cb(result);
    } catch (...) {
      // A user callback's failure is the user's; it must not kill the connection.
      log_current_exception(LogLevel::error, "a then() callback");
    }
  }
}

bool detail::ConnectionImpl::settle_locally(const std::shared_ptr<detail::PendingCall>& call, std::exception_ptr error) {
  std::vector<std::function<void(const AsyncResult&)>> callbacks;
  {
    std::lock_guard lk(state_mutex);
    if (call->done.load(std::memory_order_relaxed)) return false;
    pending.forget(call->seq);  // its reply, if it comes, is late and dropped
    callbacks.swap(call->callbacks);
    if (call->metric_slot != detail::PendingCall::kUnmeasured) record_async(*call, error);
    call->complete(Value(), std::move(error));
  }
  state_cv.notify_all();
  run_then_callbacks(call, callbacks);
  return true;
}

bool Connection::serve(std::chrono::milliseconds timeout) { return impl_->serve_once(deadline_after(timeout)); }

namespace {
// Marks this thread as serving impl's batch for its lifetime: replies queue and the batch's
// end writes them (serve_available), and nothing on this thread waits for room to send.
class ReactorTurn {
 public:
  explicit ReactorTurn(const detail::ConnectionImpl& impl) : previous_(corked_connection) {
    corked_connection = &impl;
    ++reactor_depth;
  }
  ~ReactorTurn() {
    --reactor_depth;
    corked_connection = previous_;
  }
  ReactorTurn(const ReactorTurn&) = delete;
  ReactorTurn& operator=(const ReactorTurn&) = delete;

 private:
  const detail::ConnectionImpl* previous_;
};
}  // namespace

ServeStatus Connection::serve_available(std::size_t max_frames) {
  ReactorTurn turn(*impl_);
  // What earlier turns left queued goes first (the reactor saw room); then the replies of
  // the frames that arrived together, in one write when the last buffered one is served.
  const auto flush = [this]() -> bool {
    if (impl_->channel->queued_bytes() == 0) return true;  // the common case: nothing owed
    try {
      impl_->channel->flush();
      impl_->channel->check_write_deadline();
      return true;
    } catch (...) {
      impl_->fail(std::current_exception());
      return false;
    }
  };
  if (!flush()) return ServeStatus::closed;
  for (std::size_t served = 0;;) {
    if (impl_->channel->queued_bytes() > impl_->channel->config().max_send_queue_bytes) {
      return ServeStatus::blocked;  // backpressure: no more requests until the peer reads
    }
    {
      std::lock_guard lk(impl_->state_mutex);
      if (!impl_->state.open()) return ServeStatus::closed;
      if (impl_->reader_busy) return ServeStatus::busy;
      impl_->reader_busy = true;
    }
    Buffered buffered;
    {
      detail::ReaderRole role(*impl_, /*notify=*/false);
      try {
        // The turn's first look reads (the poller said readable); after a frame was served,
        // a short read of this turn has drained the socket, and the rest waits for the
        // poller: a peer answering at once does not keep this worker from the others.
        buffered = impl_->channel->read_available(impl_->recv_buffer,  // read_one's vector
                                                  served == 0 ? Refill::always : Refill::unless_drained);
      } catch (const ProtocolError&) {
        role.release(false);
        impl_->fail(std::current_exception(), CloseReason::frame);
        return ServeStatus::closed;
      } catch (...) {
        role.release(false);
        impl_->fail(std::current_exception());
        return ServeStatus::closed;
      }
      if (buffered != Buffered::frame || served == max_frames) {
        role.release(/*frame_served=*/false);
        if (!flush()) return ServeStatus::closed;
        if (buffered == Buffered::frame) return ServeStatus::more;
        return buffered == Buffered::partial ? ServeStatus::partial : ServeStatus::idle;
      }
      role.pass_on();  // to read_one, which serves the buffered frame
    }
    impl_->read_one(forever, /*notify=*/false);
    ++served;
    // Replies pile up only while more requests wait in the buffer; a large backlog goes now.
    if (impl_->channel->queued_bytes() > (64u << 10) && !flush()) return ServeStatus::closed;
  }
}

void Connection::set_writer_wanted_handler(std::function<void()> handler) {
  impl_->writer_wanted_handler = std::move(handler);
}

void Connection::set_next_seq(std::uint32_t seq) {
  std::lock_guard lk(impl_->state_mutex);
  impl_->pending.restart_at(seq);
}

void Connection::set_reader_released_handler(std::function<void()> handler) {
  impl_->reader_released_handler = std::move(handler);
}

void Connection::serve_all() {
  // A serving loop corks its connection as a reactor's turn does: the replies of requests
  // that arrived together are queued, and leave in one write when the loop next waits for
  // input (Channel::receive_some writes what is queued first).
  const detail::ConnectionImpl* previous = std::exchange(corked_connection, impl_.get());
  struct Uncork {
    const detail::ConnectionImpl* previous;
    ~Uncork() { corked_connection = previous; }
  } uncork{previous};
  try {
    while (!closed()) serve(std::chrono::milliseconds(-1));
  } catch (const ConnectionClosed&) {
    // the peer hung up, or we closed: the normal end of serving
  }
}

void Connection::ping(std::chrono::milliseconds timeout) {
  static const std::string payload = [] {
    std::string s;
    for (int i = 0; i < 20; ++i) s += "abcdefghijklmnopqrstuvwxyz";
    return s;
  }();
  Value echo = sync_request(Handler::ping, {Value(payload)}, timeout);
  auto* s = echo.get_if<std::string>();
  if (s == nullptr || *s != payload) throw ProtocolError("ping: echo mismatches sent data");
}

// ---------------------------------------------------------------------------------------------
// Closing: one path for every way a connection ends.

void Connection::close() noexcept {
  if (!impl_->state.open()) {
    impl_->fail(nullptr);  // closed already: returns once the close handler ran
    return;
  }
  try {
    // Tell the peer, as RPyC does (an async CLOSE request nobody waits for): queued, and
    // written if the transport takes it now. Never waits on the peer.
    std::vector<std::uint8_t> frame;
    std::uint32_t seq;
    {
      std::lock_guard lk(impl_->state_mutex);
      seq = impl_->pending.issue_unanswered();
    }
    detail::wire::encode_close(impl_->generation.load(std::memory_order_relaxed), seq, frame);
    impl_->channel->enqueue(frame);
    impl_->channel->flush();
  } catch (...) {
    // best effort
  }
  impl_->fail(std::make_exception_ptr(ConnectionClosed("connection closed locally")), CloseReason::local);
}

void Connection::abort(const std::string& why, CloseReason reason) noexcept {
  try {
    impl_->fail(std::make_exception_ptr(ConnectionClosed(why)), reason);
  } catch (...) {
    impl_->fail(nullptr, reason);
  }
}

void Connection::mark_stale(const std::string& why) noexcept {
  abort(why);  // returns once the close has run: calls in flight failed with ConnectionClosed
  try {
    std::lock_guard lk(impl_->state_mutex);
    impl_->stale_reason = why.empty() ? std::string("replaced by a new connection") : why;
  } catch (...) {  // out of memory for the text: later uses report ConnectionClosed
  }
}

namespace {
// The reason of a failure that did not say one: from the error's type.
CloseReason reason_of(const std::exception_ptr& error) noexcept {
  if (!error) return CloseReason::aborted;
  try {
    std::rethrow_exception(error);
  } catch (const BudgetExceeded&) {
    return CloseReason::budget;  // the process buffer budget refused a frame (docs/FAULTS.md B4)
  } catch (const ProtocolError&) {
    return CloseReason::protocol;
  } catch (const Timeout&) {
    return CloseReason::timeout;
  } catch (const WriteStalled&) {
    return CloseReason::write_stall;  // the peer stopped reading what we queued for it
  } catch (const ConnectionClosed&) {
    return CloseReason::peer;
  } catch (...) {
    return CloseReason::error;
  }
}
}  // namespace

void detail::ConnectionImpl::fail(std::exception_ptr error, std::optional<CloseReason> reason) noexcept {
  detail::PendingCalls::Map calls;
  detail::LentTable::Entries dropped;
  ObjectPtr dropped_root;
  std::function<void(Connection&)> handler;
  std::vector<std::pair<std::shared_ptr<detail::PendingCall>, std::vector<std::function<void(const AsyncResult&)>>>> woken;
  {
    std::unique_lock lk(state_mutex);
    if (!state.begin_close(reason.value_or(reason_of(error)), error)) {
      // Another thread is closing: return once it has run the close handler, so whoever
      // closes may count on that (a server lets its service go after closing). A close
      // handler that closes again runs on the closing thread, which must not wait.
      state_cv.wait(lk, [&] { return state.settled_for_this_thread(); });
      return;
    }
    calls = pending.take_all();
    handler.swap(close_handler);
    remote_root.reset();
    // Complete every waiter in the same step that marks the connection closed, so no waiter
    // can see "closed" with its call still open.
    std::exception_ptr closed_error;
    try {
      throw_closed_locked();
    } catch (...) {
      closed_error = std::current_exception();
    }
    for (auto& [seq, call] : calls) {
      woken.emplace_back(call, std::move(call->callbacks));
      if (call->metric_slot != detail::PendingCall::kUnmeasured) record_async(*call, closed_error);
      call->complete(Value(), closed_error);  // last: a waiter may take the call now
    }
  }
  try {
    channel->flush();  // what is queued and the transport takes now (a reply to a half-close)
  } catch (...) {
  }
  channel->close();  // wakes a reader blocked in another thread
  {
    std::lock_guard lk(tables_mutex);
    dropped = lent.take_all();
    imports.clear();
    // Nothing can reach the root any more; a root holding netrefs of this connection (a
    // stored callback) would otherwise keep the connection, and itself, alive for ever.
    dropped_root.swap(local_root);
  }
  {
    std::lock_guard lk(dels_mutex);
    dels.clear();
    result_releases.clear();
  }
  answers.close();  // kept results and the calls waiting on them
  state_cv.notify_all();
  for (auto& [call, callbacks] : woken) {
    if (callbacks.empty()) continue;
    try {
      AsyncResult result(self->shared_from_this(), call);
      for (auto& cb : callbacks) cb(result);
    } catch (...) {
      log_current_exception(LogLevel::error, "a then() callback");
    }
  }
  dropped.clear();  // the objects we lent may run user destructors: outside every lock
  dropped_root.reset();
  if (handler) {
    try {
      handler(*self);
    } catch (...) {
      log_current_exception(LogLevel::error, "the close handler");
    }
  }
  if (log_wanted()) log_close(reason.value_or(reason_of(error)), error);
  {
    std::lock_guard lk(state_mutex);
    state.finish_close();
  }
  state_cv.notify_all();
}

void detail::ConnectionImpl::log_close(CloseReason reason, const std::exception_ptr& error) const noexcept {
  try {
    std::string message = config.name + " closed (" + std::string(to_string(reason)) + ")";
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        message += ": ";
        message += e.what();
      } catch (...) {
      }
    }
    const bool normal = reason == CloseReason::local || reason == CloseReason::peer || reason == CloseReason::server_stop;
    log(normal ? LogLevel::info : LogLevel::warning, message);
  } catch (...) {
  }
}

void detail::ConnectionImpl::log_current_exception(LogLevel level, std::string_view where) const noexcept {
  if (!log_wanted()) return;
  try {
    std::string message = config.name + ": " + std::string(where) + " threw";
    try {
      throw;
    } catch (const std::exception& e) {
      message += ": ";
      message += e.what();
    } catch (...) {
    }
    log(level, message);
  } catch (...) {
  }
}

void detail::ConnectionImpl::throw_closed_locked() const {
  if (!stale_reason.empty()) throw StaleReference("connection " + config.name + " is stale: " + stale_reason);
  std::string reason = "closed";
  if (auto error = state.error()) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      reason = e.what();
    } catch (...) {
      reason = "unknown error";
    }
  }
  throw ConnectionClosed("connection " + config.name + " is closed: " + reason);
}

void detail::ConnectionImpl::throw_closed() const {
  std::unique_lock lk(state_mutex);
  throw_closed_locked();
}

bool Connection::closed() const noexcept { return !impl_->state.open(); }

std::optional<CloseReason> Connection::close_reason() const {
  std::lock_guard lk(impl_->state_mutex);
  return impl_->state.reason();
}

std::exception_ptr Connection::close_error() const {
  std::lock_guard lk(impl_->state_mutex);
  return impl_->state.error();
}

void Connection::set_close_handler(std::function<void(Connection&)> handler) {
  bool run_now = false;
  {
    std::lock_guard lk(impl_->state_mutex);
    if (impl_->state.closing_or_closed()) {
      run_now = true;
    } else {
      impl_->close_handler = std::move(handler);
    }
  }
  if (run_now && handler) handler(*this);
}

const ConnectionConfig& Connection::config() const noexcept { return impl_->config; }
Generation Connection::generation() const noexcept { return impl_->generation.load(); }
const std::string& Connection::name() const noexcept { return impl_->config.name; }
ConnectionId Connection::id() const noexcept { return impl_->connection_id; }

Connection::Traffic Connection::traffic() const noexcept {
  return Traffic{impl_->frames_in.load(std::memory_order_relaxed), impl_->frames_out.load(std::memory_order_relaxed),
                 impl_->bytes_in.load(std::memory_order_relaxed), impl_->bytes_out.load(std::memory_order_relaxed)};
}
Channel& Connection::channel() noexcept { return *impl_->channel; }
std::uint64_t Connection::frames_received() const noexcept { return impl_->frames_in.load(std::memory_order_relaxed); }
const std::string& Connection::peer_identity() const noexcept { return impl_->peer_identity; }
void Connection::set_peer_identity(std::string identity) { impl_->peer_identity = std::move(identity); }

ConnectionStats Connection::stats() const {
  ConnectionStats s;
  {
    std::lock_guard lk(impl_->state_mutex);
    s.pending_requests = impl_->pending.size();
  }
  {
    std::lock_guard lk(impl_->tables_mutex);
    s.lent_objects = impl_->lent.size();
    s.netrefs_held = impl_->imports.live();
  }
  s.frames_in = impl_->frames_in.load();
  s.frames_out = impl_->frames_out.load();
  s.late_replies = impl_->late_replies.load();
  s.requests_served = impl_->requests_served.load();
  s.running_handlers = impl_->running_handlers.load();
  s.bytes_in = impl_->bytes_in.load();
  s.bytes_out = impl_->bytes_out.load();
  s.queued_bytes = impl_->channel->queued_bytes();
  s.writes = impl_->channel->writes();
  s.pipelined_results = impl_->answers.kept();
  s.pipelined_waiting = impl_->answers.waiting();
  return s;
}

std::uint64_t Connection::lent_count(const Object& object) const {
  std::lock_guard lk(impl_->tables_mutex);
  return impl_->lent.count_of(object);
}

Connection* Connection::current() noexcept { return detail::current_connection; }

std::size_t Connection::lent_objects_in_process() noexcept {
  return detail::ProcessLentShare::total().load(std::memory_order_relaxed);
}

constinit thread_local Connection* detail::current_connection = nullptr;

}  // namespace netref
